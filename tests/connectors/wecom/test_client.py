import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.clients import client_for
from siyu.connectors.wecom.errors import (
    WecomApiError,
    WecomInvalidParam,
    WecomNotFound,
    WecomPermissionDenied,
    WecomRateLimited,
    WecomUnavailable,
)
from siyu.connectors.wecom.schemas import AddContactWayRequest, Attachment
from siyu.connectors.wecom.tokens import TokenCache
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
            AddContactWayRequest(type=1, scene=2, user=[userid], state="s1", remark="海报")
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
    assert isinstance(contact.limiter, DatabaseLimiter)
    keys = set(db.scalars(select(RateBucket.key).where(RateBucket.workspace_id == workspace.id)))
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
