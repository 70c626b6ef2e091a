import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import ReleasingLimiter, client_for
from siyu.connectors.wecom.errors import (
    WecomApiError,
    WecomInvalidParam,
    WecomNotFound,
    WecomPermissionDenied,
    WecomRateLimited,
    WecomTokenError,
    WecomUnavailable,
    error_for,
)
from siyu.connectors.wecom.schemas.contact_ways import AddContactWayRequest, UpdateContactWayRequest
from siyu.connectors.wecom.schemas.messages import (
    AddMsgTemplateRequest,
    Attachment,
    AttachmentType,
    GroupMsg,
    TextContent,
)
from siyu.connectors.wecom.schemas.org import UserGetResponse
from siyu.connectors.wecom.tokens import TokenCache
from siyu.connectors.wecom.transport import started
from siyu.connectors.wecom_sim import WecomSim
from siyu.exceptions import NotFound
from siyu.kit.ratelimit import DatabaseLimiter
from siyu.models import RateBucket, WecomConnection
from tests.conftest import WorkspaceFixture

T = TypeVar("T")


def call(
    sim: WecomSim,
    action: Callable[[WecomClient], Awaitable[T]],
    *,
    secret: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> T:
    async def run() -> T:
        wecom = WecomClient(
            sim.corp_id,
            secret or sim.contact_secret,
            sim.base_url,
            tokens=TokenCache(),
            backoff=0.01,
            http=http,
        )
        async with wecom:
            try:
                return await action(wecom)
            finally:
                if http is not None:
                    await http.aclose()

    return asyncio.run(run())


def faults(sim: WecomSim, **settings: Any) -> None:
    sim.control.post("/faults", json=settings).raise_for_status()


def test_a_burst_of_45009_is_backed_off_and_the_call_succeeds(wecom_sim: WecomSim) -> None:
    faults(wecom_sim, burst_45009=3, burst_path="department/list")

    result = call(wecom_sim, lambda w: w.department_list())

    assert {d.id for d in result.department} == set(wecom_sim.state.departments)


def test_rate_limiting_is_waited_out_longer_than_other_failures(wecom_sim: WecomSim) -> None:
    """WeCom's limits are per minute: six refusals in a row still end in a success."""
    faults(wecom_sim, burst_45009=6, burst_path="department/list")

    result = call(wecom_sim, lambda w: w.department_list())

    assert {d.id for d in result.department} == set(wecom_sim.state.departments)


def test_rate_limiting_that_does_not_stop_becomes_a_typed_error(wecom_sim: WecomSim) -> None:
    faults(wecom_sim, burst_45009=50, burst_path="department/list")

    with pytest.raises(WecomRateLimited) as raised:
        call(wecom_sim, lambda w: w.department_list())

    assert raised.value.errcode == 45009
    assert raised.value.hint is not None


def test_errcodes_become_typed_errors_with_chinese_hints(wecom_sim: WecomSim) -> None:
    with pytest.raises(WecomNotFound) as not_found:
        call(wecom_sim, lambda w: w.externalcontact_get("wm-nobody"))
    assert not_found.value.errcode == 40096
    assert not_found.value.hint is not None
    assert "重新同步" in not_found.value.hint
    assert not_found.value.details["errcode"] == 40096

    # The directory secret may not call customer-contact APIs: WeCom says 48002.
    with pytest.raises(WecomPermissionDenied) as denied:
        call(
            wecom_sim,
            lambda w: w.externalcontact_get_follow_user_list(),
            secret=wecom_sim.directory_secret,
        )
    assert denied.value.hint is not None
    assert "可调用接口的应用" in denied.value.hint


def test_an_errcode_without_a_hint_is_still_typed(wecom_sim: WecomSim) -> None:
    with pytest.raises(WecomInvalidParam) as raised:
        call(
            wecom_sim,
            lambda w: w.user_list_id(cursor="not-a-cursor"),
            secret=wecom_sim.directory_secret,
        )

    assert raised.value.errcode == 40058
    assert raised.value.hint is None
    assert isinstance(raised.value, WecomApiError)


def counting_http(sim: WecomSim, *, recover_after_5xx: bool) -> tuple[httpx.AsyncClient, list[int]]:
    statuses: list[int] = []

    async def seen(response: httpx.Response) -> None:
        statuses.append(response.status_code)
        if recover_after_5xx and response.status_code >= 500:
            with sim.state.lock:
                sim.state.error_rate_5xx = 0.0

    return httpx.AsyncClient(event_hooks={"response": [seen]}), statuses


def test_a_read_is_retried_after_a_server_error(wecom_sim: WecomSim) -> None:
    http, statuses = counting_http(wecom_sim, recover_after_5xx=True)

    async def read(w: WecomClient) -> int:
        await w.department_list()  # the token first, so only the read meets the outage
        faults(wecom_sim, error_rate_5xx=1.0)
        return len((await w.department_list()).department)

    count = call(wecom_sim, read, http=http)

    assert count == len(wecom_sim.state.departments)
    assert statuses[-2] >= 500
    assert statuses[-1] == 200


def test_a_write_is_not_retried_after_a_server_error(wecom_sim: WecomSim) -> None:
    http, statuses = counting_http(wecom_sim, recover_after_5xx=False)
    userid = next(iter(wecom_sim.state.members))

    async def write(w: WecomClient) -> None:
        await w.department_list()  # the token first, so only the write meets the outage
        statuses.clear()
        faults(wecom_sim, error_rate_5xx=1.0)
        await w.externalcontact_add_contact_way(
            AddContactWayRequest(type=1, scene=2, user=[userid])
        )

    with pytest.raises(WecomUnavailable):
        call(wecom_sim, write, http=http)

    assert len(statuses) == 1
    with wecom_sim.state.lock:
        assert wecom_sim.state.contact_ways == {}


def test_paging_helpers_walk_every_record(wecom_sim: WecomSim) -> None:
    with wecom_sim.state.lock:
        follows = set(wecom_sim.state.follows)
        chats = set(wecom_sim.state.groups)
        dept_users = {
            (m.userid, d)
            for m in wecom_sim.state.members.values()
            for d in m.department
            if m.status != 5
        }

    async def walk(w: WecomClient) -> tuple[set[tuple[str, str]], set[str]]:
        userids = (await w.externalcontact_get_follow_user_list()).follow_user
        pairs = {
            (row.follow_info.userid, row.external_contact.external_userid)
            async for row in w.iter_batch_get_by_user(userids, limit=7)
        }
        groups = {ref.chat_id async for ref in w.iter_groupchat_list(limit=1)}
        return pairs, groups

    pairs, groups = call(wecom_sim, walk)
    members = call(
        wecom_sim,
        lambda w: _collect(w.iter_user_list_id(limit=2)),
        secret=wecom_sim.directory_secret,
    )

    assert len(follows) > 7
    assert pairs == follows
    assert len(chats) > 1
    assert groups == chats
    assert {(row.userid, row.department) for row in members} == dept_users


async def _collect(rows: Any) -> list[Any]:
    return [row async for row in rows]


def test_customer_detail_parses_follow_users_and_their_tags(wecom_sim: WecomSim) -> None:
    with wecom_sim.state.lock:
        tagged = next(f for f in wecom_sim.state.follows.values() if f.tag_ids)

    detail = call(wecom_sim, lambda w: w.externalcontact_get_all(tagged.external_userid))

    assert detail.external_contact.external_userid == tagged.external_userid
    follow = next(f for f in detail.follow_user if f.userid == tagged.userid)
    assert {t.tag_id for t in follow.tags} == set(tagged.tag_ids)
    assert all(t.tag_name and t.group_name for t in follow.tags)


def test_a_welcome_message_with_attachments_is_sent_once(wecom_sim: WecomSim) -> None:
    userid = call(wecom_sim, lambda w: w.externalcontact_get_follow_user_list()).follow_user[0]
    way = call(
        wecom_sim,
        lambda w: w.externalcontact_add_contact_way(
            AddContactWayRequest(type=1, scene=2, user=[userid], state="spring-poster")
        ),
    )
    scan = wecom_sim.control.post("/scan", json={"config_id": way.config_id}).json()
    attachments = [
        Attachment.of_link(title="新人礼", url="https://example.com/gift"),
        Attachment.of_image(pic_url="https://example.com/a.png"),
    ]

    call(
        wecom_sim,
        lambda w: w.externalcontact_send_welcome_msg(scan["welcome_code"], "欢迎！", attachments),
    )
    with pytest.raises(WecomInvalidParam) as again:
        call(wecom_sim, lambda w: w.externalcontact_send_welcome_msg(scan["welcome_code"], "again"))

    with wecom_sim.state.lock:
        sent = list(wecom_sim.state.welcome_messages)
    assert len(sent) == 1
    assert sent[0].text == {"content": "欢迎！"}
    assert [a["msgtype"] for a in sent[0].attachments] == ["link", "image"]
    assert again.value.errcode in (41050, 41051)
    assert again.value.hint is not None


def test_contact_way_round_trip(wecom_sim: WecomSim) -> None:
    userid = next(iter(wecom_sim.state.members))

    async def run(w: WecomClient) -> tuple[str, str, set[str]]:
        created = await w.externalcontact_add_contact_way(
            AddContactWayRequest(type=1, scene=2, user=[userid], state="s0", remark="海报")
        )
        await w.externalcontact_update_contact_way(
            UpdateContactWayRequest(config_id=created.config_id, state="s1")
        )
        way = (await w.externalcontact_get_contact_way(created.config_id)).contact_way
        listed = {ref.config_id async for ref in w.iter_list_contact_way()}
        await w.externalcontact_del_contact_way(created.config_id)
        return created.config_id, way.state, listed

    config_id, state, listed = call(wecom_sim, run)

    assert state == "s1"
    assert config_id in listed
    with wecom_sim.state.lock:
        assert config_id not in wecom_sim.state.contact_ways


def test_one_client_serves_several_event_loops(wecom_sim: WecomSim) -> None:
    wecom = WecomClient(
        wecom_sim.corp_id, wecom_sim.contact_secret, wecom_sim.base_url, tokens=TokenCache()
    )

    first = asyncio.run(wecom.department_list())
    second = asyncio.run(wecom.department_list())

    assert first.department == second.department


def connect(db: Session, workspace_id: int, sim: WecomSim) -> None:
    db.add(
        WecomConnection(
            workspace_id=workspace_id,
            corp_id=sim.corp_id,
            contact_secret=SecretStr(sim.contact_secret),
            directory_secret=SecretStr(sim.directory_secret),
            callback_token=SecretStr("token"),
            encoding_aes_key=SecretStr("k" * 43),
            api_base_url=sim.base_url,
        )
    )
    db.commit()


def test_client_for_uses_the_workspace_connection_and_the_shared_limiter(
    wecom_sim: WecomSim, engine: Engine, db: Session, workspace: WorkspaceFixture
) -> None:
    connect(db, workspace.id, wecom_sim)
    contact = client_for(db, workspace.id)
    directory = client_for(db, workspace.id, secret="directory")

    async def run() -> tuple[int, int]:
        async with contact, directory:
            follow = await contact.externalcontact_get_follow_user_list()
            ids = [row async for row in directory.iter_user_list_id()]
            return len(follow.follow_user), len(ids)

    follow_users, member_rows = asyncio.run(run())
    db.commit()

    assert follow_users > 0
    assert member_rows > 0
    assert isinstance(contact.limiter, ReleasingLimiter)
    assert isinstance(contact.limiter.inner, DatabaseLimiter)
    rows = db.scalars(select(RateBucket.key).where(RateBucket.workspace_id == workspace.id))
    keys = {key.split("@")[0] for key in rows}  # "@60s#17": a slot of the minute window
    assert {
        "wecom:gettoken",
        "wecom:externalcontact/get_follow_user_list",
        "wecom:user/list_id",
    } <= keys


def test_client_for_a_workspace_without_connection_is_not_found(
    db: Session, workspace: WorkspaceFixture
) -> None:
    with pytest.raises(NotFound):
        client_for(db, workspace.id)


def test_a_read_that_times_out_is_retried(wecom_sim: WecomSim) -> None:
    requests: list[str] = []

    async def sent(request: httpx.Request) -> None:
        requests.append(request.url.path)
        if len(requests) == 3:  # gettoken, the slow try, then WeCom is quick again
            with wecom_sim.state.lock:
                wecom_sim.state.delay_ms = 0

    async def read(w: WecomClient) -> int:
        await w.ensure_token()
        faults(wecom_sim, delay_ms=2000)
        return len((await w.department_list()).department)

    http = httpx.AsyncClient(timeout=0.3, event_hooks={"request": [sent]})
    count = call(wecom_sim, read, http=http)

    assert count == len(wecom_sim.state.departments)
    assert requests == ["/cgi-bin/gettoken", "/cgi-bin/department/list", "/cgi-bin/department/list"]


def a_follow(sim: WecomSim) -> tuple[str, str]:
    with sim.state.lock:
        follow = next(iter(sim.state.follows.values()))
        return follow.userid, follow.external_userid


def test_directory_apis_parse(wecom_sim: WecomSim) -> None:
    userid = next(iter(wecom_sim.state.members))
    department = wecom_sim.state.members[userid].department[0]

    async def run(w: WecomClient) -> tuple[int, int, int, str]:
        simple = await w.department_simplelist()
        brief = await w.user_simplelist(department)
        detail = await w.user_list(department)
        member = await w.user_get(userid)
        return len(simple.department_id), len(brief.userlist), len(detail.userlist), member.name

    departments, brief, detail, name = call(wecom_sim, run)

    assert departments == len(wecom_sim.state.departments)
    assert brief == detail > 0
    assert name == wecom_sim.state.members[userid].name


def test_corp_tags_are_created_renamed_marked_and_deleted(wecom_sim: WecomSim) -> None:
    userid, external_userid = a_follow(wecom_sim)

    async def run(w: WecomClient) -> tuple[str, list[str], bool]:
        created = await w.externalcontact_add_corp_tag(["高意向", "复购"], group_name="客户意向")
        tag_id = created.tag_group.tag[0].id
        await w.externalcontact_edit_corp_tag(tag_id, name="高意向客户")
        await w.externalcontact_mark_tag(userid, external_userid, add_tag=[tag_id])
        detail = await w.externalcontact_get_all(external_userid)
        follow = next(f for f in detail.follow_user if f.userid == userid)
        names = [t.tag_name for t in follow.tags if t.tag_id == tag_id]
        await w.externalcontact_del_corp_tag(tag_id=[tag_id])
        library = await w.externalcontact_get_corp_tag_list()
        still_there = any(t.id == tag_id for g in library.tag_group for t in g.tag)
        return created.tag_group.group_name, names, still_there

    group_name, names, still_there = call(wecom_sim, run)

    assert group_name == "客户意向"
    assert names == ["高意向客户"]
    assert not still_there


def test_remark_is_saved(wecom_sim: WecomSim) -> None:
    userid, external_userid = a_follow(wecom_sim)

    call(
        wecom_sim,
        lambda w: w.externalcontact_remark(
            userid, external_userid, remark="王女士", remark_mobiles=["13800138000"]
        ),
    )

    with wecom_sim.state.lock:
        follow = wecom_sim.state.follows[(userid, external_userid)]
        assert follow.remark == "王女士"
        assert follow.remark_mobiles == ["13800138000"]


def test_group_chat_detail_lists_members_and_admins(wecom_sim: WecomSim) -> None:
    with wecom_sim.state.lock:
        chat = next(iter(wecom_sim.state.groups.values()))

    detail = call(wecom_sim, lambda w: w.externalcontact_groupchat_get(chat.chat_id)).group_chat

    assert detail.chat_id == chat.chat_id
    assert detail.owner == chat.owner
    assert detail.member_list
    assert {m.type for m in detail.member_list} <= {1, 2}
    assert detail.member_version


def test_transfers_and_their_results(wecom_sim: WecomSim) -> None:
    handover, external_userid = a_follow(wecom_sim)
    takeover = next(u for u in wecom_sim.state.members if u != handover)

    async def onjob(w: WecomClient) -> tuple[int, list[int]]:
        started = await w.externalcontact_transfer_customer(
            handover, takeover, [external_userid], "您好，后续由我为您服务"
        )
        statuses = [r.status async for r in w.iter_transfer_result(handover, takeover)]
        return started.customer[0].errcode, statuses

    errcode, statuses = call(wecom_sim, onjob)
    assert errcode == 0
    assert statuses == [2]  # waiting: completes 24 h later

    resigning = next(
        u
        for u in wecom_sim.state.members
        if u not in (handover, takeover) and wecom_sim.state.follows_of_member(u)
    )
    wecom_sim.control.post(f"/staff/{resigning}/resign").raise_for_status()

    async def resigned(w: WecomClient) -> tuple[set[str], int, list[int]]:
        waiting = [r async for r in w.iter_unassigned_list() if r.handover_userid == resigning]
        ids = [r.external_userid for r in waiting]
        started = await w.externalcontact_resigned_transfer_customer(resigning, takeover, ids)
        results = [
            r.status async for r in w.iter_transfer_result(resigning, takeover, resigned=True)
        ]
        return set(ids), sum(1 for r in started.customer if r.errcode == 0), results

    waiting, started, results = call(wecom_sim, resigned)
    with wecom_sim.state.lock:
        customers = {f.external_userid for f in wecom_sim.state.follows_of_member(resigning)}
    assert waiting == customers
    assert started == len(customers)
    assert results == [2] * len(customers)


def test_mass_message_task_and_its_results(wecom_sim: WecomSim) -> None:
    userid, external_userid = a_follow(wecom_sim)
    request = AddMsgTemplateRequest(
        chat_type="single",
        external_userid=[external_userid],
        sender=userid,
        text=TextContent(content="双十一会员日"),
        attachments=[Attachment.of_link(title="会员日", url="https://example.com/d")],
    )
    now = int(wecom_sim.state.now())

    created = call(wecom_sim, lambda w: w.externalcontact_add_msg_template(request))
    wecom_sim.control.post(
        "/groupmsg/confirm", json={"msgid": created.msgid, "userid": userid}
    ).raise_for_status()

    async def read(w: WecomClient) -> tuple[list[AttachmentType], list[int], list[int]]:
        listed = [m async for m in w.iter_groupmsg_list_v2("single", now - 3600, now + 3600)]
        mine = [m for m in listed if m.msgid == created.msgid]
        tasks = [t.status async for t in w.iter_groupmsg_task(created.msgid)]
        sent = [r.status async for r in w.iter_groupmsg_send_result(created.msgid, userid)]
        kinds = [a.msgtype for m in mine for a in m.attachments]
        return kinds, tasks, sent

    kinds, tasks, sent = call(wecom_sim, read)

    assert created.msgid
    assert created.fail_list == []
    assert kinds == ["link"]
    assert tasks == [2]
    assert sent == [1]


def test_payloads_tolerate_new_fields_and_numbers_as_strings() -> None:
    member = UserGetResponse.model_validate(
        {"errcode": 0, "userid": "lilei", "gender": 1, "status": "1", "new_field": {"x": 1}}
    )
    msg = GroupMsg.model_validate({"msgid": "msg1", "create_time": "1605000000", "extra": 1})

    assert member.gender == "1"
    assert member.status == 1
    assert msg.create_time == 1605000000


@pytest.mark.parametrize(
    ("errcode", "family", "hint_says"),
    [
        (60020, WecomPermissionDenied, "企业可信IP"),
        (48002, WecomPermissionDenied, "可调用接口的应用"),
        (48009, WecomPermissionDenied, "可调用接口的应用"),
        (84061, WecomNotFound, "好友"),
        (41051, WecomInvalidParam, "welcome_code"),
        (40096, WecomNotFound, "external_userid"),
        (60111, WecomNotFound, "UserID"),
        (301002, WecomPermissionDenied, "AgentId"),
        (42001, WecomTokenError, "access_token"),
        (45033, WecomRateLimited, "并发"),
    ],
)
def test_errcodes_users_hit_have_a_family_and_a_chinese_hint(
    errcode: int, family: type[WecomApiError], hint_says: str
) -> None:
    error = error_for(errcode, "errmsg from WeCom")

    assert type(error) is family
    assert error.hint is not None
    assert hint_says in error.hint
    assert hint_says in error.message


def test_a_started_call_is_on_its_way_to_wecom_before_its_answer_is_awaited(
    wecom_sim: WecomSim,
) -> None:
    """What the sync relies on to have WeCom prepare the next page while it stores one."""
    path = "externalcontact/get_follow_user_list"

    async def start_then_block(wecom: WecomClient) -> list[str]:
        task = await started(wecom.externalcontact_get_follow_user_list)
        # The event loop is blocked from here on: only a request already sent can arrive.
        deadline = time.monotonic() + 10
        while not wecom_sim.state.calls.get(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert wecom_sim.state.calls.get(path), "the request was not sent before returning"
        return (await task).follow_user

    assert call(wecom_sim, start_then_block)
