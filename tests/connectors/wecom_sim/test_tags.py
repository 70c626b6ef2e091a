"""Corp tags and tagging customers through the API."""

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi


def test_tag_library_lists_live_groups_with_their_tags(wecom_sim: WecomSim, cgi: Cgi) -> None:
    groups = cgi.ok("/externalcontact/get_corp_tag_list", {})["tag_group"]
    assert [g["group_name"] for g in groups] == ["客户等级", "兴趣偏好", "来源渠道"]
    assert [t["name"] for t in groups[0]["tag"]] == ["VIP", "普通会员", "潜在客户"]
    assert "deleted" not in groups[0]
    one = cgi.ok("/externalcontact/get_corp_tag_list", {"group_id": [groups[1]["group_id"]]})
    assert [g["group_id"] for g in one["tag_group"]] == [groups[1]["group_id"]]
    assert one["tag_group"][0]["deleted"] is False
    tag_id = groups[2]["tag"][0]["id"]
    by_tag = cgi.ok("/externalcontact/get_corp_tag_list", {"tag_id": [tag_id]})
    assert [t["id"] for t in by_tag["tag_group"][0]["tag"]] == [tag_id]


def test_add_corp_tag_creates_a_group_or_appends(wecom_sim: WecomSim, cgi: Cgi) -> None:
    created = cgi.ok(
        "/externalcontact/add_corp_tag",
        {"group_name": "生日月", "tag": [{"name": "一月"}, {"name": "二月"}]},
    )["tag_group"]
    assert created["group_id"].startswith("et")
    assert [t["name"] for t in created["tag"]] == ["一月", "二月"]
    appended = cgi.ok(
        "/externalcontact/add_corp_tag", {"group_name": "生日月", "tag": [{"name": "三月"}]}
    )["tag_group"]
    assert appended["group_id"] == created["group_id"]
    assert [t["name"] for t in appended["tag"]] == ["三月"]
    duplicate = {"group_id": created["group_id"], "tag": [{"name": "一月"}]}
    assert cgi.post("/externalcontact/add_corp_tag", duplicate)["errcode"] == 40071
    too_long = {"group_name": "x", "tag": [{"name": "长" * 31}]}
    assert cgi.post("/externalcontact/add_corp_tag", too_long)["errcode"] == 40058
    unknown = {"group_id": "etnope", "tag": [{"name": "a"}]}
    assert cgi.post("/externalcontact/add_corp_tag", unknown)["errcode"] == 40068
    assert wecom_sim.state.pushes == []


def test_edit_and_delete_corp_tags(wecom_sim: WecomSim, cgi: Cgi) -> None:
    group = cgi.ok("/externalcontact/get_corp_tag_list", {})["tag_group"][0]
    first, second, third = (t["id"] for t in group["tag"])
    cgi.ok("/externalcontact/edit_corp_tag", {"id": first, "name": "超级VIP", "order": 9})
    assert wecom_sim.state.tags[first].name == "超级VIP"
    clash = {"id": second, "name": "超级VIP"}
    assert cgi.post("/externalcontact/edit_corp_tag", clash)["errcode"] == 40071
    cgi.ok("/externalcontact/edit_corp_tag", {"id": group["group_id"], "name": "会员等级"})
    assert wecom_sim.state.tag_groups[group["group_id"]].group_name == "会员等级"
    cgi.ok("/externalcontact/del_corp_tag", {"tag_id": [first, second]})
    live = cgi.ok("/externalcontact/get_corp_tag_list", {})["tag_group"]
    assert [t["id"] for t in live[0]["tag"]] == [third]
    cgi.ok("/externalcontact/del_corp_tag", {"tag_id": [third]})
    live = cgi.ok("/externalcontact/get_corp_tag_list", {})["tag_group"]
    assert group["group_id"] not in [g["group_id"] for g in live]
    assert cgi.post("/externalcontact/del_corp_tag", {"tag_id": [third]})["errcode"] == 40068
    assert cgi.post("/externalcontact/del_corp_tag", {})["errcode"] == 40058
    assert cgi.post("/externalcontact/edit_corp_tag", {"id": "etnope"})["errcode"] == 40068


def test_deleted_tags_disappear_from_customers(wecom_sim: WecomSim, cgi: Cgi) -> None:
    follow = next(f for f in wecom_sim.state.follows.values() if f.tag_ids)
    cgi.ok("/externalcontact/del_corp_tag", {"tag_id": [follow.tag_ids[0]]})
    body = cgi.ok("/externalcontact/get", external_userid=follow.external_userid)
    mine = next(f for f in body["follow_user"] if f["userid"] == follow.userid)
    assert follow.tag_ids[0] not in {t["tag_id"] for t in mine["tags"]}


def test_mark_tag_adds_and_removes_without_a_callback(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid, external_userid = next(iter(wecom_sim.state.follows))
    all_tags = list(wecom_sim.state.tags)
    follow = wecom_sim.state.follows[(userid, external_userid)]
    follow.tag_ids = [all_tags[0]]
    cgi.ok(
        "/externalcontact/mark_tag",
        {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": [all_tags[1], all_tags[2]],
            "remove_tag": [all_tags[0]],
        },
    )
    assert follow.tag_ids == [all_tags[1], all_tags[2]]
    assert wecom_sim.state.pushes == []
    pair = {"userid": userid, "external_userid": external_userid}
    assert cgi.post("/externalcontact/mark_tag", pair)["errcode"] == 40058
    unknown = {**pair, "add_tag": ["etnope"]}
    assert cgi.post("/externalcontact/mark_tag", unknown)["errcode"] == 40068
    stranger = {**pair, "external_userid": "wmnope", "add_tag": [all_tags[0]]}
    assert cgi.post("/externalcontact/mark_tag", stranger)["errcode"] == 40096
