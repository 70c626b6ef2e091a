from datetime import UTC, datetime

import pytest

from siyu.connectors.commerce import OrderStatus, Platform
from siyu.connectors.commerce.detect import format_for
from siyu.connectors.commerce.rows import RowParser, clean, parse_time
from siyu.exceptions import ValidationFailed
from tests.connectors.commerce.samples import DOUYIN, JD, PDD, TMALL, Sample


def parser(sample: Sample, **kwargs: object) -> RowParser:
    fmt = format_for(sample.platform)
    return RowParser(fmt, sample.headers, fmt.suggest_mapping(sample.headers), **kwargs)  # type: ignore[arg-type]


def numbered(sample: Sample, *indexes: int) -> list[tuple[int, list[str]]]:
    return [(i + 2, list(sample.rows[i])) for i in indexes]


def test_tmall_row_becomes_an_order_in_fen_and_utc() -> None:
    order, errors = parser(TMALL).parse(numbered(TMALL, 0))

    assert errors == []
    assert order is not None
    assert order.platform == Platform.TMALL
    assert order.platform_order_id == "3210000000000001"
    assert order.status == OrderStatus.COMPLETED
    assert order.paid_fen == 20900
    assert order.total_fen == 19900
    assert order.shipping_fen == 1000
    assert order.ordered_at == datetime(2024, 3, 1, 12, 15, tzinfo=UTC)
    assert order.paid_at == datetime(2024, 3, 1, 12, 16, 30, tzinfo=UTC)
    assert order.buyer_id == "tb_zhangsan"
    assert order.receiver_mobile == "13800138000"
    assert (order.receiver_province, order.receiver_city) == ("浙江省", "杭州市")
    assert [(i.name, i.quantity, i.amount_fen) for i in order.items] == [
        ("山茶花精华 30ml", 2, 19900)
    ]


def test_closed_order_with_a_refund_is_refunded_and_masked_values_are_kept() -> None:
    order, _ = parser(TMALL).parse(numbered(TMALL, 1))

    assert order is not None
    assert order.status == OrderStatus.REFUNDED
    assert order.refunded_fen == 9900
    assert order.receiver_mobile == "139****0000"
    assert order.buyer_id == "l**i"


def test_item_rows_of_one_jd_order_become_one_order_with_repeated_amounts_taken_once() -> None:
    order, errors = parser(JD).parse(numbered(JD, 0, 1))

    assert errors == []
    assert order is not None
    assert order.paid_fen == 38700
    assert order.total_fen == 39700
    assert [
        (i.product_external_id, i.quantity, i.unit_price_fen, i.amount_fen) for i in order.items
    ] == [
        ("100001", 1, 19900, 19900),
        ("100002", 2, 9900, 19800),
    ]


def test_douyin_sub_order_amounts_add_up_to_the_main_order() -> None:
    order, _ = parser(DOUYIN).parse(numbered(DOUYIN, 0, 1))

    assert order is not None
    assert order.platform_order_id == "6900000000000001"
    assert order.paid_fen == 18900 + 9900
    assert order.discount_fen == 1000
    assert len(order.items) == 2


def test_pdd_discounts_of_shop_and_platform_add_up_and_address_is_assembled() -> None:
    order, _ = parser(PDD).parse(numbered(PDD, 0))

    assert order is not None
    assert order.discount_fen == 1500
    assert order.paid_fen == 18400
    assert order.receiver_address == "广东省 深圳市 南山区 科技园 1 号"
    assert order.receiver_province == "广东省"


def test_bad_cells_are_reported_with_row_and_header_and_the_order_is_not_built() -> None:
    row = list(TMALL.rows[0])
    row[6] = "abc"  # 买家实际支付金额
    row[7] = "神秘状态"  # 订单状态
    row[12] = "yesterday"  # 订单创建时间

    order, errors = parser(TMALL).parse([(7, row)])

    assert order is None
    assert {(e.row, e.column) for e in errors} == {
        (7, "买家实际支付金额"),
        (7, "订单状态"),
        (7, "订单创建时间"),
    }


def test_one_bad_item_row_keeps_the_whole_order_out() -> None:
    rows = numbered(JD, 0, 1)
    rows[1][1][3] = "two"  # 订购数量

    order, errors = parser(JD).parse(rows)

    assert order is None
    assert [(e.row, e.column) for e in errors] == [(3, "订购数量"), (2, "订单号")]


def test_edited_status_words_extend_the_platform_map() -> None:
    row = list(TMALL.rows[0])
    row[7] = "已结单"

    order, _ = parser(TMALL, statuses={"已结单": "completed"}).parse([(2, row)])

    assert order is not None
    assert order.status == OrderStatus.COMPLETED


def test_mapping_must_name_real_headers_and_every_required_field() -> None:
    fmt = format_for("tmall")
    mapping = fmt.suggest_mapping(TMALL.headers)

    with pytest.raises(ValidationFailed) as missing:
        RowParser(fmt, TMALL.headers, {k: v for k, v in mapping.items() if k != "paid"})
    assert missing.value.field == "columns.paid"
    with pytest.raises(ValidationFailed) as unknown_header:
        RowParser(fmt, TMALL.headers, {**mapping, "store": "门店"})
    assert unknown_header.value.field == "columns.store"
    with pytest.raises(ValidationFailed) as unknown_field:
        RowParser(fmt, TMALL.headers, {**mapping, "colour": "店铺名称"})
    assert unknown_field.value.field == "columns.colour"


def test_export_cell_wrappers_and_time_formats_are_understood() -> None:
    assert clean(' ="0012345" ') == "0012345"
    assert parse_time("2024/3/3 9:05") == datetime(2024, 3, 3, 1, 5, tzinfo=UTC)
    assert parse_time("2024-03-03T09:05:00+08:00") == datetime(2024, 3, 3, 1, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a date"):
        parse_time("03-03")
