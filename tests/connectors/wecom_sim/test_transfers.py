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


def _chats(wecom_sim: WecomSim, count: int, **overrides: int) -> tuple[str, str, list[str]]:
    """An owner with `count` customer groups and another member to hand them to."""
    wecom_sim.reset(staff=3, contacts=12, groups=0, **overrides)
    state = wecom_sim.state
    owner, new_owner = sorted(state.members)[:2]
    customers = sorted(state.contacts)[:2]
    chat_ids = [
        wecom_sim.control.post(
            "/groups", json={"owner": owner, "name": f"群{i}", "external_userids": customers}
        ).json()["chat_id"]
        for i in range(count)
    ]
    return owner, new_owner, chat_ids


def test_groups_of_a_resigned_owner_go_to_the_new_owner_at_once(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    owner, new_owner, (chat_id, other) = _chats(wecom_sim, 2)
    body = {"chat_id_list": [chat_id], "new_owner": new_owner}
    not_resigned = cgi.ok("/externalcontact/groupchat/transfer", body)["failed_chat_list"]
    assert [(f["chat_id"], f["errcode"]) for f in not_resigned] == [(chat_id, 90500)]
    wecom_sim.control.post(f"/staff/{owner}/resign").raise_for_status()
    wecom_sim.set_callback(receiver.url, receiver.token, receiver.encoding_aes_key)
    listed = cgi.ok("/externalcontact/groupchat/list", {"limit": 100, "status_filter": 1})
    assert {c["chat_id"] for c in listed["group_chat_list"]} == {chat_id, other}

    assert cgi.ok("/externalcontact/groupchat/transfer", body)["failed_chat_list"] == []

    chat = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]
    assert chat["owner"] == new_owner
    assert new_owner in {m["userid"] for m in chat["member_list"]}
    inherited = cgi.ok("/externalcontact/groupchat/list", {"limit": 100, "status_filter": 3})
    assert [c["chat_id"] for c in inherited["group_chat_list"]] == [chat_id]
    (event,) = events(wecom_sim, receiver, 1)
    assert (event.findtext("Event"), event.findtext("ChangeType")) == (
        "change_external_chat",
        "update",
    )
    assert (event.findtext("ChatId"), event.findtext("UpdateDetail")) == (chat_id, "change_owner")
    again = cgi.ok("/externalcontact/groupchat/transfer", body)["failed_chat_list"]
    assert [f["errcode"] for f in again] == [90504]  # already the owner


def test_onjob_group_transfers_answer_each_failed_chat_with_its_errcode(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    owner, new_owner, (chat_id, twice, gone) = _chats(wecom_sim, 3)
    third = next(u for u in sorted(wecom_sim.state.members) if u not in (owner, new_owner))
    for hop in (new_owner, owner):
        moved = {"chat_id_list": [twice], "new_owner": hop}
        assert cgi.ok("/externalcontact/groupchat/onjob_transfer", moved)["failed_chat_list"] == []
    wecom_sim.control.post(f"/groups/{gone}/dismiss").raise_for_status()

    body = {"chat_id_list": [chat_id, twice, gone], "new_owner": third}
    failed = cgi.ok("/externalcontact/groupchat/onjob_transfer", body)["failed_chat_list"]

    assert [(f["chat_id"], f["errcode"]) for f in failed] == [(twice, 40129), (gone, 90501)]
    assert all(f["errmsg"] for f in failed)
    assert wecom_sim.state.groups[chat_id].owner == third
    assert wecom_sim.state.groups[twice].owner == owner
    wecom_sim.control.post(f"/staff/{third}/resign").raise_for_status()
    resigned_owner = {"chat_id_list": [chat_id], "new_owner": owner}
    failed = cgi.ok("/externalcontact/groupchat/onjob_transfer", resigned_owner)
    assert [f["errcode"] for f in failed["failed_chat_list"]] == [90502]
    too_many = {"chat_id_list": [f"wr{i}" for i in range(101)], "new_owner": owner}
    assert cgi.post("/externalcontact/groupchat/onjob_transfer", too_many)["errcode"] == 40058
    nobody = {"chat_id_list": [twice], "new_owner": "nobody"}
    assert cgi.post("/externalcontact/groupchat/onjob_transfer", nobody)["errcode"] == 40003


def test_an_owner_s_groups_are_handed_over_at_most_so_many_a_day(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    _owner, new_owner, chat_ids = _chats(wecom_sim, 2, chat_transfers_per_day=1)
    body = {"chat_id_list": chat_ids, "new_owner": new_owner}

    failed = cgi.ok("/externalcontact/groupchat/onjob_transfer", body)["failed_chat_list"]

    assert [(f["chat_id"], f["errcode"]) for f in failed] == [(chat_ids[1], 40129)]
    wecom_sim.control.post("/clock/advance", json={"seconds": DAY}).raise_for_status()
    later = {"chat_id_list": chat_ids[1:], "new_owner": new_owner}
    assert cgi.ok("/externalcontact/groupchat/onjob_transfer", later)["failed_chat_list"] == []
