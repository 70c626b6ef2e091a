"""「联系我」 contact ways, the QR code PNG, scans, and the welcome code."""

import httpx

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi


def _staff(wecom_sim: WecomSim) -> list[str]:
    return list(wecom_sim.state.members)


def test_add_get_update_delete_a_contact_way(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _staff(wecom_sim)[0]
    created = cgi.ok(
        "/externalcontact/add_contact_way",
        {"type": 1, "scene": 2, "user": [userid], "state": "store-01", "remark": "门店码"},
    )
    config_id = created["config_id"]
    assert len(config_id) == 32
    assert int(config_id, 16) >= 0
    assert created["qr_code"].startswith(wecom_sim.base_url)
    way = cgi.ok("/externalcontact/get_contact_way", {"config_id": config_id})["contact_way"]
    assert way["user"] == [userid]
    assert way["state"] == "store-01"
    assert way["skip_verify"] is True
    cgi.ok(
        "/externalcontact/update_contact_way",
        {"config_id": config_id, "state": "store-02", "skip_verify": False},
    )
    way = cgi.ok("/externalcontact/get_contact_way", {"config_id": config_id})["contact_way"]
    assert (way["state"], way["skip_verify"], way["type"]) == ("store-02", False, 1)
    cgi.ok("/externalcontact/del_contact_way", {"config_id": config_id})
    gone = cgi.post("/externalcontact/get_contact_way", {"config_id": config_id})
    assert gone["errcode"] == 41044


def test_the_qr_code_url_serves_a_png(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _staff(wecom_sim)[0]
    created = cgi.ok("/externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": [userid]})
    image = httpx.get(created["qr_code"])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_contact_way_errcodes(wecom_sim: WecomSim, cgi: Cgi) -> None:
    a, b = _staff(wecom_sim)[:2]
    path = "/externalcontact/add_contact_way"
    assert cgi.post(path, {"scene": 2, "user": [a]})["errcode"] == 41037
    assert cgi.post(path, {"type": 1, "user": [a]})["errcode"] == 41038
    assert cgi.post(path, {"type": 3, "scene": 2, "user": [a]})["errcode"] == 41039
    assert cgi.post(path, {"type": 1, "scene": 5, "user": [a]})["errcode"] == 41040
    assert cgi.post(path, {"type": 1, "scene": 1, "style": 7, "user": [a]})["errcode"] == 41042
    assert cgi.post(path, {"type": 1, "scene": 2, "user": [a, b]})["errcode"] == 40058
    assert cgi.post(path, {"type": 1, "scene": 2, "user": ["nobody"]})["errcode"] == 40003
    long_state = {"type": 1, "scene": 2, "user": [a], "state": "s" * 31}
    assert cgi.post(path, long_state)["errcode"] == 40058
    assert cgi.post("/externalcontact/get_contact_way", {})["errcode"] == 41043


def test_multi_person_way_is_capped_at_100_users(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(staff=101, contacts=0)
    body = {"type": 2, "scene": 2, "party": [1]}
    assert cgi.post("/externalcontact/add_contact_way", body)["errcode"] == 41041
    body = {"type": 2, "scene": 2, "user": list(wecom_sim.state.members)[:100]}
    assert cgi.post("/externalcontact/add_contact_way", body)["errcode"] == 0


def test_list_contact_way_walks_every_config_once(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _staff(wecom_sim)[0]
    created = {
        cgi.ok("/externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": [userid]})[
            "config_id"
        ]
        for _ in range(7)
    }
    seen: list[str] = []
    cursor = ""
    while True:
        body = cgi.ok("/externalcontact/list_contact_way", {"cursor": cursor, "limit": 3})
        seen += [w["config_id"] for w in body["contact_way"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(created)


def _scan(wecom_sim: WecomSim, **body: object) -> dict[str, object]:
    response = wecom_sim.control.post("/scan", json=body)
    response.raise_for_status()
    result: dict[str, object] = response.json()
    return result


def test_scan_adds_a_customer_with_the_ways_state(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _staff(wecom_sim)[0]
    way = cgi.ok(
        "/externalcontact/add_contact_way",
        {"type": 1, "scene": 2, "user": [userid], "state": "live-9"},
    )
    result = _scan(wecom_sim, config_id=way["config_id"], name="新客户")
    external_userid = str(result["external_userid"])
    assert result["userid"] == userid
    assert external_userid.startswith("wm")
    assert result["welcome_code"]
    body = cgi.ok("/externalcontact/get", external_userid=external_userid)
    assert body["external_contact"]["name"] == "新客户"
    assert body["follow_user"][0]["state"] == "live-9"
    assert body["follow_user"][0]["add_way"] == 1
    by_state = _scan(wecom_sim, state="live-9")
    assert by_state["userid"] == userid
    assert wecom_sim.control.post("/scan", json={"state": "unknown"}).status_code == 404


def test_multi_person_way_rotates_staff(wecom_sim: WecomSim, cgi: Cgi) -> None:
    a, b = _staff(wecom_sim)[:2]
    way = cgi.ok("/externalcontact/add_contact_way", {"type": 2, "scene": 2, "user": [a, b]})
    picked = [_scan(wecom_sim, config_id=way["config_id"])["userid"] for _ in range(4)]
    assert picked == [a, b, a, b]


def test_skip_verify_off_waits_for_the_member(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _staff(wecom_sim)[0]
    way = cgi.ok(
        "/externalcontact/add_contact_way",
        {"type": 1, "scene": 2, "user": [userid], "skip_verify": False},
    )
    result = _scan(wecom_sim, config_id=way["config_id"])
    assert result["pending"] is True
    assert result["welcome_code"] is None
    pair = (userid, str(result["external_userid"]))
    assert pair not in wecom_sim.state.follows
    accepted = wecom_sim.control.post(
        "/accept", json={"userid": userid, "external_userid": pair[1]}
    ).json()
    assert accepted["welcome_code"]
    assert pair in wecom_sim.state.follows


def _welcome(cgi: Cgi, code: object, content: str = "欢迎光临山茶集") -> int:
    body = {"welcome_code": code, "text": {"content": content}}
    errcode: int = cgi.post("/externalcontact/send_welcome_msg", body)["errcode"]
    return errcode


def _fresh_code(wecom_sim: WecomSim, cgi: Cgi) -> object:
    userid = _staff(wecom_sim)[0]
    way = cgi.ok("/externalcontact/add_contact_way", {"type": 1, "scene": 2, "user": [userid]})
    return _scan(wecom_sim, config_id=way["config_id"])["welcome_code"]


def test_welcome_code_works_once(wecom_sim: WecomSim, cgi: Cgi) -> None:
    code = _fresh_code(wecom_sim, cgi)
    assert _welcome(cgi, code) == 0
    assert _welcome(cgi, code) == 41051
    sent = wecom_sim.state.welcome_messages
    assert [(m.welcome_code, m.text) for m in sent] == [(code, {"content": "欢迎光临山茶集"})]


def test_welcome_code_expires_after_20_seconds(wecom_sim: WecomSim, cgi: Cgi) -> None:
    code = _fresh_code(wecom_sim, cgi)
    wecom_sim.control.post("/clock/advance", json={"seconds": 19}).raise_for_status()
    assert _welcome(cgi, code) == 0
    late = _fresh_code(wecom_sim, cgi)
    wecom_sim.control.post("/clock/advance", json={"seconds": 21}).raise_for_status()
    assert _welcome(cgi, late) == 41050


def test_welcome_message_errcodes(wecom_sim: WecomSim, cgi: Cgi) -> None:
    assert cgi.post("/externalcontact/send_welcome_msg", {})["errcode"] == 41049
    assert _welcome(cgi, "unknown-code") == 41050
    code = _fresh_code(wecom_sim, cgi)
    assert _welcome(cgi, code, content="") == 44004
    assert _welcome(cgi, code, content="长" * 1400) == 45002
    attachments = [{"msgtype": "link", "link": {"title": "t", "url": "https://x"}}] * 10
    too_many = {"welcome_code": code, "attachments": attachments}
    assert cgi.post("/externalcontact/send_welcome_msg", too_many)["errcode"] == 40058
    assert _welcome(cgi, code) == 0
