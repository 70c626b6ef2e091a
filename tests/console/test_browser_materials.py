"""Browser test of the materials library: an image uploaded in the console is listed.

Same setup as test_browser.py: the built console served by `siyu serve` on a SQLite file
with the demo brand, in Debian's Chromium.
"""

import io
import uuid
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.console import test_browser as base
from tests.console.test_browser import Served, shot

browser = base.browser
served = base.served
signed_in = base.signed_in


def test_an_uploaded_image_is_listed_with_its_thumbnail(
    signed_in: Page, served: Served, tmp_path: Path
) -> None:
    page = signed_in
    image = tmp_path / "store-front.png"
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "#2563EB").save(buffer, format="PNG")
    image.write_bytes(buffer.getvalue())
    title = f"门店照片{uuid.uuid4().hex[:4]}"

    page.goto(f"{served.url}/materials")
    expect(page.get_by_test_id("materials")).to_be_visible()
    page.get_by_test_id("new-image").click()
    page.get_by_test_id("material-file").set_input_files(str(image))
    page.get_by_test_id("material-title").locator("input").fill(title)
    page.locator(".t-dialog__footer .t-button--theme-primary").click()

    card = page.get_by_test_id("material-card").filter(has_text=title)
    expect(card).to_be_visible()
    expect(card.locator("img")).to_have_js_property("naturalWidth", 320)
    shot(page, "content-01-materials")
