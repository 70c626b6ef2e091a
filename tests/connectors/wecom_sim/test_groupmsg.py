"""Mass messages: a task per member, confirmed in the client, with per-recipient results."""

from siyu.connectors.wecom_sim import WecomSim
from tests.connectors.wecom_sim.conftest import Cgi


def _member_with_customers(wecom_sim: WecomSim) -> tuple[str, list[str]]:
    state = wecom_sim.state
    userid = next(u for u in state.members if state.follows_of_member(u))
    return userid, [f.external_userid for f in state.follows_of_member(userid)]


def test_a_task_waits_for_the_member_then_reports_results(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid, customers = _member_with_customers(wecom_sim)
    created = cgi.ok(
        "/externalcontact/add_msg_template",
        {
            "sender": userid,
            "external_userid": [*customers, "wmnope"],
            "text": {"content": "双十一会员专享"},
        },
    )
    msgid = created["msgid"]
    assert msgid.startswith("msg")
    assert created["fail_list"] == ["wmnope"]
    tasks = cgi.ok("/externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]
    assert tasks == [{"userid": userid, "status": 0, "send_time": 0}]
    pending = cgi.ok(
        "/externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": userid}
    )
    assert {r["status"] for r in pending["send_list"]} == {0}
    gone = customers[0]
    wecom_sim.control.post(
        "/customer-deletes-staff", json={"userid": userid, "external_userid": gone}
    ).raise_for_status()
    counts = wecom_sim.control.post(
        "/groupmsg/confirm", json={"msgid": msgid, "userid": userid}
    ).json()
    assert counts == {"sent": len(customers) - 1, "not_friend": 1, "over_quota": 0}
    tasks = cgi.ok("/externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]
    assert tasks[0]["status"] == 2
    assert tasks[0]["send_time"] > 0
    results = cgi.ok(
        "/externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": userid}
    )["send_list"]
    by_customer = {r["external_userid"]: r["status"] for r in results}
    assert by_customer.pop(gone) == 2
    assert set(by_customer.values()) == {1}


def test_the_monthly_quota_skips_customers_over_it(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(monthly_mass_quota=1)
    userid, customers = _member_with_customers(wecom_sim)
    outcomes = []
    for _ in range(2):
        msgid = cgi.ok(
            "/externalcontact/add_msg_template",
            {"sender": userid, "external_userid": customers[:1], "text": {"content": "上新"}},
        )["msgid"]
        outcomes.append(
            wecom_sim.control.post(
                "/groupmsg/confirm", json={"msgid": msgid, "userid": userid}
            ).json()
        )
    assert outcomes == [
        {"sent": 1, "not_friend": 0, "over_quota": 0},
        {"sent": 0, "not_friend": 0, "over_quota": 1},
    ]


def test_without_a_sender_each_customer_goes_to_the_member_who_added_them_last(
    wecom_sim: WecomSim, cgi: Cgi
) -> None:
    state = wecom_sim.state
    customer = next(iter(state.contacts))
    follows = state.follows_of_contact(customer)
    latest = max(follows, key=lambda f: f.createtime).userid
    msgid = cgi.ok(
        "/externalcontact/add_msg_template",
        {"external_userid": [customer], "text": {"content": "hi"}},
    )["msgid"]
    tasks = cgi.ok("/externalcontact/get_groupmsg_task", {"msgid": msgid})["task_list"]
    assert [t["userid"] for t in tasks] == [latest]


def test_group_mass_message_goes_to_the_senders_groups(wecom_sim: WecomSim, cgi: Cgi) -> None:
    chat = next(iter(wecom_sim.state.groups.values()))
    msgid = cgi.ok(
        "/externalcontact/add_msg_template",
        {"chat_type": "group", "sender": chat.owner, "text": {"content": "群公告"}},
    )["msgid"]
    wecom_sim.control.post("/groupmsg/confirm", json={"msgid": msgid, "userid": chat.owner})
    results = cgi.ok(
        "/externalcontact/get_groupmsg_send_result", {"msgid": msgid, "userid": chat.owner}
    )["send_list"]
    assert chat.chat_id in {r["chat_id"] for r in results}
    assert {r["status"] for r in results} == {1}


def test_list_v2_finds_tasks_in_the_window(wecom_sim: WecomSim, cgi: Cgi) -> None:
    userid, customers = _member_with_customers(wecom_sim)
    msgids = {
        cgi.ok(
            "/externalcontact/add_msg_template",
            {"sender": userid, "external_userid": customers, "text": {"content": f"第{i}期"}},
        )["msgid"]
        for i in range(3)
    }
    now = wecom_sim.state.now_int()
    seen: list[str] = []
    cursor = ""
    while True:
        body = cgi.ok(
            "/externalcontact/get_groupmsg_list_v2",
            {
                "chat_type": "single",
                "start_time": now - 3600,
                "end_time": now + 60,
                "limit": 2,
                "cursor": cursor,
            },
        )
        seen += [m["msgid"] for m in body["group_msg_list"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(msgids)
    too_long = {"chat_type": "single", "start_time": now - 40 * 86400, "end_time": now}
    assert cgi.post("/externalcontact/get_groupmsg_list_v2", too_long)["errcode"] == 40058


def test_groupmsg_errcodes(wecom_sim: WecomSim, cgi: Cgi) -> None:
    assert cgi.post("/externalcontact/get_groupmsg_task", {})["errcode"] == 41046
    assert cgi.post("/externalcontact/get_groupmsg_task", {"msgid": "msgnope"})["errcode"] == 41047
    nobody = {"external_userid": ["wmnope"], "text": {"content": "hi"}}
    refused = cgi.post("/externalcontact/add_msg_template", nobody)
    assert refused["errcode"] == 41048
    assert refused["fail_list"] == ["wmnope"]
    empty = {"external_userid": list(wecom_sim.state.contacts)[:1]}
    assert cgi.post("/externalcontact/add_msg_template", empty)["errcode"] == 44004
    group = {"chat_type": "group", "text": {"content": "x"}}
    assert cgi.post("/externalcontact/add_msg_template", group)["errcode"] == 40058


def test_results_are_not_ready_while_the_task_is_dispatched(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(groupmsg_dispatch_seconds=5)
    userid, customers = _member_with_customers(wecom_sim)
    msgid = cgi.ok(
        "/externalcontact/add_msg_template",
        {"sender": userid, "external_userid": customers, "text": {"content": "hi"}},
    )["msgid"]
    assert cgi.post("/externalcontact/get_groupmsg_task", {"msgid": msgid})["errcode"] == 41063
    wecom_sim.control.post("/clock/advance", json={"seconds": 6}).raise_for_status()
    assert cgi.post("/externalcontact/get_groupmsg_task", {"msgid": msgid})["errcode"] == 0


def test_send_results_page_through_every_recipient_once(wecom_sim: WecomSim, cgi: Cgi) -> None:
    wecom_sim.reset(staff=1, contacts=23)
    userid, customers = _member_with_customers(wecom_sim)
    msgid = cgi.ok(
        "/externalcontact/add_msg_template",
        {"sender": userid, "external_userid": customers, "text": {"content": "hi"}},
    )["msgid"]
    seen: list[str] = []
    cursor = ""
    while True:
        body = cgi.ok(
            "/externalcontact/get_groupmsg_send_result",
            {"msgid": msgid, "userid": userid, "limit": 5, "cursor": cursor},
        )
        seen += [r["external_userid"] for r in body["send_list"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(customers)
