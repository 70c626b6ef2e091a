"""On-job and resigned inheritance: pending for a day, then done or failed."""

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi, Receiver
from tests.connectors.wecom_sim.test_callbacks import events

DAY = 24 * 3600


def _two_staff(wecom_sim: WecomSim) -> tuple[str, str, list[str]]:
    state = wecom_sim.state
    handover = next(u for u in state.members if state.follows_of_member(u))
    takeover = next(u for u in state.members if u != handover)
    customers = [
        f.external_userid
        for f in state.follows_of_member(handover)
        if (takeover, f.external_userid) not in state.follows
    ]
    return handover, takeover, customers


def test_onjob_transfer_waits_then_completes(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    handover, takeover, customers = _two_staff(wecom_sim)
    customer = customers[0]
    started = cgi.ok(
        "/externalcontact/transfer_customer",
        {"handover_userid": handover, "takeover_userid": takeover, "external_userid": [customer]},
    )
    assert started["customer"] == [{"external_userid": customer, "errcode": 0}]
    pair = {"handover_userid": handover, "takeover_userid": takeover}
    (waiting,) = cgi.ok("/externalcontact/transfer_result", pair)["customer"]
    assert waiting["status"] == 2
    assert waiting["takeover_time"] >= wecom_sim.state.now_int() + DAY - 5
    wecom_sim.control.post("/clock/advance", json={"seconds": DAY + 1}).raise_for_status()
    (done,) = cgi.ok("/externalcontact/transfer_result", pair)["customer"]
    assert done["status"] == 1
    assert (takeover, customer) in wecom_sim.state.follows
    assert (handover, customer) not in wecom_sim.state.follows
    removed, added = events(wecom_sim, receiver, 2)
    assert removed.findtext("ChangeType") == "del_external_contact"
    assert removed.findtext("Source") == "DELETE_BY_TRANSFER"
    assert added.findtext("ChangeType") == "add_external_contact"
    assert added.findtext("UserID") == takeover


def test_a_refused_transfer_pushes_transfer_fail(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    handover, takeover, customers = _two_staff(wecom_sim)
    cgi.ok(
        "/externalcontact/transfer_customer",
        {
            "handover_userid": handover,
            "takeover_userid": takeover,
            "external_userid": customers[:1],
        },
    )
    wecom_sim.control.post(
        "/transfers/decide", json={"external_userid": customers[0], "outcome": 3}
    ).raise_for_status()
    wecom_sim.control.post("/clock/advance", json={"seconds": DAY + 1}).raise_for_status()
    wecom_sim.control.post("/transfers/settle").raise_for_status()
    (event,) = events(wecom_sim, receiver, 1)
    assert event.findtext("ChangeType") == "transfer_fail"
    assert event.findtext("FailReason") == "customer_refused"
    assert (handover, customers[0]) in wecom_sim.state.follows


def test_a_customer_is_transferred_at_most_twice_in_90_days(wecom_sim: WecomSim, cgi: Cgi) -> None:
    handover, takeover, customers = _two_staff(wecom_sim)
    customer = customers[0]
    members = [handover, takeover]
    for hop in range(2):
        body = {
            "handover_userid": members[hop % 2],
            "takeover_userid": members[(hop + 1) % 2],
            "external_userid": [customer],
        }
        assert cgi.ok("/externalcontact/transfer_customer", body)["customer"][0]["errcode"] == 0
        wecom_sim.control.post("/clock/advance", json={"seconds": DAY + 1}).raise_for_status()
        wecom_sim.control.post("/transfers/settle").raise_for_status()
    third = {
        "handover_userid": handover,
        "takeover_userid": takeover,
        "external_userid": [customer],
    }
    assert cgi.ok("/externalcontact/transfer_customer", third)["customer"][0]["errcode"] != 0


def test_transfer_errcodes(wecom_sim: WecomSim, cgi: Cgi) -> None:
    handover, takeover, customers = _two_staff(wecom_sim)
    stranger = next(
        e for e in wecom_sim.state.contacts if (handover, e) not in wecom_sim.state.follows
    )
    body = {
        "handover_userid": handover,
        "takeover_userid": takeover,
        "external_userid": [customers[0], customers[0], stranger, "wmnope"],
    }
    result = cgi.ok("/externalcontact/transfer_customer", body)["customer"]
    assert [r["errcode"] for r in result] == [0, 40100, 84061, 40096]
    too_many = {**body, "external_userid": [f"wm{i}" for i in range(101)]}
    assert cgi.post("/externalcontact/transfer_customer", too_many)["errcode"] == 81017
    nobody = {**body, "takeover_userid": "nobody"}
    assert cgi.post("/externalcontact/transfer_customer", nobody)["errcode"] == 40003
    not_resigned = {**body, "external_userid": customers[:1]}
    assert cgi.post("/externalcontact/resigned/transfer_customer", not_resigned)["errcode"] == 40097


def test_resigned_member_customers_are_unassigned_until_transferred(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    handover, takeover, customers = _two_staff(wecom_sim)
    assert cgi.ok("/externalcontact/get_unassigned_list", {})["info"] == []
    wecom_sim.control.post(f"/staff/{handover}/resign").raise_for_status()
    unassigned = cgi.ok("/externalcontact/get_unassigned_list", {})
    assert unassigned["is_last"] is True
    rows = unassigned["info"]
    assert {r["external_userid"] for r in rows} == {
        f.external_userid for f in wecom_sim.state.follows_of_member(handover)
    }
    assert all(r["handover_userid"] == handover and r["dimission_time"] > 0 for r in rows)
    body = {"handover_userid": handover, "takeover_userid": takeover, "external_userid": customers}
    result = cgi.ok("/externalcontact/resigned/transfer_customer", body)["customer"]
    assert all(r["errcode"] == 0 for r in result)
    left = {
        r["external_userid"] for r in cgi.ok("/externalcontact/get_unassigned_list", {})["info"]
    }
    assert not left & set(customers)
    wecom_sim.control.post("/clock/advance", json={"seconds": DAY + 1}).raise_for_status()
    pair = {"handover_userid": handover, "takeover_userid": takeover}
    statuses = {
        r["status"] for r in cgi.ok("/externalcontact/resigned/transfer_result", pair)["customer"]
    }
    assert statuses == {1}
    assert all((takeover, c) in wecom_sim.state.follows for c in customers)


def test_transfer_delay_is_configurable(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(transfer_delay=0)
    handover, takeover, customers = _two_staff(wecom_sim)
    body = {"handover_userid": handover, "takeover_userid": takeover, "external_userid": customers}
    cgi.ok("/externalcontact/transfer_customer", body)
    pair = {"handover_userid": handover, "takeover_userid": takeover}
    statuses = {r["status"] for r in cgi.ok("/externalcontact/transfer_result", pair)["customer"]}
    assert statuses == {1}


def test_unassigned_list_pages_with_the_legacy_page_size(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(staff=2, contacts=25)
    leaver = next(iter(wecom_sim.state.members))
    wecom_sim.control.post(f"/staff/{leaver}/resign").raise_for_status()
    expected = {f.external_userid for f in wecom_sim.state.follows_of_member(leaver)}
    seen: list[str] = []
    cursor = ""
    while True:
        body = cgi.ok("/externalcontact/get_unassigned_list", {"page_size": 4, "cursor": cursor})
        seen += [r["external_userid"] for r in body["info"]]
        cursor = body["next_cursor"]
        if body["is_last"]:
            break
    assert sorted(seen) == sorted(expected)
    second = cgi.ok("/externalcontact/get_unassigned_list", {"page_id": 1, "page_size": 4})
    assert [r["external_userid"] for r in second["info"]] == seen[4:8]
