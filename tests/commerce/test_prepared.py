import pytest

from siyu.commerce.prepared import MobileMemo
from siyu.customers.identities import IdentityKind, IdentityRef


def test_the_mobile_memo_answers_like_normalising_and_stays_within_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MobileMemo, "LIMIT", 2)
    memo = MobileMemo()

    refs = [memo.ref(m) for m in ("13800138000", "138 0013 8001", "010-12345678", "13800138000")]

    assert refs == [
        IdentityRef(IdentityKind.MOBILE, "+8613800138000"),
        IdentityRef(IdentityKind.MOBILE, "+8613800138001"),
        None,  # a landline is not the buyer's mobile
        IdentityRef(IdentityKind.MOBILE, "+8613800138000"),
    ]
    assert len(memo.known) <= 2
