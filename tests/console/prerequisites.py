"""What the console tests need besides Python: the built console, Node tools, Chromium.

`make test` provides all of them (`make console chromium`). A bare `pytest` on a
checkout without them skips these tests and says which command provides the piece; in
CI (the `CI` environment variable set) a missing piece fails the run instead, so CI can
never go green without having run the console tests.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "ui"
BUILT_CONSOLE = ROOT / "src" / "siyu" / "static" / "console" / "index.html"
OPENAPI_TYPESCRIPT = UI / "node_modules" / ".bin" / "openapi-typescript"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "console"


def require(present: bool, what: str, fix: str) -> None:
    if present:
        return
    message = f"{what} is missing: run `{fix}`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
