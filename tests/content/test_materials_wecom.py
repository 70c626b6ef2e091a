"""Materials as WeCom media, against the WeCom simulator over HTTP."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.connectors.wecom.client import WecomClient
from siyu.connectors.wecom.connection import connect
from siyu.connectors.wecom.errors import WecomApiError
from siyu.connectors.wecom.tokens import TokenCache
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.apis.media import find_media, store
from siyu.content import wecom_media
from siyu.db.session import unit_of_work
from siyu.kit.time import utcnow
from siyu.models import Material, Schedule, WecomMedia
from siyu.worker.queue import enqueue
from siyu.worker.schedules import REFRESH_WECOM_MEDIA_JOB, ensure_installation_schedules
from tests.conftest import WorkspaceFixture
from tests.content.materials_helpers import PDF, create, create_image, jpeg, png


@pytest.fixture
def connected(engine: Engine, workspace: WorkspaceFixture, wecom_sim: WecomSim) -> WecomSim:
    with unit_of_work(engine) as session:
        connect(
            session,
            workspace_id=workspace.id,
            corp_id=wecom_sim.corp_id,
            contact_secret=wecom_sim.contact_secret,
            api_base_url=wecom_sim.base_url,
        )
    return wecom_sim


def _client(sim: WecomSim) -> WecomClient:
    return WecomClient(
        sim.corp_id, sim.contact_secret, sim.base_url, tokens=TokenCache(), backoff=0.01
    )


def _upload(sim: WecomSim, media_type: Any, filename: str, content: bytes) -> Any:
    async def run() -> Any:
        async with _client(sim) as wecom:
            return await wecom.media_upload(media_type, filename, content)

    return asyncio.run(run())


def _media_count(sim: WecomSim) -> int:
    with sim.state.lock:
        return len(store(sim.state).media)


def test_the_client_uploads_temporary_media_to_the_simulator(wecom_sim: WecomSim) -> None:
    result = _upload(wecom_sim, "image", "a.png", png())

    assert result.type == "image"
    assert int(result.created_at) == pytest.approx(wecom_sim.state.now_int(), abs=5)
    media = find_media(wecom_sim.state, result.media_id)
    assert media is not None
    assert media.content == png()


@pytest.mark.parametrize(
    ("media_type", "filename", "content", "errcode"),
    [
        ("sticker", "a.png", png(), 40004),
        ("image", "a.gif", b"GIF89a......", 40005),
        ("image", "a.png", b"\x89PNG" + b"\x00" * (10 * 1024 * 1024), 40009),
        ("video", "a.avi", b"RIFF........", 40005),
        ("file", "a.pdf", b"%PD", 40006),
    ],
)
def test_the_simulator_refuses_media_as_wecom_does(
    wecom_sim: WecomSim, media_type: str, filename: str, content: bytes, errcode: int
) -> None:
    with pytest.raises(WecomApiError) as raised:
        _upload(wecom_sim, media_type, filename, content)
    assert raised.value.errcode == errcode


def test_simulated_media_expire_after_three_days(wecom_sim: WecomSim) -> None:
    result = _upload(wecom_sim, "file", "a.pdf", PDF)
    wecom_sim.control.post("/clock/advance", json={"seconds": 3 * 24 * 3600 - 60})
    assert find_media(wecom_sim.state, result.media_id) is not None
    wecom_sim.control.post("/clock/advance", json={"seconds": 120})
    assert find_media(wecom_sim.state, result.media_id) is None


def test_uploadimg_answers_a_permanent_url(wecom_sim: WecomSim) -> None:
    async def run() -> str:
        async with _client(wecom_sim) as wecom:
            return (await wecom.media_uploadimg("c.jpg", jpeg())).url

    assert asyncio.run(run()).startswith("https://")


def test_media_id_for_uploads_once_and_reuses_the_id(
    api: TestClient, db: Session, workspace: WorkspaceFixture, connected: WecomSim
) -> None:
    image = create_image(api)

    first = asyncio.run(wecom_media.media_id_for(db, workspace.id, image["id"]))
    second = asyncio.run(wecom_media.media_id_for(db, workspace.id, image["id"]))
    db.commit()

    assert first == second
    assert _media_count(connected) == 1
    media = find_media(connected.state, first)
    assert media is not None
    assert media.content == png()
    row = db.scalars(select(WecomMedia)).one()
    assert row.expires_at is not None
    assert row.expires_at - row.uploaded_at == timedelta(days=3)
    assert db.get(Material, image["id"]).last_used_at is not None  # type: ignore[union-attr]


def test_a_media_id_expiring_within_the_hour_is_replaced(
    api: TestClient, db: Session, workspace: WorkspaceFixture, connected: WecomSim
) -> None:
    document = create(api, "file", "价目表", file=("price.pdf", PDF, "application/pdf"))
    first = asyncio.run(wecom_media.media_id_for(db, workspace.id, document["id"]))
    row = db.scalars(select(WecomMedia)).one()
    row.expires_at = utcnow() + timedelta(minutes=50)
    db.commit()

    second = asyncio.run(wecom_media.media_id_for(db, workspace.id, document["id"]))

    assert second != first
    assert _media_count(connected) == 2
    media = find_media(connected.state, second)
    assert media is not None
    assert (media.type, media.filename) == ("file", "price.pdf")


def test_a_replaced_file_is_uploaded_anew(
    api: TestClient, db: Session, workspace: WorkspaceFixture, connected: WecomSim
) -> None:
    image = create_image(api)
    first = asyncio.run(wecom_media.media_id_for(db, workspace.id, image["id"]))
    db.commit()
    api.put(
        f"/api/v1/materials/{image['id']}/file", files={"file": ("b.jpg", jpeg(), "image/jpeg")}
    )

    second = asyncio.run(wecom_media.media_id_for(db, workspace.id, image["id"]))

    assert second != first
    media = find_media(connected.state, second)
    assert media is not None
    assert media.content == jpeg()


def test_attachments_for_links_cards_and_files(
    api: TestClient, db: Session, workspace: WorkspaceFixture, connected: WecomSim
) -> None:
    link = create(
        api,
        "link",
        "新品",
        url="https://shop.example.com/a",
        description="春季",
        cover=("c.jpg", jpeg(), "image/jpeg"),
    )
    card = create(
        api,
        "miniprogram",
        "会员中心",
        appid="wx1234567890abcdef",
        page_path="pages/index",
        cover=("c.png", png(), "image/png"),
    )
    text = create(api, "text", "话术", content="你好")

    link_out = asyncio.run(wecom_media.attachment_for(db, workspace.id, link["id"]))
    again = asyncio.run(wecom_media.attachment_for(db, workspace.id, link["id"]))
    card_out = asyncio.run(wecom_media.attachment_for(db, workspace.id, card["id"]))

    assert link_out["msgtype"] == "link"
    assert link_out["link"]["url"] == "https://shop.example.com/a"
    assert link_out["link"]["picurl"].startswith("https://")
    assert again == link_out  # the permanent URL is uploaded once
    assert card_out["msgtype"] == "miniprogram"
    assert card_out["miniprogram"]["appid"] == "wx1234567890abcdef"
    pic = find_media(connected.state, card_out["miniprogram"]["pic_media_id"])
    assert pic is not None
    assert pic.type == "image"
    with pytest.raises(Exception, match="not sent as WeCom media"):
        asyncio.run(wecom_media.media_id_for(db, workspace.id, text["id"]))


def _age(engine: Engine, material_id: int, *, expires_in: timedelta, used_ago: timedelta) -> str:
    with unit_of_work(engine) as session:
        row = session.scalars(select(WecomMedia).where(WecomMedia.material_id == material_id)).one()
        row.expires_at = utcnow() + expires_in
        material = session.get(Material, material_id)
        assert material is not None
        material.last_used_at = utcnow() - used_ago
        assert row.media_id is not None
        return row.media_id


def test_the_hourly_job_refreshes_media_of_materials_in_use_that_expire_soon(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    connected: WecomSim,
    run_jobs: Callable[[], int],
) -> None:
    used = create_image(api, "常用")
    idle = create(api, "file", "旧资料", file=("old.pdf", PDF, "application/pdf"))
    later = create(
        api,
        "video",
        "教程",
        file=("v.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, "video/mp4"),
    )
    with unit_of_work(engine) as session:
        for material in (used, idle, later):
            asyncio.run(wecom_media.media_id_for(session, workspace.id, material["id"]))
    used_before = _age(
        engine, used["id"], expires_in=timedelta(hours=5), used_ago=timedelta(days=2)
    )
    idle_before = _age(
        engine, idle["id"], expires_in=timedelta(hours=5), used_ago=timedelta(days=40)
    )
    later_before = _age(engine, later["id"], expires_in=timedelta(hours=30), used_ago=timedelta(0))
    with unit_of_work(engine) as session:
        enqueue(session, REFRESH_WECOM_MEDIA_JOB, {}, workspace_id=None)

    assert run_jobs() == 2  # the installation-wide run, then the workspace's

    with unit_of_work(engine, write=False) as session:
        rows = {r.material_id: r for r in session.scalars(select(WecomMedia))}
    assert rows[used["id"]].media_id != used_before
    expires_at = rows[used["id"]].expires_at
    assert expires_at is not None
    assert expires_at > utcnow() + timedelta(days=2)
    assert rows[idle["id"]].media_id == idle_before
    assert rows[later["id"]].media_id == later_before
    assert find_media(connected.state, rows[used["id"]].media_id or "") is not None


def test_a_refusal_is_recorded_and_the_other_media_still_refresh(
    api: TestClient,
    engine: Engine,
    workspace: WorkspaceFixture,
    connected: WecomSim,
    run_jobs: Callable[[], int],
) -> None:
    first = create_image(api, "一")
    second = create(api, "file", "二", file=("b.pdf", PDF, "application/pdf"))
    with unit_of_work(engine) as session:
        for material in (first, second):
            asyncio.run(wecom_media.media_id_for(session, workspace.id, material["id"]))
    for material in (first, second):
        _age(engine, material["id"], expires_in=timedelta(hours=1), used_ago=timedelta(days=1))
    connected.control.post(
        "/faults", json={"burst_45009": 1, "burst_errcode": 40058, "burst_path": "media/upload"}
    )
    with unit_of_work(engine) as session:
        result = asyncio.run(wecom_media.refresh_media(session, workspace.id))

    assert result == {"refreshed": 1, "failed": 1}
    with unit_of_work(engine, write=False) as session:
        errors = [r.last_error for r in session.scalars(select(WecomMedia).order_by(WecomMedia.id))]
    assert errors[0] is not None
    assert errors[0].startswith("40058")
    assert errors[1] is None


def test_the_refresh_is_scheduled_hourly(engine: Engine, settings: Settings) -> None:
    with unit_of_work(engine) as session:
        ensure_installation_schedules(session, settings)
        schedule = session.scalars(
            select(Schedule).where(Schedule.key == REFRESH_WECOM_MEDIA_JOB)
        ).one()
        assert (schedule.cron, schedule.job_name) == ("23 * * * *", REFRESH_WECOM_MEDIA_JOB)
