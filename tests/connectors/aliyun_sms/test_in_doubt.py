"""Sends whose answer is lost, and finding them again by OutId through QuerySendDetails."""

from datetime import datetime

from siyu.connectors.aliyun_sms import AliyunSmsClient
from siyu.connectors.aliyun_sms.schemas import CHINA
from siyu.connectors.aliyun_sms_sim import AliyunSmsSim
from siyu.connectors.aliyun_sms_sim.seed import SHIPPED
from siyu.connectors.outcome import SendOutcome
from tests.connectors.aliyun_sms.conftest import run

PHONE = "13800138000"
PARAMS = {"name": "林小姐", "product": "雪融山茶精华", "tracking": "SF1234567890"}


def _send(sim: AliyunSmsSim, out_id: str, *, timeout: float = 10.0) -> SendOutcome:
    return run(sim, lambda c: c.send_sms(PHONE, "山茶集", SHIPPED, PARAMS, out_id), timeout=timeout)


def _today() -> datetime:
    return datetime.now(CHINA)


def _find(sim: AliyunSmsSim, out_id: str, phone: str = PHONE) -> str | None:
    async def find(client: AliyunSmsClient) -> str | None:
        detail = await client.find_by_out_id(phone, out_id, [_today().date()])
        return detail.out_id if detail else None

    return run(sim, find)


def test_an_answer_lost_after_aliyun_accepted_is_in_doubt_and_found_by_out_id(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    aliyun_sms_sim.control.post("/faults", json={"answer_timeouts": 1}).raise_for_status()

    outcome = _send(aliyun_sms_sim, "d41", timeout=0.5)

    assert (outcome.ok, outcome.retryable, outcome.in_doubt) == (False, True, True)
    assert outcome.code == "in_doubt"
    assert outcome.reason is not None
    assert "QuerySendDetails" in outcome.reason
    assert [m.out_id for m in aliyun_sms_sim.messages()] == ["d41"]  # it did go out
    assert _find(aliyun_sms_sim, "d41") == "d41"
    assert _send(aliyun_sms_sim, "d42").ok  # the fault was for one send only


def test_a_request_lost_before_aliyun_accepted_is_in_doubt_and_not_found(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    aliyun_sms_sim.control.post("/faults", json={"request_timeouts": 1}).raise_for_status()

    outcome = _send(aliyun_sms_sim, "d41", timeout=0.5)

    assert (outcome.ok, outcome.in_doubt) == (False, True)
    assert aliyun_sms_sim.messages() == []
    assert _find(aliyun_sms_sim, "d41") is None


def test_a_message_is_listed_only_once_aliyun_settled_its_record(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    aliyun_sms_sim.control.post("/faults", json={"details_delay": 60}).raise_for_status()
    assert _send(aliyun_sms_sim, "d41").ok

    assert _find(aliyun_sms_sim, "d41") is None
    aliyun_sms_sim.state.advance(61)
    assert _find(aliyun_sms_sim, "d41") == "d41"


def test_find_by_out_id_reads_every_page_of_the_day(aliyun_sms_sim: AliyunSmsSim) -> None:
    aliyun_sms_sim.reset(flow_limits={})

    async def send_many(client: AliyunSmsClient) -> None:
        for n in range(60):
            assert (await client.send_sms(PHONE, "山茶集", SHIPPED, PARAMS, f"d{n}")).ok

    run(aliyun_sms_sim, send_many)
    calls = aliyun_sms_sim.state.total_calls

    assert _find(aliyun_sms_sim, "d0") == "d0"  # the oldest: on the second page
    assert aliyun_sms_sim.state.total_calls == calls + 2
    assert _find(aliyun_sms_sim, "d999") is None


def test_the_number_is_asked_about_without_its_country_code(
    aliyun_sms_sim: AliyunSmsSim,
) -> None:
    assert _send(aliyun_sms_sim, "d41").ok

    assert _find(aliyun_sms_sim, "d41", phone=f"+86{PHONE}") == "d41"
