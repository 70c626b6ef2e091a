"""Customers, the member–customer relation, and pagination."""

from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.seed import add_contact, add_follow
from tests.connectors.wecom_sim.conftest import Cgi


def _member_with_customers(wecom_sim: WecomSim) -> str:
    with wecom_sim.state.lock:
        return next(uid for (uid, _) in wecom_sim.state.follows)


def test_list_returns_the_members_customers(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _member_with_customers(wecom_sim)
    expected = {ext for (uid, ext) in wecom_sim.state.follows if uid == userid}
    assert set(cgi.ok("/externalcontact/list", userid=userid)["external_userid"]) == expected
    assert cgi.get("/externalcontact/list", userid="nobody")["errcode"] == 40003
    missing = cgi.get("/externalcontact/list")
    assert missing["errcode"] == 40003
    assert missing["external_userid"] == []


def test_a_member_without_customers_gets_84061(wecom_sim: WecomSim, cgi: Cgi) -> None:
    hired = wecom_sim.control.post("/staff", json={"name": "新员工"}).json()["userid"]
    assert cgi.get("/externalcontact/list", userid=hired)["errcode"] == 84061


def test_get_returns_the_contact_and_every_follow_user_with_tags(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    state = wecom_sim.state
    follow = next(f for f in state.follows.values() if f.tag_ids)
    body = cgi.ok("/externalcontact/get", external_userid=follow.external_userid)
    contact = body["external_contact"]
    assert contact["external_userid"] == follow.external_userid
    assert contact["name"] == state.contacts[follow.external_userid].name
    assert contact["type"] == 1
    mine = next(f for f in body["follow_user"] if f["userid"] == follow.userid)
    assert mine["createtime"] == follow.createtime
    assert {t["tag_id"] for t in mine["tags"]} == set(follow.tag_ids)
    tag = state.tags[follow.tag_ids[0]]
    assert {
        "group_name": state.tag_groups[tag.group_id].group_name,
        "tag_name": tag.name,
        "tag_id": tag.id,
        "type": 1,
    } in mine["tags"]
    assert "next_cursor" not in body


def test_get_errcodes(cgi: Cgi) -> None:
    assert cgi.get("/externalcontact/get")["errcode"] == 41035
    assert cgi.get("/externalcontact/get", external_userid="wmnope")["errcode"] == 40096


def test_get_pages_follow_users_at_500(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(staff=501, contacts=0)
    state = wecom_sim.state
    external_userid = add_contact(state, "大客户").external_userid
    for index, userid in enumerate(state.members):
        add_follow(state, userid, external_userid, createtime=1_700_000_000 + index)
    first = cgi.ok("/externalcontact/get", external_userid=external_userid)
    assert len(first["follow_user"]) == 500
    second = cgi.ok(
        "/externalcontact/get", external_userid=external_userid, cursor=first["next_cursor"]
    )
    assert len(second["follow_user"]) == 1
    assert "next_cursor" not in second


def test_batch_get_by_user_walks_every_relation_exactly_once(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(staff=4, contacts=260)
    userids = list(wecom_sim.state.members)
    seen: list[tuple[str, str]] = []
    cursor = ""
    pages = 0
    while True:
        body = cgi.ok(
            "/externalcontact/batch/get_by_user",
            {"userid_list": userids, "cursor": cursor, "limit": 1000},
        )
        assert len(body["external_contact_list"]) <= 100
        pages += 1
        seen += [
            (row["follow_info"]["userid"], row["external_contact"]["external_userid"])
            for row in body["external_contact_list"]
        ]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(wecom_sim.state.follows)
    assert len(seen) == len(set(seen))
    assert pages == -(-len(seen) // 100)


def test_batch_get_by_user_limits(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _member_with_customers(wecom_sim)
    default = cgi.ok("/externalcontact/batch/get_by_user", {"userid_list": [userid], "limit": 2})
    assert len(default["external_contact_list"]) == 2
    row = default["external_contact_list"][0]
    assert set(row["follow_info"]) >= {"userid", "remark", "createtime", "tag_id", "add_way"}
    too_many = cgi.post(
        "/externalcontact/batch/get_by_user", {"userid_list": [f"u{i}" for i in range(101)]}
    )
    assert too_many["errcode"] == 81017
    assert too_many["external_contact_list"] == []
    assert cgi.post("/externalcontact/batch/get_by_user", {})["errcode"] == 40003
    assert cgi.post("/externalcontact/batch/get_by_user", {"userid_list": ["x"]})["errcode"] == (
        40003
    )


def test_remark_updates_the_relation_without_a_callback(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid, external_userid = next(iter(wecom_sim.state.follows))
    cgi.ok(
        "/externalcontact/remark",
        {
            "userid": userid,
            "external_userid": external_userid,
            "remark": "王姐",
            "description": "喜欢香氛",
            "remark_mobiles": ["13800000000"],
        },
    )
    follow = wecom_sim.state.follows[(userid, external_userid)]
    assert (follow.remark, follow.description, follow.remark_mobiles) == (
        "王姐",
        "喜欢香氛",
        ["13800000000"],
    )
    assert wecom_sim.state.pushes == []
    too_long = {"userid": userid, "external_userid": external_userid, "remark": "长" * 21}
    assert cgi.post("/externalcontact/remark", too_long)["errcode"] == 40058
    other = next(
        u for u in wecom_sim.state.members if (u, external_userid) not in wecom_sim.state.follows
    )
    no_relation = {"userid": other, "external_userid": external_userid, "remark": "x"}
    assert cgi.post("/externalcontact/remark", no_relation)["errcode"] == 84061


def test_bad_json_is_a_data_format_error(wecom_sim: WecomSim, cgi: Cgi) -> None:
    response = cgi.http.post(
        "/externalcontact/remark", params={"access_token": cgi.token}, content=b"{not json"
    )
    assert response.json()["errcode"] == 47001


def test_wrong_method(cgi: Cgi) -> None:
    assert cgi.get("/externalcontact/remark")["errcode"] == 43002
    assert cgi.post("/externalcontact/get")["errcode"] == 43001


def test_cursors_are_opaque_and_checked(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = _member_with_customers(wecom_sim)
    first = cgi.ok("/externalcontact/batch/get_by_user", {"userid_list": [userid], "limit": 1})
    assert first["next_cursor"]
    assert not first["next_cursor"].isdigit()
    bad = {"userid_list": [userid], "cursor": "12"}
    assert cgi.post("/externalcontact/batch/get_by_user", bad)["errcode"] == 40058
