"""Departments and members."""

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi


def test_department_list_has_the_root_and_the_seeded_departments(
    wecom_sim: WecomSim, directory: Cgi, cgi: Cgi
) -> None:
    departments = directory.ok("/department/list")["department"]
    assert [d["id"] for d in departments] == [1, 2, 3, 4]
    assert departments[0]["parentid"] == 0
    assert {d["parentid"] for d in departments[1:]} == {1}
    assert cgi.ok("/department/list")["department"] == departments
    simple = directory.ok("/department/simplelist", id=2)["department_id"]
    assert simple == [{"id": 2, "parentid": 1, "order": departments[1]["order"]}]
    assert directory.get("/department/list", id=99)["errcode"] == 60123


def test_members_of_a_department(wecom_sim: WecomSim, directory: Cgi) -> None:
    with wecom_sim.state.lock:
        expected = {m.userid for m in wecom_sim.state.members.values() if 2 in m.department}
    simple = directory.ok("/user/simplelist", department_id=2)["userlist"]
    assert {u["userid"] for u in simple} == expected
    detail = directory.ok("/user/list", department_id=2)["userlist"]
    assert {u["userid"] for u in detail} == expected
    assert all(u["main_department"] == 2 for u in detail)
    assert directory.get("/user/simplelist")["errcode"] == 60112


def test_user_get(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid = next(iter(wecom_sim.state.members))
    member = cgi.ok("/user/get", userid=userid)
    assert member["userid"] == userid
    assert member["name"] == wecom_sim.state.members[userid].name
    assert cgi.get("/user/get", userid="nobody")["errcode"] == 60111
    assert cgi.get("/user/get")["errcode"] == 41009


def test_list_id_walks_every_member_once_and_needs_the_directory_secret(
    wecom_sim: WecomSim, directory: Cgi, cgi: Cgi
) -> None:
    wecom_sim.reset(staff=23, contacts=0)
    seen: list[str] = []
    cursor = ""
    while True:
        page = directory.ok("/user/list_id", {"cursor": cursor, "limit": 5})
        seen += [row["userid"] for row in page["dept_user"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(wecom_sim.state.members)
    assert directory.post("/user/list_id", {"limit": 10001})["errcode"] == 40058
    denied = cgi.post("/user/list_id", {"limit": 10})
    assert denied["errcode"] == 48002
    assert denied["dept_user"] == []


def test_follow_user_list_leaves_out_members_without_customer_contact(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    userids = list(wecom_sim.state.members)
    with wecom_sim.state.lock:
        wecom_sim.state.members[userids[0]].customer_contact = False
    assert cgi.ok("/externalcontact/get_follow_user_list")["follow_user"] == userids[1:]


def test_same_config_seeds_the_same_corp(wecom_sim: WecomSim) -> None:
    first = sorted((m.userid, m.name) for m in wecom_sim.state.members.values())
    contacts = sorted(wecom_sim.state.contacts)
    wecom_sim.reset()
    assert sorted((m.userid, m.name) for m in wecom_sim.state.members.values()) == first
    assert sorted(wecom_sim.state.contacts) == contacts
    assert wecom_sim.corp_id.startswith("ww")
    assert len(wecom_sim.corp_id) == 18
    assert all(e.startswith("wm") and len(e) == 34 for e in contacts)
