"""The control API playing people, and the callbacks each action pushes."""

import xml.etree.ElementTree as ET

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi, Receiver
from tests.connectors.wecom_sim.test_callbacks import events


def _pair(wecom_sim: WecomSim) -> tuple[str, str]:
    with wecom_sim.state.lock:
        return next(iter(wecom_sim.state.follows))


def _fields(event: ET.Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in event if child.tag != "MemChangeList"}


def test_customer_deletes_staff(wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver) -> None:
    userid, external_userid = _pair(wecom_sim)
    pair = {"userid": userid, "external_userid": external_userid}
    wecom_sim.control.post("/customer-deletes-staff", json=pair).raise_for_status()
    (event,) = events(wecom_sim, receiver, 1)
    fields = _fields(event)
    del fields["CreateTime"]
    assert fields == {
        "ToUserName": wecom_sim.corp_id,
        "FromUserName": "sys",
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": "del_follow_user",
        "UserID": userid,
        "ExternalUserID": external_userid,
    }
    assert (userid, external_userid) not in wecom_sim.state.follows
    assert wecom_sim.control.post("/customer-deletes-staff", json=pair).status_code == 404


def test_customer_deletes_staff_can_leave_the_relation_listed(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    wecom_sim.reset(customer_delete_keeps_relation=True)
    userid, external_userid = _pair(wecom_sim)
    pair = {"userid": userid, "external_userid": external_userid}
    wecom_sim.control.post("/customer-deletes-staff", json=pair).raise_for_status()
    assert wecom_sim.state.follows[(userid, external_userid)].deleted_by_customer
    listed = cgi.ok("/externalcontact/list", userid=userid)["external_userid"]
    assert external_userid in listed
    assert wecom_sim.control.post("/customer-deletes-staff", json=pair).status_code == 404


def test_staff_deletes_customer(wecom_sim: WecomSim, receiver: Receiver) -> None:
    userid, external_userid = _pair(wecom_sim)
    wecom_sim.control.post(
        "/staff-deletes-customer", json={"userid": userid, "external_userid": external_userid}
    ).raise_for_status()
    (event,) = events(wecom_sim, receiver, 1)
    assert event.findtext("ChangeType") == "del_external_contact"
    assert event.findtext("ExternalUserID") == external_userid
    assert (userid, external_userid) not in wecom_sim.state.follows


def test_staff_edits_remark_and_tags(wecom_sim: WecomSim, receiver: Receiver) -> None:
    userid, external_userid = _pair(wecom_sim)
    tag_id = next(iter(wecom_sim.state.tags))
    pair = {"userid": userid, "external_userid": external_userid}
    wecom_sim.control.post(
        "/staff-edits-customer", json={**pair, "remark": "老客户", "add_tag": [tag_id]}
    ).raise_for_status()
    wecom_sim.control.post(
        "/staff-edits-customer", json={**pair, "remark_mobiles": ["13900000000"]}
    ).raise_for_status()
    wecom_sim.control.post(
        "/staff-edits-customer", json={**pair, "remove_tag": [tag_id]}
    ).raise_for_status()
    edit, untag = events(wecom_sim, receiver, 2)
    assert edit.findtext("ChangeType") == untag.findtext("ChangeType") == "edit_external_contact"
    follow = wecom_sim.state.follows[(userid, external_userid)]
    assert follow.remark == "老客户"
    assert follow.remark_mobiles == ["13900000000"]
    assert tag_id not in follow.tag_ids
    wecom_sim.wait_for_pushes(2)
    assert len(wecom_sim.state.pushes) == 2  # the phone-number-only edit fired nothing


def test_group_lifecycle_events(wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver) -> None:
    owner = next(iter(wecom_sim.state.members))
    customers = list(wecom_sim.state.contacts)[:3]
    chat_id = wecom_sim.control.post(
        "/groups", json={"owner": owner, "name": "新品体验群", "external_userids": customers[:1]}
    ).json()["chat_id"]
    before = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]
    wecom_sim.control.post(
        f"/groups/{chat_id}/join", json={"members": customers[1:], "scene": 3}
    ).raise_for_status()
    after = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat_id})["group_chat"]
    wecom_sim.control.post(
        f"/groups/{chat_id}/leave", json={"members": customers[:1], "scene": 1}
    ).raise_for_status()
    wecom_sim.control.post(
        f"/groups/{chat_id}/rename", json={"name": "老客户群"}
    ).raise_for_status()
    wecom_sim.control.post(f"/groups/{chat_id}/dismiss").raise_for_status()
    create, join, leave, rename, dismiss = events(wecom_sim, receiver, 5)
    assert (create.findtext("Event"), create.findtext("ChangeType")) == (
        "change_external_chat",
        "create",
    )
    assert create.findtext("ChatId") == chat_id
    assert join.findtext("UpdateDetail") == "add_member"
    assert join.findtext("JoinScene") == "3"
    assert join.findtext("MemChangeCnt") == "2"
    assert [i.text for i in join.iter("Item")] == customers[1:]
    assert join.findtext("LastMemVer") == before["member_version"]
    assert join.findtext("CurMemVer") == after["member_version"]
    assert len(after["member_list"]) == 4
    assert leave.findtext("UpdateDetail") == "del_member"
    assert leave.findtext("QuitScene") == "1"
    assert rename.findtext("UpdateDetail") == "change_name"
    assert dismiss.findtext("ChangeType") == "dismiss"
    gone = cgi.post("/externalcontact/groupchat/get", {"chat_id": chat_id})
    assert gone["errcode"] == 40050


def test_admin_tag_edits_push_change_external_tag(
    wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver
) -> None:
    created = wecom_sim.control.post(
        "/corp-tags", json={"group_name": "季节", "tags": ["春", "夏"]}
    ).json()
    group_id = created["group_id"]
    spring, summer = created["tag_ids"]
    wecom_sim.control.post(f"/corp-tags/{spring}/rename", json={"name": "春季"}).raise_for_status()
    wecom_sim.control.post(f"/corp-tags/{group_id}/shuffle").raise_for_status()
    wecom_sim.control.post(f"/corp-tags/{summer}/delete").raise_for_status()
    wecom_sim.control.post(f"/corp-tags/{group_id}/delete").raise_for_status()
    pushed = [
        (e.findtext("ChangeType"), e.findtext("Id"), e.findtext("TagType"))
        for e in events(wecom_sim, receiver, 7)
    ]
    assert pushed == [
        ("create", group_id, "tag_group"),
        ("create", spring, "tag"),
        ("create", summer, "tag"),
        ("update", spring, "tag"),
        ("shuffle", group_id, None),
        ("delete", summer, "tag"),
        ("delete", group_id, "tag_group"),
    ]
    live = cgi.ok("/externalcontact/get_corp_tag_list", {})["tag_group"]
    assert group_id not in {g["group_id"] for g in live}


def test_hire_and_resign_push_change_contact(wecom_sim: WecomSim, receiver: Receiver) -> None:
    userid = wecom_sim.control.post(
        "/staff", json={"name": "李新", "userid": "lixin", "department": 2}
    ).json()["userid"]
    wecom_sim.control.post(f"/staff/{userid}/resign").raise_for_status()
    create, delete = events(wecom_sim, receiver, 2)
    assert (create.findtext("Event"), create.findtext("ChangeType")) == (
        "change_contact",
        "create_user",
    )
    assert create.findtext("UserID") == "lixin"
    assert create.findtext("Name") == "李新"
    assert delete.findtext("ChangeType") == "delete_user"
    assert wecom_sim.state.members["lixin"].status == 5


def test_state_dump_and_reset(wecom_sim: WecomSim) -> None:
    dump = wecom_sim.control.get("/state").json()
    assert dump["corp_id"] == wecom_sim.corp_id
    assert len(dump["members"]) == 5
    assert len(dump["contacts"]) == 30
    wecom_sim.control.post("/reset", json={"overrides": {"staff": 2, "contacts": 3}})
    dump = wecom_sim.control.get("/state").json()
    assert (len(dump["members"]), len(dump["contacts"])) == (2, 3)
    assert wecom_sim.control.post("/reset", json={"overrides": {"nope": 1}}).status_code == 400


def test_group_notice_and_owner_changes(wecom_sim: WecomSim, cgi: Cgi, receiver: Receiver) -> None:
    chat = next(iter(wecom_sim.state.groups.values()))
    new_owner = next(u for u in wecom_sim.state.members if u != chat.owner)
    wecom_sim.control.post(
        f"/groups/{chat.chat_id}/notice", json={"notice": "本周六会员日"}
    ).raise_for_status()
    wecom_sim.control.post(
        f"/groups/{chat.chat_id}/owner", json={"userid": new_owner}
    ).raise_for_status()
    notice, owner = events(wecom_sim, receiver, 2)
    assert notice.findtext("UpdateDetail") == "change_notice"
    assert owner.findtext("UpdateDetail") == "change_owner"
    group = cgi.ok("/externalcontact/groupchat/get", {"chat_id": chat.chat_id})["group_chat"]
    assert (group["notice"], group["owner"]) == ("本周六会员日", new_owner)
    assert new_owner in {m["userid"] for m in group["member_list"]}
