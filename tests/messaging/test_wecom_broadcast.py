"""WeCom 1:1 broadcasts over the simulator: one task per staff member, confirmed in the
(simulated) client, results polled per customer; attachments, reminders, cancels and a
worker that died between WeCom creating a task and Siyu storing its msgid."""

import asyncio
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from siyu.connectors.wecom import sync_jobs
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.schemas.messages import AddMsgTemplateRequest, TextContent
from siyu.connectors.wecom.transport import DEFAULT_LIMIT
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.apis.media import find_media
from siyu.connectors.wecom_sim.state import MassTask
from siyu.db.session import unit_of_work
from siyu.kit.ratelimit import DatabaseLimiter, Window, WindowLimit
from siyu.kit.time import utcnow
from siyu.messaging import service, wecom
from siyu.messaging.wecom_calls import broadcast_client
from siyu.models import Broadcast, Customer, Delivery, Event, Order, Staff, WecomBroadcastTask
from siyu.worker.queue import enqueue
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim
from tests.content.materials_helpers import create, create_image, png
from tests.messaging.wecom_links import SHORT, known_phone, phone, short_path, target

RunJobs = Callable[[], int]
POSTER_SIZE = (360, 640)


def _sync(db: Session, workspace_id: int, sim: WecomSim, run_jobs: RunJobs) -> None:
    connect_to_sim(db, workspace_id, sim)
    sync_jobs.start_run(db, workspace_id, "full")
    db.commit()
    run_jobs()


@pytest.fixture
def audience(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
) -> int:
    """A synced corp (3 staff, 12 customers) and a static segment of all its customers."""
    wecom_sim.reset(staff=3, contacts=12, monthly_mass_quota=1)
    _sync(db, workspace.id, wecom_sim, run_jobs)
    customer_ids = list(
        db.scalars(select(Customer.id).where(Customer.workspace_id == workspace.id))
    )
    db.commit()  # end the read: on SQLite it holds the write lock the API needs
    segment = api.post("/api/v1/segments", json={"name": "企微好友", "kind": "static"}).json()
    added = api.post(
        f"/api/v1/segments/{segment['id']}/members", json={"customer_ids": customer_ids}
    )
    assert added.status_code == 200, added.text
    return int(segment["id"])


def _create(api: TestClient, segment_id: int, content: dict[str, Any]) -> dict[str, Any]:
    response = api.post(
        "/api/v1/broadcasts",
        json={
            "name": "明前龙井到店",
            "channel": "wecom",
            "segment_id": segment_id,
            "content": content,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _send(api: TestClient, broadcast_id: int, run_jobs: RunJobs) -> dict[str, Any]:
    sent = api.post(f"/api/v1/broadcasts/{broadcast_id}/send")
    assert sent.status_code == 200, sent.text
    run_jobs()
    return _results(api, broadcast_id)


def _results(api: TestClient, broadcast_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/broadcasts/{broadcast_id}/results")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _poll(engine: Engine, workspace_id: int, broadcast_id: int, run_jobs: RunJobs) -> None:
    """What the next scheduled poll does, without waiting for it to fall due."""
    with unit_of_work(engine) as session:
        enqueue(
            session, service.POLL_JOB, {"broadcast_id": broadcast_id}, workspace_id=workspace_id
        )
    run_jobs()


def _confirm(sim: WecomSim, task: dict[str, Any]) -> None:
    response = sim.control.post(
        "/groupmsg/confirm", json={"msgid": task["msgid"], "userid": task["userid"]}
    )
    assert response.status_code == 200, response.text


def _sim_tasks(sim: WecomSim) -> dict[str, MassTask]:
    with sim.state.lock:
        return dict(sim.state.mass_tasks)


def _deliveries(db: Session, broadcast_id: int) -> dict[str, tuple[int | None, str, str | None]]:
    """external_userid -> (staff id, status, reason) of the planned deliveries."""
    db.expire_all()
    rows = db.execute(
        select(Delivery.address, Delivery.staff_id, Delivery.status, Delivery.reason).where(
            Delivery.broadcast_id == broadcast_id, Delivery.status != "excluded"
        )
    ).all()
    db.commit()
    return {str(a): (s, status, reason) for a, s, status, reason in rows}


def _outside_mass_message(sim: WecomSim, userid: str, external_userid: str) -> None:
    """Another tool of the corp sends this customer a mass message, used up their quota."""

    async def send() -> str:
        async with WecomClient(sim.corp_id, sim.contact_secret, sim.base_url) as client:
            request = AddMsgTemplateRequest(
                sender=userid,
                external_userid=[external_userid],
                text=TextContent(content="月度福利"),
            )
            return (await client.externalcontact_add_msg_template(request)).msgid

    msgid = asyncio.run(send())
    _confirm(sim, {"msgid": msgid, "userid": userid})


def test_each_staff_member_gets_one_task_and_polling_settles_every_customer(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    broadcast = _create(api, audience, {"text": "{员工姓名}为您留了明前龙井，欢迎到店品鉴"})
    results = _send(api, broadcast["id"], run_jobs)

    assert results["status"] == "waiting"
    deliveries = _deliveries(db, broadcast["id"])
    staff_ids = {staff_id for staff_id, _, _ in deliveries.values()}
    assert [t["staff_id"] for t in results["tasks"]] == sorted(s for s in staff_ids if s)
    assert None not in staff_ids
    sim_tasks = _sim_tasks(wecom_sim)
    assert len(sim_tasks) == len(staff_ids)
    names = dict(db.execute(select(Staff.wecom_userid, Staff.name)).all())
    db.commit()
    for task in results["tasks"]:
        sent = sim_tasks[task["msgid"]]
        assert sent.creator == task["userid"]
        assert sent.text == {"content": f"{names[task['userid']]}为您留了明前龙井，欢迎到店品鉴"}
        mine = {e for e, (s, _, _) in deliveries.items() if s == task["staff_id"]}
        assert {s.external_userid for s in sent.sends} == mine
        assert task["recipient_count"] == len(mine)

    # Before the staff tap send: one customer got another mass message this month (the sim's
    # quota is 1), another deleted their staff member.
    first, second = sorted(deliveries)[:2]
    userid_of = {t["staff_id"]: t["userid"] for t in results["tasks"]}
    _outside_mass_message(wecom_sim, userid_of[deliveries[first][0]], first)
    gone = wecom_sim.control.post(
        "/customer-deletes-staff",
        json={"userid": userid_of[deliveries[second][0]], "external_userid": second},
    )
    assert gone.status_code == 200, gone.text

    _confirm(wecom_sim, results["tasks"][0])
    _poll(engine, workspace.id, broadcast["id"], run_jobs)
    partly = _results(api, broadcast["id"])
    assert partly["status"] == "waiting"
    assert [t["status"] for t in partly["tasks"]] == ["sent"] + ["waiting"] * (
        len(partly["tasks"]) - 1
    )

    for task in results["tasks"][1:]:
        _confirm(wecom_sim, task)
    _poll(engine, workspace.id, broadcast["id"], run_jobs)

    final = _results(api, broadcast["id"])
    assert final["status"] == "completed"
    assert {t["status"] for t in final["tasks"]} == {"sent"}
    settled = _deliveries(db, broadcast["id"])
    assert settled.pop(first)[1:] == ("failed", "wecom_quota")
    assert settled.pop(second)[1:] == ("failed", "not_friend")
    assert {status for _, status, _ in settled.values()} == {"sent"}
    assert final["counts"]["sent"] == len(settled)
    assert final["failed_by_reason"] == {"wecom_quota": 1, "not_friend": 1}


def test_attachments_arrive_in_each_staff_members_task_with_a_poster_of_their_own(
    api: TestClient,
    db: Session,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    image = create_image(api, "龙井茶园")
    link = create(api, "link", "明前龙井上新", url="https://shop.example.cn/longjing")
    poster = create(
        api, "poster", "到店海报", file=("bg.png", png(*POSTER_SIZE, "#2E7D32"), "image/png")
    )
    broadcast = _create(
        api,
        audience,
        {
            "text": "新茶到店",
            "material_ids": [image["id"], link["id"]],
            "poster_id": poster["id"],
            "poster_url": "https://shop.example.cn/store",
        },
    )

    results = _send(api, broadcast["id"], run_jobs)

    assert results["status"] == "waiting"
    assert len(results["tasks"]) > 1
    sim_tasks = _sim_tasks(wecom_sim)
    posters: set[bytes] = set()
    photos: set[str] = set()
    links: set[str] = set()
    for task in results["tasks"]:
        attachments = [_payload(a) for a in sim_tasks[task["msgid"]].attachments]
        assert [kind for kind, _ in attachments] == ["image", "link", "image"]
        photo = find_media(wecom_sim.state, attachments[0][1]["media_id"])
        assert photo is not None
        assert photo.content == png()
        photos.add(photo.media_id)
        card_url = attachments[1][1]["url"]
        assert target(api, card_url) == "https://shop.example.cn/longjing"
        drawn = find_media(wecom_sim.state, attachments[2][1]["media_id"])
        assert drawn is not None
        with Image.open(io.BytesIO(drawn.content)) as picture:
            assert picture.size == POSTER_SIZE
            (scanned,) = [code.text for code in zxingcpp.read_barcodes(picture.convert("RGB"))]
        assert target(api, scanned) == "https://shop.example.cn/store"
        assert scanned != card_url
        posters.add(drawn.content)
        links.update([card_url, scanned])
    # one poster per staff member (their name on it), the material image uploaded once
    assert len(posters) == len(results["tasks"])
    assert len(photos) == 1
    # each staff member's link and poster QR code are tracked links of their own
    assert len(links) == 2 * len(results["tasks"])


def _payload(attachment: dict[str, object]) -> tuple[str, dict[str, str]]:
    kind = str(attachment["msgtype"])
    body = attachment[kind]
    assert isinstance(body, dict)
    return kind, {str(k): str(v) for k, v in body.items()}


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"text": "好" * 1400}, "content.text"),
        # 3,990 bytes as written; the short link that replaces the URL is longer
        ({"text": "好" * 1325 + " https://a.cn/x"}, "content.text"),
        ({"text": "x", "poster_id": "POSTER"}, "content.poster_url"),
        ({"material_ids": ["TEXT"]}, "content.material_ids[0]"),
        (
            {"material_ids": ["IMAGE"] * 9, "poster_id": "POSTER", "poster_url": "https://a.cn"},
            "content.material_ids",
        ),
    ],
)
def test_content_over_wecoms_limits_is_refused_naming_the_field(
    api: TestClient, content: dict[str, Any], field: str
) -> None:
    audience = api.post("/api/v1/segments", json={"name": "名单", "kind": "static"}).json()["id"]
    ids = {
        "IMAGE": create_image(api)["id"],
        "TEXT": create(api, "text", "话术", content="您好")["id"],
        "POSTER": create(api, "poster", "海报", file=("bg.png", png(*POSTER_SIZE), "image/png"))[
            "id"
        ],
    }
    resolved = {
        key: [ids[v] for v in value] if isinstance(value, list) else ids.get(value, value)
        for key, value in content.items()
    }

    response = api.post(
        "/api/v1/broadcasts",
        json={"name": "超限", "channel": "wecom", "segment_id": audience, "content": resolved},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field


def test_a_staff_member_with_more_customers_than_one_task_takes_gets_several_tasks(
    api: TestClient,
    db: Session,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wecom, "CUSTOMERS_PER_TASK", 2)
    broadcast = _create(api, audience, {"text": "新茶到店"})

    results = _send(api, broadcast["id"], run_jobs)

    deliveries = _deliveries(db, broadcast["id"])
    sim_tasks = _sim_tasks(wecom_sim)
    by_staff: dict[int, list[int]] = {}
    for task in results["tasks"]:
        assert task["recipient_count"] <= 2
        assert len(sim_tasks[task["msgid"]].sends) == task["recipient_count"]
        by_staff.setdefault(task["staff_id"], []).append(task["chunk"])
    for staff_id, chunks in by_staff.items():
        customers = sum(1 for s, _, _ in deliveries.values() if s == staff_id)
        assert sorted(chunks) == list(range((customers + 1) // 2))


def test_remind_reaches_only_unconfirmed_tasks_and_cancel_stops_them(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    broadcast = _create(api, audience, {"text": "新茶到店"})
    results = _send(api, broadcast["id"], run_jobs)
    confirmed, *unconfirmed = results["tasks"]
    _confirm(wecom_sim, confirmed)
    _poll(engine, workspace.id, broadcast["id"], run_jobs)

    reminded = api.post(f"/api/v1/broadcasts/{broadcast['id']}/remind")
    assert reminded.status_code == 200, reminded.text
    run_jobs()
    sim_tasks = _sim_tasks(wecom_sim)
    assert sim_tasks[confirmed["msgid"]].reminders == 0
    assert all(sim_tasks[t["msgid"]].reminders == 1 for t in unconfirmed)

    cancelled = api.post(f"/api/v1/broadcasts/{broadcast['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    run_jobs()

    sim_tasks = _sim_tasks(wecom_sim)
    assert all(sim_tasks[t["msgid"]].cancelled for t in unconfirmed)
    late = wecom_sim.control.post(
        "/groupmsg/confirm",
        json={"msgid": unconfirmed[0]["msgid"], "userid": unconfirmed[0]["userid"]},
    )
    assert late.status_code == 404  # the member can no longer send it
    final = _results(api, broadcast["id"])
    assert final["status"] == "cancelled"
    statuses = {t["staff_id"]: t["status"] for t in final["tasks"]}
    assert statuses == {
        confirmed["staff_id"]: "sent",
        **{t["staff_id"]: "cancelled" for t in unconfirmed},
    }
    deliveries = _deliveries(db, broadcast["id"])
    for staff_id, status, _ in deliveries.values():
        assert status == ("sent" if staff_id == confirmed["staff_id"] else "cancelled")


def _rewind(engine: Engine, task_id: int, broadcast_id: int) -> None:
    """Put the database back where a worker that died right after add_msg_template left it."""
    with unit_of_work(engine) as session:
        session.execute(
            update(WecomBroadcastTask)
            .where(WecomBroadcastTask.id == task_id)
            .values(msgid=None, status="creating")
        )
        session.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(status="sending")
        )
        broadcast = session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        enqueue(
            session,
            service.START_JOB,
            {"broadcast_id": broadcast_id},
            workspace_id=broadcast.workspace_id,
        )


def test_a_worker_that_died_after_wecom_created_the_task_adopts_it_instead_of_sending_twice(
    api: TestClient,
    engine: Engine,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    image = create_image(api, "龙井茶园")
    text = "新茶到店 https://shop.example.cn/new"
    broadcast = _create(api, audience, {"text": text, "material_ids": [image["id"]]})
    results = _send(api, broadcast["id"], run_jobs)
    lost = results["tasks"][1]
    before = set(_sim_tasks(wecom_sim))

    _rewind(engine, lost["id"], broadcast["id"])
    run_jobs()

    assert set(_sim_tasks(wecom_sim)) == before  # no second task
    after = _results(api, broadcast["id"])
    assert after["status"] == "waiting"
    assert [(t["id"], t["msgid"], t["status"]) for t in after["tasks"]] == [
        (t["id"], t["msgid"], "waiting") for t in results["tasks"]
    ]


def test_a_worker_that_died_before_calling_wecom_creates_the_task_once(
    api: TestClient,
    engine: Engine,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    broadcast = _create(api, audience, {"text": "新茶到店 https://shop.example.cn/new"})
    results = _send(api, broadcast["id"], run_jobs)
    lost = results["tasks"][0]
    with wecom_sim.state.lock:
        never_created = wecom_sim.state.mass_tasks.pop(lost["msgid"])
    before = set(_sim_tasks(wecom_sim))

    _rewind(engine, lost["id"], broadcast["id"])
    run_jobs()

    created = set(_sim_tasks(wecom_sim)) - before
    assert len(created) == 1
    after = {t["id"]: t for t in _results(api, broadcast["id"])["tasks"]}
    assert after[lost["id"]]["msgid"] in created
    assert after[lost["id"]]["status"] == "waiting"
    again = _sim_tasks(wecom_sim)[after[lost["id"]]["msgid"]]
    assert {s.external_userid for s in again.sends} == {
        s.external_userid for s in never_created.sends
    }
    assert again.text == never_created.text  # the same tracked link, not a new one


def test_links_in_the_text_are_each_staff_members_and_their_clicks_count_for_them(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    broadcast = _create(
        api,
        audience,
        {"text": "{员工姓名}推荐：明前龙井 https://shop.example.cn/longjing 到店自取"},
    )
    results = _send(api, broadcast["id"], run_jobs)
    sim_tasks = _sim_tasks(wecom_sim)
    sent = {}
    for task in results["tasks"]:
        text = str(sim_tasks[task["msgid"]].text["content"])
        assert "https://shop.example.cn/longjing" not in text
        (short,) = SHORT.findall(text)
        assert target(api, short) == "https://shop.example.cn/longjing"
        sent[task["staff_id"]] = short
    assert len(set(sent.values())) == len(sent)
    for task in results["tasks"]:
        _confirm(wecom_sim, task)
    _poll(engine, workspace.id, broadcast["id"], run_jobs)

    first, second, *_ = results["tasks"]
    assert (
        phone(api).get(short_path(sent[first["staff_id"]]), follow_redirects=False).status_code
        == 302
    )
    deliveries = _deliveries(db, broadcast["id"])
    buyer_address = next(a for a, (s, _, _) in deliveries.items() if s == second["staff_id"])
    buyer = db.scalar(select(Delivery.customer_id).where(Delivery.address == buyer_address))
    db.commit()
    assert buyer is not None
    buyers_phone = known_phone(api, engine, workspace.id, buyer)
    for _ in range(2):
        buyers_phone.get(short_path(sent[second["staff_id"]]), follow_redirects=False)
    with unit_of_work(engine) as session:
        session.add(
            Order(
                workspace_id=workspace.id,
                platform="youzan",
                platform_order_id="YZ-LONGJING-1",
                status="paid",
                ordered_at=utcnow() + timedelta(minutes=5),
                paid_at=utcnow() + timedelta(minutes=5),
                paid_fen=16800,
                total_fen=16800,
                customer_id=buyer,
            )
        )

    final = _results(api, broadcast["id"])

    assert final["status"] == "completed"
    counts = final["counts"]
    assert (counts["clicked"], counts["converted"], counts["converted_fen"]) == (2, 1, 16800)
    staff = {row["key"]: row["counts"] for row in final["by_staff"]}
    stranger_staff, buyer_staff = (staff[str(t["staff_id"])] for t in (first, second))
    assert (stranger_staff["clicked"], stranger_staff["converted"]) == (1, 0)
    assert (buyer_staff["clicked"], buyer_staff["converted"]) == (1, 1)
    opened = db.scalars(
        select(Event.properties)
        .where(Event.customer_id == buyer, Event.event_type == "link_opened")
        .order_by(Event.occurred_at, Event.id)
    ).all()
    db.commit()
    assert [p["broadcast_id"] for p in opened] == [None, broadcast["id"], broadcast["id"]]


def test_broadcast_calls_to_wecom_keep_within_the_workspaces_calls_per_minute(
    api: TestClient,
    db: Session,
    engine: Engine,
    workspace: WorkspaceFixture,
    wecom_sim: WecomSim,
    run_jobs: RunJobs,
    audience: int,
) -> None:
    rules = api.put("/api/v1/messaging/rules", json={"wecom_calls_per_minute": 3})
    assert rules.status_code == 200, rules.text
    assert rules.json()["wecom_calls_per_minute"] == 3
    broadcast = _create(api, audience, {"text": "新茶到店"})

    results = _send(api, broadcast["id"], run_jobs)

    assert len(results["tasks"]) == 3  # one add_msg_template call per staff member
    client = broadcast_client(db, workspace.id)
    create_limit = client.limit_for("externalcontact/add_msg_template")
    assert isinstance(create_limit, WindowLimit)
    assert Window(3, 60) in create_limit.windows
    assert client.limit_for("externalcontact/get_groupmsg_task") != DEFAULT_LIMIT
    assert client.limit_for("externalcontact/list") == DEFAULT_LIMIT
    db.commit()
    # the broadcast's three calls used this minute's quota: a fourth would wait
    limiter = DatabaseLimiter(engine, workspace.id)
    wait = limiter.try_acquire("wecom:externalcontact/add_msg_template", create_limit)
    assert wait is not None
    assert wait > 0
