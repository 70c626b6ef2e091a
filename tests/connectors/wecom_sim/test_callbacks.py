"""Callbacks pushed to a real receiver: encrypted, signed, retried as WeCom does."""

import xml.etree.ElementTree as ET

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi, Received, Receiver


def decrypt(receiver: Receiver, corp_id: str, received: Received) -> ET.Element:
    envelope = ET.fromstring(received.body)  # noqa: S314 - the simulator wrote it
    assert envelope.findtext("ToUserName") == corp_id
    encrypted = envelope.findtext("Encrypt") or ""
    plain = receiver.crypto(corp_id).verify_and_decrypt(
        received.query["msg_signature"],
        received.query["timestamp"],
        received.query["nonce"],
        encrypted,
    )
    return ET.fromstring(plain)  # noqa: S314 - the simulator wrote it


def events(wecom_sim: WecomSim, receiver: Receiver, count: int) -> list[ET.Element]:
    return [decrypt(receiver, wecom_sim.corp_id, r) for r in receiver.wait_for(count)]


def _way(wecom_sim: WecomSim, cgi: Cgi, **extra: object) -> str:
    userid = next(iter(wecom_sim.state.members))
    body = {"type": 1, "scene": 2, "user": [userid], "state": "xhs-0423", **extra}
    config_id: str = cgi.ok("/externalcontact/add_contact_way", body)["config_id"]
    return config_id


def test_a_scan_pushes_an_encrypted_signed_add_event(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    result = wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).json()
    (event,) = events(wecom_sim, receiver, 1)
    assert event.findtext("ToUserName") == wecom_sim.corp_id
    assert event.findtext("FromUserName") == "sys"
    assert event.findtext("MsgType") == "event"
    assert event.findtext("Event") == "change_external_contact"
    assert event.findtext("ChangeType") == "add_external_contact"
    assert event.findtext("UserID") == result["userid"]
    assert event.findtext("ExternalUserID") == result["external_userid"]
    assert event.findtext("State") == "xhs-0423"
    assert event.findtext("WelcomeCode") == result["welcome_code"]
    assert int(event.findtext("CreateTime") or 0) > 0
    wecom_sim.wait_for_pushes(1)
    (push,) = wecom_sim.state.pushes
    assert (push.status, push.attempts, push.responses) == ("delivered", 1, ["200"])


def test_half_add_then_confirm(wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver) -> None:
    result = wecom_sim.control.post(
        "/scan", json={"config_id": _way(wecom_sim, cgi), "half": True}
    ).json()
    wecom_sim.control.post(
        "/accept",
        json={"userid": result["userid"], "external_userid": result["external_userid"]},
    ).raise_for_status()
    half, full = events(wecom_sim, receiver, 2)
    assert half.findtext("ChangeType") == "add_half_external_contact"
    assert half.findtext("WelcomeCode") == result["welcome_code"]
    assert full.findtext("ChangeType") == "add_external_contact"


def test_a_half_add_code_once_used_is_not_pushed_again(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    result = wecom_sim.control.post(
        "/scan", json={"config_id": _way(wecom_sim, cgi), "half": True}
    ).json()
    body = {"welcome_code": result["welcome_code"], "text": {"content": "你好"}}
    cgi.ok("/externalcontact/send_welcome_msg", body)
    wecom_sim.control.post(
        "/accept",
        json={"userid": result["userid"], "external_userid": result["external_userid"]},
    ).raise_for_status()
    _, full = events(wecom_sim, receiver, 2)
    assert full.find("WelcomeCode") is None


def test_receiver_failing_twice_gets_three_attempts(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).raise_for_status()
    wecom_sim.wait_for_pushes(1)
    (push,) = wecom_sim.state.pushes
    assert (push.status, push.attempts, push.responses) == ("delivered", 3, ["500", "503", "200"])
    assert len(receiver.received) == 3


def test_a_receiver_that_always_fails_exhausts_three_attempts(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500, 500, 500]
    wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).raise_for_status()
    wecom_sim.wait_for_pushes(1)
    (push,) = wecom_sim.state.pushes
    assert (push.status, push.attempts) == ("failed", 3)
    assert len(receiver.received) == 3


def test_a_slow_receiver_counts_as_a_failed_attempt(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    wecom_sim.reset(callback_timeout=0.2)
    wecom_sim.set_callback(receiver.url, receiver.token, receiver.encoding_aes_key)
    receiver.delay = 1.0
    wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).raise_for_status()
    wecom_sim.wait_for_pushes(1)
    (push,) = wecom_sim.state.pushes
    assert (push.status, push.attempts, push.responses) == (
        "failed",
        3,
        ["timeout", "timeout", "timeout"],
    )


def test_no_callback_url_logs_a_failed_push(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).raise_for_status()
    wecom_sim.wait_for_pushes(1)
    assert wecom_sim.state.pushes[0].status == "failed"


def test_duplicate_callbacks_fault(wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver) -> None:
    wecom_sim.control.post("/faults", json={"duplicate_callbacks": True}).raise_for_status()
    wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).raise_for_status()
    first, second = events(wecom_sim, receiver, 2)
    assert ET.tostring(first) == ET.tostring(second)


def test_out_of_order_callbacks_fault(wecom_sim: WecomSim, receiver: Receiver) -> None:
    wecom_sim.control.post("/faults", json={"shuffle_callbacks": 4}).raise_for_status()
    staff = list(wecom_sim.state.members)
    for userid in staff[:4]:
        wecom_sim.control.post("/staff-adds-customer", json={"userid": userid}).raise_for_status()
    received = [e.findtext("UserID") or "" for e in events(wecom_sim, receiver, 4)]
    assert sorted(received) == sorted(staff[:4])
    assert received != staff[:4]


def test_url_verification_handshake(wecom_sim: WecomSim, receiver: Receiver) -> None:
    body = {
        "url": receiver.url,
        "token": receiver.token,
        "encoding_aes_key": receiver.encoding_aes_key,
        "verify": True,
    }
    accepted = wecom_sim.control.post("/callback", json=body)
    assert accepted.json() == {"url": receiver.url, "verified": True}
    wrong_token = wecom_sim.control.post("/callback", json={**body, "token": "other"})
    assert wrong_token.status_code == 400


def test_held_callbacks_are_released_by_a_flush(wecom_sim: WecomSim, receiver: Receiver) -> None:
    wecom_sim.control.post("/faults", json={"shuffle_callbacks": 10}).raise_for_status()
    staff = list(wecom_sim.state.members)[:3]
    for userid in staff:
        wecom_sim.control.post("/staff-adds-customer", json={"userid": userid}).raise_for_status()
    assert len(wecom_sim.state.held_pushes) == 3
    assert wecom_sim.control.post("/callbacks/flush").json() == {"released": 3}
    received = [e.findtext("UserID") or "" for e in events(wecom_sim, receiver, 3)]
    assert sorted(received) == sorted(staff)


def test_no_welcome_code_when_the_console_has_a_welcome_message(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    wecom_sim.reset(console_welcome_message=True)
    wecom_sim.set_callback(receiver.url, receiver.token, receiver.encoding_aes_key)
    result = wecom_sim.control.post("/scan", json={"config_id": _way(wecom_sim, cgi)}).json()
    assert result["welcome_code"] is None
    (event,) = events(wecom_sim, receiver, 1)
    assert event.findtext("ChangeType") == "add_external_contact"
    assert event.find("WelcomeCode") is None
