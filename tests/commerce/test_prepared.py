from datetime import UTC, datetime

import pytest

from siyu.commerce.prepared import BuyerMemo
from siyu.commerce.schemas import OrderRecord


def order(buyer_id: str | None, mobile: str | None) -> OrderRecord:
    return OrderRecord(
        platform="tmall",
        platform_order_id="1",
        status="completed",
        ordered_at=datetime(2024, 1, 1, tzinfo=UTC),
        paid_at=None,
        total_fen=100,
        paid_fen=100,
        discount_fen=0,
        shipping_fen=0,
        refunded_fen=0,
        store=None,
        buyer_id=buyer_id,
        buyer_nick=None,
        receiver_name=None,
        receiver_mobile=mobile,
        receiver_province=None,
        receiver_city=None,
        receiver_address=None,
        items=[],
    )


def test_the_buyer_memo_answers_like_normalising_and_stays_within_its_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BuyerMemo, "LIMIT", 2)
    memo = BuyerMemo()

    found = [
        memo.identities(order(buyer, mobile))
        for buyer, mobile in (
            ("tb_li", "13800138000"),
            ("tb_wang", "138 0013 8001"),
            ("tb_zhao", "010-12345678"),  # a landline is not the buyer's mobile
            ("t**1", "138****8000"),  # masked: identifies nobody
            (None, "13800138000"),
            ("tb_li", "13800138000"),
        )
    ]

    assert found == [
        (("taobao_buyer_id", "tb_li"), ("mobile", "+8613800138000")),
        (("taobao_buyer_id", "tb_wang"), ("mobile", "+8613800138001")),
        (("taobao_buyer_id", "tb_zhao"),),
        (),
        (("mobile", "+8613800138000"),),
        (("taobao_buyer_id", "tb_li"), ("mobile", "+8613800138000")),
    ]
    assert len(memo.known) <= 2
