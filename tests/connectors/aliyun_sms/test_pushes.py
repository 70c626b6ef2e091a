"""Receipts (SmsReport) and replies (SmsUp) pushed to a real loopback receiver."""

from siyu.connectors.aliyun_sms import is_opt_out, parse_reports, parse_uplinks
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim
from siyu.connectors.aliyun_sms_sim.seed import MEMBER_DAY, SHIPPED
from tests.connectors.aliyun_sms.conftest import Receiver, run

SHIPPED_PARAMS = {"name": "林小姐", "product": "雪融山茶精华", "tracking": "SF1234567890"}
MEMBER_DAY_PARAMS = {"name": "林小姐", "date": "6月18日"}


def _send(sim: AliyunSmsSim, phone: str, template: str = SHIPPED, out_id: str = "d1") -> str:
    params = SHIPPED_PARAMS if template == SHIPPED else MEMBER_DAY_PARAMS
    outcome = run(sim, lambda c: c.send_sms(phone, "山茶集", template, params, out_id))
    assert outcome.ok
    assert outcome.provider_id
    return outcome.provider_id


def test_receipts_are_pushed_in_one_batch_and_parse(
    aliyun_sms_sim: AliyunSmsSim, sms_receiver: Receiver
) -> None:
    aliyun_sms_sim.control.post(
        "/outcomes", json={"fail_numbers": {"13800000002": "MOBILE_NOT_ON_SERVICE"}}
    )
    biz_ids = [_send(aliyun_sms_sim, f"1380000000{n}", out_id=f"d{n}") for n in (1, 2, 3)]
    aliyun_sms_sim.control.post("/reports/flush").raise_for_status()
    [push] = sms_receiver.wait_for(1, "/sms/report")
    reports = parse_reports(push.body)
    assert [r.biz_id for r in reports] == biz_ids
    assert [(r.out_id, r.success, r.err_code) for r in reports] == [
        ("d1", True, "DELIVERED"),
        ("d2", False, "MOBILE_NOT_ON_SERVICE"),
        ("d3", True, "DELIVERED"),
    ]
    assert reports[1].err_msg
    assert reports[0].sms_size == 1
    assert reports[0].report_time >= reports[0].send_time
    aliyun_sms_sim.wait_for_pushes(1, "report")
    assert aliyun_sms_sim.state.pushes[0].status == "delivered"


def test_receipts_arrive_on_their_own_after_the_report_delay(
    aliyun_sms_sim: AliyunSmsSim, sms_receiver: Receiver
) -> None:
    biz_id = _send(aliyun_sms_sim, "13800000001")
    aliyun_sms_sim.state.advance(aliyun_sms_sim.state.report_delay)
    [push] = sms_receiver.wait_for(1, "/sms/report")
    assert parse_reports(push.body)[0].biz_id == biz_id


def test_a_receipt_not_acknowledged_is_pushed_again_after_a_minute(
    aliyun_sms_sim: AliyunSmsSim, sms_receiver: Receiver
) -> None:
    sms_receiver.statuses.extend([500])
    biz_id = _send(aliyun_sms_sim, "13800000001")
    aliyun_sms_sim.control.post("/reports/flush")
    sms_receiver.wait_for(1, "/sms/report")
    aliyun_sms_sim.wait_for_attempts(1)
    with aliyun_sms_sim.state.lock:
        [push] = aliyun_sms_sim.state.pushes
        assert (push.status, push.attempts) == ("pending", 1)
    aliyun_sms_sim.control.post("/clock/advance", json={"seconds": 61})
    first, second = sms_receiver.wait_for(2, "/sms/report")
    assert first.body == second.body
    assert parse_reports(second.body)[0].biz_id == biz_id
    aliyun_sms_sim.wait_for_pushes(1, "report")
    assert (push.status, push.attempts) == ("delivered", 2)


def test_a_push_never_acknowledged_is_given_up_after_three_retries(
    aliyun_sms_sim: AliyunSmsSim, sms_receiver: Receiver
) -> None:
    sms_receiver.statuses.extend([502, 502, 502, 502])
    _send(aliyun_sms_sim, "13800000001")
    aliyun_sms_sim.control.post("/reports/flush")
    for count, wait in ((1, 61), (2, 301), (3, 601)):
        sms_receiver.wait_for(count, "/sms/report")
        aliyun_sms_sim.wait_for_attempts(count)
        aliyun_sms_sim.state.advance(wait)
    sms_receiver.wait_for(4, "/sms/report")
    aliyun_sms_sim.wait_for_pushes(1, "report")
    assert aliyun_sms_sim.state.pushes[0].status == "failed"
    assert aliyun_sms_sim.state.pushes[0].attempts == 4


def test_without_a_report_url_receipts_only_show_in_the_details(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    _send(aliyun_sms_sim, "13800000001")
    assert aliyun_sms_sim.settle() == 1
    assert aliyun_sms_sim.state.pushes == []
    assert aliyun_sms_sim.messages()[0].err_code == "DELIVERED"


def test_a_seeded_fail_ratio_fails_that_share(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.control.post(
        "/outcomes", json={"fail_ratio": 1.0, "fail_code": "MOBILE_TERMINAL_ERROR"}
    )
    _send(aliyun_sms_sim, "13800000001")
    aliyun_sms_sim.settle()
    message = aliyun_sms_sim.messages()[0]
    assert (message.send_status, message.err_code) == (2, "MOBILE_TERMINAL_ERROR")


def test_a_customer_replying_t_is_pushed_and_blocks_later_marketing(
    aliyun_sms_sim: AliyunSmsSim, sms_receiver: Receiver
) -> None:
    _send(aliyun_sms_sim, "13800000001", MEMBER_DAY)
    aliyun_sms_sim.control.post(
        "/reply", json={"phone_number": "13800000001", "content": "T"}
    ).raise_for_status()
    [push] = sms_receiver.wait_for(1, "/sms/up")
    [reply] = parse_uplinks(push.body)
    assert (reply.phone_number, reply.content, reply.sign_name) == ("13800000001", "T", "山茶集")
    assert is_opt_out(reply.content)
    assert reply.sequence_id

    _send(aliyun_sms_sim, "13800000001", MEMBER_DAY)
    _send(aliyun_sms_sim, "13800000001", SHIPPED)  # notifications still reach the customer
    aliyun_sms_sim.control.post("/reports/flush")
    receipts = [
        report
        for received in sms_receiver.wait_for(1, "/sms/report")
        for report in parse_reports(received.body)
    ]
    assert [r.err_code for r in receipts] == ["DELIVERED", "MOBILE_IN_BLACK", "DELIVERED"]
