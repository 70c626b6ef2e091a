"""The demo load stores its materials' pictures; each test keeps them in its own folder."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from siyu.content.storage import LocalStore, configure_store


@pytest.fixture(autouse=True)
def _demo_files(tmp_path: Path) -> Iterator[None]:
    configure_store(LocalStore(tmp_path / "files"))
    yield
    configure_store(None)
