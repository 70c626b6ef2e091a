"""Customer group list and detail."""

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi


def test_groupchat_list_walks_every_group_once(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(groups=11)
    seen: list[str] = []
    cursor = ""
    while True:
        body = cgi.ok("/externalcontact/groupchat/list", {"cursor": cursor, "limit": 4})
        seen += [g["chat_id"] for g in body["group_chat_list"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(wecom_sim.state.groups)
    assert all(chat_id.startswith("wr") for chat_id in seen)


def test_groupchat_list_filters(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(groups=8)
    owner = next(iter(wecom_sim.state.groups.values())).owner
    owned = cgi.ok(
        "/externalcontact/groupchat/list",
        {"limit": 100, "owner_filter": {"userid_list": [owner]}},
    )["group_chat_list"]
    assert {g["chat_id"] for g in owned} == {
        c.chat_id for c in wecom_sim.state.groups.values() if c.owner == owner
    }
    wecom_sim.control.post(f"/staff/{owner}/resign").raise_for_status()
    resigned = cgi.ok("/externalcontact/groupchat/list", {"limit": 100, "status_filter": 1})
    assert {g["chat_id"] for g in resigned["group_chat_list"]} == {g["chat_id"] for g in owned}
    assert all(g["status"] == 1 for g in resigned["group_chat_list"])


def test_groupchat_list_errcodes(cgi: Cgi) -> None:
    missing = cgi.post("/externalcontact/groupchat/list", {})
    assert missing["errcode"] == 40058
    assert missing["group_chat_list"] == []
    assert cgi.post("/externalcontact/groupchat/list", {"limit": 1001})["errcode"] == 40058
    owners = {"limit": 10, "owner_filter": {"userid_list": [f"u{i}" for i in range(101)]}}
    assert cgi.post("/externalcontact/groupchat/list", owners)["errcode"] == 81017


def test_groupchat_get(wecom_sim: WecomSim, cgi: Cgi) -> None:
    chat = next(iter(wecom_sim.state.groups.values()))
    body = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat.chat_id, "need_name": 1})
    group = body["group_chat"]
    assert (group["chat_id"], group["owner"], group["name"]) == (
        chat.chat_id,
        chat.owner,
        chat.name,
    )
    assert len(group["member_list"]) == len(chat.members)
    owner_row = group["member_list"][0]
    assert (owner_row["userid"], owner_row["type"]) == (chat.owner, 1)
    assert owner_row["name"] == wecom_sim.state.members[chat.owner].name
    customer_row = group["member_list"][1]
    assert customer_row["type"] == 2
    assert customer_row["name"] == wecom_sim.state.contacts[customer_row["userid"]].name
    assert customer_row["invitor"] == {"userid": chat.owner}
    assert len(group["member_version"]) == 32
    no_names = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat.chat_id})
    assert "name" not in no_names["group_chat"]["member_list"][0]
    assert cgi.post("/externalcontact/groupchat/get", {"chat_id": "wrnope"})["errcode"] == 40050
