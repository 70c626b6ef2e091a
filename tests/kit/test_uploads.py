import io
from pathlib import Path

import pytest

from siyu.exceptions import PayloadTooLarge
from siyu.kit.uploads import safe_filename, store_upload


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("订单.csv", "订单.csv"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\运营\\天猫 订单 11月.xlsx", "天猫_订单_11月.xlsx"),
        ("..", "upload"),
    ],
)
def test_upload_names_cannot_leave_their_directory(given: str, stored: str) -> None:
    assert safe_filename(given) == stored


def test_an_upload_is_stored_whole_under_the_directory(tmp_path: Path) -> None:
    path = store_upload(tmp_path / "imports", "a.csv", io.BytesIO(b"x" * 3000), max_bytes=4000)
    assert path.parent == tmp_path / "imports"
    assert path.read_bytes() == b"x" * 3000


def test_an_upload_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        store_upload(tmp_path, "big.csv", io.BytesIO(b"x" * (2 << 20)), max_bytes=1 << 20)
    assert refused.value.details == {"field": "file"}
    assert list(tmp_path.iterdir()) == []
