"""The client against the simulator over real HTTP: sends, errors, flow control, queries."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from siyu.connectors.aliyun_sms import AliyunSmsClient, AliyunSmsError, SendStatus
from siyu.connectors.aliyun_sms.schemas import CHINA
from siyu.connectors.aliyun_sms.signing import sign_request
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim, FlowLimit
from siyu.connectors.aliyun_sms_sim.seed import (
    MEMBER_DAY,
    REJECTED,
    SHIPPED,
    VERIFICATION_CODE,
)
from siyu.connectors.outcome import SendOutcome
from tests.connectors.aliyun_sms.conftest import run

PHONE = "13800138000"
SHIPPED_PARAMS = {"name": "林小姐", "product": "雪融山茶精华", "tracking": "SF1234567890"}


def send(
    sim: AliyunSmsSim,
    template: str = SHIPPED,
    params: dict[str, str] | None = None,
    *,
    phone: str = PHONE,
    sign: str = "山茶集",
    out_id: str = "delivery-1",
    **client: str,
) -> SendOutcome:
    values = SHIPPED_PARAMS if params is None else params
    return run(sim, lambda c: c.send_sms(phone, sign, template, values, out_id), **client)


def test_send_returns_the_biz_id_and_the_simulator_keeps_the_rendered_message(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    outcome = send(aliyun_sms_sim)
    assert outcome.ok
    assert outcome.code == "OK"
    [message] = aliyun_sms_sim.messages()
    assert outcome.provider_id == message.biz_id
    assert message.biz_id.endswith("^0")
    assert message.content == (
        "【山茶集】亲爱的林小姐，您在山茶集购买的雪融山茶精华已发货，"
        "快递单号SF1234567890，请留意查收。"
    )
    assert (message.out_id, message.segments, message.send_status) == ("delivery-1", 1, 1)


def test_wrong_secret_is_signature_does_not_match_and_final(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim, access_key_secret="not-the-secret")
    assert not outcome.ok
    assert not outcome.retryable
    assert outcome.code == "SignatureDoesNotMatch"
    assert outcome.reason is not None
    assert "Secret" in outcome.reason
    assert aliyun_sms_sim.messages() == []


def test_unknown_access_key_is_final(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim, access_key_id="LTAInobody")
    assert (outcome.ok, outcome.retryable, outcome.code) == (
        False,
        False,
        "InvalidAccessKeyId.NotFound",
    )


@pytest.mark.parametrize("template", ["SMS_000000000", REJECTED])
def test_unknown_or_rejected_template_is_final(aliyun_sms_sim: AliyunSmsSim, template: str) -> None:
    outcome = send(aliyun_sms_sim, template, {})
    assert (outcome.ok, outcome.retryable, outcome.code) == (
        False,
        False,
        "isv.SMS_TEMPLATE_ILLEGAL",
    )
    assert outcome.reason is not None
    assert "模板" in outcome.reason


def test_sign_still_in_review_is_final(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim, sign="山茶集会员中心")
    assert (outcome.ok, outcome.retryable, outcome.code) == (
        False,
        False,
        "isv.SMS_SIGNATURE_ILLEGAL",
    )


def test_missing_param_is_final_before_any_call(aliyun_sms_sim: AliyunSmsSim) -> None:
    async def go(client: AliyunSmsClient) -> SendOutcome:
        [shipped] = [t for t in await client.list_templates() if t.template_code == SHIPPED]
        calls = aliyun_sms_sim.state.total_calls
        outcome = await client.send_sms(
            PHONE, "山茶集", SHIPPED, {"name": "林小姐"}, "x", template=shipped
        )
        assert aliyun_sms_sim.state.total_calls == calls  # refused without a call
        return outcome

    outcome = run(aliyun_sms_sim, go)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert outcome.code == "isv.TEMPLATE_MISSING_PARAMETERS"
    assert outcome.reason is not None
    assert "product" in outcome.reason


def test_simulator_refuses_a_missing_param_like_aliyun(aliyun_sms_sim: AliyunSmsSim) -> None:
    # A caller that does not know the template content: the client cannot check, Aliyun does.
    params = {
        "PhoneNumbers": PHONE,
        "SignName": "山茶集",
        "TemplateCode": SHIPPED,
        "TemplateParam": '{"name": "林小姐"}',
    }
    status, body = run(aliyun_sms_sim, lambda c: c.call("SendSms", params))
    assert (status, body["Code"]) == (200, "isv.TEMPLATE_MISSING_PARAMETERS")


def test_variable_over_35_characters_is_refused(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim, params={**SHIPPED_PARAMS, "product": "精" * 36})
    assert (outcome.code, outcome.retryable) == ("isv.PARAM_LENGTH_LIMIT", False)
    assert outcome.reason is not None
    assert "35" in outcome.reason
    params = {
        "PhoneNumbers": PHONE,
        "SignName": "山茶集",
        "TemplateCode": SHIPPED,
        "TemplateParam": '{"name": "a", "product": "' + "精" * 36 + '", "tracking": "1"}',
    }
    _, body = run(aliyun_sms_sim, lambda c: c.call("SendSms", params))
    assert body["Code"] == "isv.PARAM_LENGTH_LIMIT"


def test_illegal_number_and_url_in_a_variable_are_final(aliyun_sms_sim: AliyunSmsSim) -> None:
    assert send(aliyun_sms_sim, phone="1234").code == "isv.MOBILE_NUMBER_ILLEGAL"
    url = {**SHIPPED_PARAMS, "product": "http://t.cn/abc"}
    outcome = send(aliyun_sms_sim, params=url)
    assert (outcome.code, outcome.retryable) == ("isv.BLACK_KEY_CONTROL_LIMIT", False)


def test_verification_codes_are_flow_controlled_per_number_and_retried_after_the_window(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    code = {"code": "482913"}
    assert send(aliyun_sms_sim, VERIFICATION_CODE, code).ok
    second = send(aliyun_sms_sim, VERIFICATION_CODE, code)
    assert (second.ok, second.retryable, second.retry_after) == (False, True, 60.0)
    assert not second.pause  # only this number is limited
    assert second.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert second.reason is not None
    assert "分钟级" in second.reason
    assert send(aliyun_sms_sim, VERIFICATION_CODE, code, phone="13900139000").ok
    for _ in range(4):
        aliyun_sms_sim.state.advance(61)
        assert send(aliyun_sms_sim, VERIFICATION_CODE, code).ok
    aliyun_sms_sim.state.advance(61)
    sixth = send(aliyun_sms_sim, VERIFICATION_CODE, code)
    assert (sixth.code, sixth.retry_after) == ("isv.BUSINESS_LIMIT_CONTROL", 3600.0)
    assert sixth.reason is not None
    assert "小时级" in sixth.reason


def test_notifications_count_per_template(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.reset(flow_limits={1: (FlowLimit(86400, 2, "天级"),)})
    assert send(aliyun_sms_sim).ok
    assert send(aliyun_sms_sim).ok
    limited = send(aliyun_sms_sim)
    assert (limited.code, limited.retryable, limited.retry_after) == (
        "isv.BUSINESS_LIMIT_CONTROL",
        True,
        86400.0,
    )
    member_day = {"name": "林小姐", "date": "6月18日"}
    assert send(aliyun_sms_sim, MEMBER_DAY, member_day).ok  # marketing: not limited here
    aliyun_sms_sim.state.advance(86401)
    assert send(aliyun_sms_sim).ok


def test_injected_5xx_is_retryable_and_in_doubt(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.control.post("/faults", json={"error_rate_5xx": 1.0})
    outcome = send(aliyun_sms_sim)
    # the gateway answered for a backend that may have taken it: asked about before a resend
    assert (outcome.ok, outcome.retryable, outcome.in_doubt) == (False, True, True)
    assert outcome.code in {"InternalError", "ServiceUnavailable"}
    assert aliyun_sms_sim.messages() == []


def test_throttling_and_system_errors_are_retryable(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.control.post("/faults", json={"throttle_burst": 1, "system_error_burst": 1})
    first, second, third = (send(aliyun_sms_sim) for _ in range(3))
    assert (first.code, first.retryable, first.pause) == ("Throttling.User", True, True)
    assert (second.code, second.retryable, second.pause) == ("isp.SYSTEM_ERROR", True, False)
    assert not first.in_doubt
    assert not second.in_doubt
    assert third.ok


def test_unreachable_server_is_retryable() -> None:
    async def go() -> SendOutcome:
        async with AliyunSmsClient("http://127.0.0.1:9", "id", "secret", timeout=2) as client:
            return await client.send_sms(PHONE, "山茶集", SHIPPED, SHIPPED_PARAMS, "x")

    outcome = asyncio.run(go())
    assert (outcome.ok, outcome.retryable, outcome.code) == (False, True, "network")
    assert not outcome.in_doubt  # no connection: the request never left


def test_empty_balance_pauses_sending_until_a_top_up(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.control.post("/faults", json={"balance_segments": 1})
    assert send(aliyun_sms_sim).ok
    outcome = send(aliyun_sms_sim)
    assert (outcome.code, outcome.retryable, outcome.pause) == ("isv.AMOUNT_NOT_ENOUGH", True, True)
    assert outcome.retry_after == 600.0
    assert outcome.reason is not None
    assert "余额" in outcome.reason


def _raw_call(sim: AliyunSmsSim, *, nonce: str, at: datetime | None = None) -> httpx.Response:
    params = {
        "Action": "QuerySmsSignList",
        "Version": "2017-05-25",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
    }
    signed = sign_request(
        "GET", params, sim.access_key_id, sim.access_key_secret, nonce=nonce, at=at
    )
    return httpx.get(sim.base_url + "/", params=signed)


def test_a_replayed_nonce_and_a_stale_timestamp_are_refused(aliyun_sms_sim: AliyunSmsSim) -> None:
    first = _raw_call(aliyun_sms_sim, nonce="nonce-1")
    assert (first.status_code, first.json()["Code"]) == (200, "OK")  # GET works as well
    replay = _raw_call(aliyun_sms_sim, nonce="nonce-1")
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    stale = _raw_call(aliyun_sms_sim, nonce="nonce-2", at=datetime.now(UTC) - timedelta(hours=1))
    assert (stale.status_code, stale.json()["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_query_send_details_sees_the_message_and_its_status(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim)
    other = send(aliyun_sms_sim, MEMBER_DAY, {"name": "林小姐", "date": "6月18日"})
    today = datetime.now(CHINA).date()

    page = run(aliyun_sms_sim, lambda c: c.query_send_details(PHONE, today))
    assert page.total_count == 2
    waiting = run(
        aliyun_sms_sim, lambda c: c.query_send_details(PHONE, today, biz_id=outcome.provider_id)
    )
    [detail] = waiting.details
    assert (detail.send_status, detail.err_code, detail.receive_date) == (
        SendStatus.WAITING,
        "",
        "",
    )
    assert detail.content.startswith("【山茶集】亲爱的林小姐")
    assert (detail.template_code, detail.out_id) == (SHIPPED, "delivery-1")

    aliyun_sms_sim.control.post(
        "/outcomes", json={"fail_numbers": {PHONE: "MOBILE_NOT_ON_SERVICE"}}
    )
    aliyun_sms_sim.control.post("/reports/flush")
    failed = run(
        aliyun_sms_sim, lambda c: c.query_send_details(PHONE, today, biz_id=other.provider_id)
    )
    assert (failed.details[0].send_status, failed.details[0].err_code) == (
        SendStatus.FAILED,
        "MOBILE_NOT_ON_SERVICE",
    )
    assert failed.details[0].receive_date != ""


def test_delivered_message_reads_delivered(aliyun_sms_sim: AliyunSmsSim) -> None:
    outcome = send(aliyun_sms_sim)
    aliyun_sms_sim.settle()
    today = datetime.now(CHINA).date()
    page = run(
        aliyun_sms_sim, lambda c: c.query_send_details(PHONE, today, biz_id=outcome.provider_id)
    )
    assert page.details[0].delivered
    assert page.details[0].err_code == "DELIVERED"


def test_send_batch_gives_one_biz_id_for_every_number(aliyun_sms_sim: AliyunSmsSim) -> None:
    phones = ["13800000001", "13800000002"]
    params = [{**SHIPPED_PARAMS, "name": "林小姐"}, {**SHIPPED_PARAMS, "name": "周先生"}]
    outcome = run(
        aliyun_sms_sim,
        lambda c: c.send_batch(phones, ["山茶集", "山茶集"], SHIPPED, params),
    )
    assert outcome.ok
    messages = aliyun_sms_sim.messages()
    assert {m.biz_id for m in messages} == {outcome.provider_id}
    assert [m.phone_number for m in messages] == phones
    assert "周先生" in messages[1].content


def test_templates_and_signs_are_listed_across_pages(aliyun_sms_sim: AliyunSmsSim) -> None:
    for number in range(60):
        aliyun_sms_sim.control.post(
            "/templates",
            json={"template_code": f"SMS_9{number:05}", "template_content": "您好${name}"},
        ).raise_for_status()
    templates = run(aliyun_sms_sim, lambda c: c.list_templates())
    assert len(templates) == 66
    by_code = {t.template_code: t for t in templates}
    assert by_code[MEMBER_DAY].template_type == 2
    assert by_code[MEMBER_DAY].template_content.endswith("拒收请回复R")
    assert by_code[REJECTED].approved is False
    assert "退订" in by_code[REJECTED].reject_info
    signs = run(aliyun_sms_sim, lambda c: c.list_signs())
    assert [(s.sign_name, s.approved) for s in signs] == [
        ("山茶集", True),
        ("山茶集会员中心", False),
    ]


def test_query_with_a_wrong_secret_raises_with_a_hint(aliyun_sms_sim: AliyunSmsSim) -> None:
    with pytest.raises(AliyunSmsError) as caught:
        run(aliyun_sms_sim, lambda c: c.list_signs(), access_key_secret="wrong")
    assert caught.value.aliyun_code == "SignatureDoesNotMatch"
    assert not caught.value.retryable
    assert caught.value.hint


def test_query_retries_throttling(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.control.post("/faults", json={"throttle_burst": 2})
    assert len(run(aliyun_sms_sim, lambda c: c.list_signs())) == 2


def test_the_secret_never_appears_in_repr_or_logs(
    aliyun_sms_sim: AliyunSmsSim, caplog: pytest.LogCaptureFixture
) -> None:
    client = aliyun_sms_sim.client()
    assert aliyun_sms_sim.access_key_secret not in repr(client)
    with caplog.at_level(logging.DEBUG):
        send(aliyun_sms_sim)
        send(aliyun_sms_sim, access_key_secret="x")
    assert aliyun_sms_sim.access_key_secret not in caplog.text
