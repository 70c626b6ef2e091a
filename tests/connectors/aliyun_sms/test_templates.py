"""Template rendering, Aliyun's variable limits, segment counting, parsing pushed bodies."""

from datetime import UTC, datetime

import pytest

from siyu.connectors.aliyun_sms import (
    TemplateType,
    check_params,
    is_opt_out,
    parse_reports,
    parse_uplinks,
    render_template,
    segments,
)
from siyu.exceptions import ValidationFailed

SHIPPED = "亲爱的${name}，您购买的${product}已发货，快递单号${tracking}。"


def test_render_template_fills_every_variable() -> None:
    text = render_template(SHIPPED, {"name": "林小姐", "product": "山茶精华", "tracking": "SF123"})
    assert text == "亲爱的林小姐，您购买的山茶精华已发货，快递单号SF123。"


def test_render_template_names_the_missing_variables() -> None:
    with pytest.raises(ValidationFailed) as caught:
        render_template(SHIPPED, {"name": "林小姐"})
    assert caught.value.details["missing"] == ["product", "tracking"]
    assert "product" in caught.value.message


def test_variable_longer_than_35_characters_is_refused_naming_it() -> None:
    params = {"name": "林" * 36, "product": "精华", "tracking": "SF1"}
    with pytest.raises(ValidationFailed) as caught:
        check_params(SHIPPED, params)
    assert caught.value.field == "params.name"
    assert caught.value.details["aliyun_code"] == "isv.PARAM_LENGTH_LIMIT"
    check_params(SHIPPED, {**params, "name": "林" * 35})


def test_verification_code_must_be_4_to_6_letters_or_digits() -> None:
    template = "您的验证码为${code}，5分钟内有效。"
    check_params(template, {"code": "482913"}, TemplateType.VERIFICATION_CODE)
    for bad in ("123", "1234567", "12 34"):
        with pytest.raises(ValidationFailed):
            check_params(template, {"code": bad}, TemplateType.VERIFICATION_CODE)


def test_long_messages_are_billed_in_67_character_segments() -> None:
    assert segments("好" * 70) == 1
    assert segments("好" * 71) == 2
    assert segments("好" * 134) == 2
    assert segments("好" * 135) == 3


def test_parse_reports_reads_aliyuns_example_as_utc() -> None:
    body = """[{"phone_number": "13811112222", "send_time": "2017-01-01 00:00:00",
        "report_time": "2017-01-01 00:00:05", "success": true, "err_code": "DELIVERED",
        "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "12345^0", "out_id": "67890"}]"""
    [report] = parse_reports(body.encode())
    assert report.success
    assert report.err_code == "DELIVERED"
    assert report.send_time == datetime(2016, 12, 31, 16, 0, tzinfo=UTC)  # Beijing time
    assert (report.sms_size, report.biz_id, report.out_id) == (1, "12345^0", "67890")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"phone_number": "1"}', "body"),
        (b"[1]", "body[0]"),
        (b'[{"phone_number": "138", "send_time": "2017-01-01 00:00:00"}]', "body[0].report_time"),
    ],
)
def test_parse_reports_names_what_is_wrong(body: bytes, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_reports(body)
    assert caught.value.field == field


def test_parse_uplinks_accepts_sequence_id_as_number_or_text() -> None:
    body = """[{"phone_number": "13811112222", "send_time": "2017-09-01 00:00:00",
        "content": "T", "sign_name": "山茶集", "dest_code": "1234", "sequence_id": 1234567890},
        {"phone_number": "13811113333", "send_time": "2017-09-01 00:00:01",
        "content": "好的", "dest_code": "1234", "sequence_id": "1234567891"}]"""
    first, second = parse_uplinks(body.encode())
    assert (first.sequence_id, second.sequence_id) == ("1234567890", "1234567891")
    assert is_opt_out(first.content)
    assert not is_opt_out(second.content)
    assert second.sign_name == ""


def test_parse_uplinks_refuses_an_item_without_content() -> None:
    body = b'[{"phone_number": "138", "send_time": "2017-09-01 00:00:00", "sequence_id": 1}]'
    with pytest.raises(ValidationFailed) as caught:
        parse_uplinks(body)
    assert caught.value.field == "body[0].content"
