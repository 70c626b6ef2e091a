"""Incremental sync: the simulator pushes callbacks to Siyu over real HTTP, the inbox jobs
run the handlers, and Siyu ends up holding exactly what WeCom holds."""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.connectors.wecom import handlers, sync_jobs
from siyu.connectors.wecom.connection import get_connection
from siyu.connectors.wecom.events import CallbackEvent, EventHandler
from siyu.connectors.wecom_sim import WecomSim
from siyu.connectors.wecom_sim.seed import add_department
from siyu.connectors.wecom_sim.server import ThreadedServer
from siyu.models import CustomerGroup, FollowLoss, Staff
from tests.conftest import WorkspaceFixture
from tests.connectors.wecom.sync_helpers import connect_to_sim, sim_snapshot, siyu_snapshot


@dataclass
class Live:
    sim: WecomSim
    db: Session
    workspace_id: int
    run_jobs: Callable[[], int]

    def act(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Play a person in WeCom, wait for the callbacks it fires and process them."""
        self.db.rollback()  # let the callback receiver write (SQLite locks the whole file)
        response = self.sim.control.post(path, json=body or {})
        response.raise_for_status()
        self.settle()
        return response.json()

    def settle(self) -> None:
        with self.sim.state.lock:
            pushed = len(self.sim.state.pushes)
        self.sim.wait_for_pushes(pushed)
        self.run_jobs()
        self.db.expire_all()

    def converged(self) -> bool:
        same = siyu_snapshot(self.db, self.workspace_id) == sim_snapshot(self.sim)
        self.db.rollback()
        return same

    def some_relation(self) -> tuple[str, str]:
        with self.sim.state.lock:
            return sorted(self.sim.state.follows)[0]


@pytest.fixture
def siyu_server(app: FastAPI) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live(
    wecom_sim: WecomSim,
    db: Session,
    workspace: WorkspaceFixture,
    run_jobs: Callable[[], int],
    siyu_server: ThreadedServer,
) -> Live:
    connect_to_sim(db, workspace.id, wecom_sim)
    sync_jobs.start_run(db, workspace.id, "full")
    db.commit()
    run_jobs()
    connection = get_connection(db, workspace.id)
    wecom_sim.set_callback(
        f"{siyu_server.base_url}/wecom/callback/{workspace.slug}",
        connection.callback_token.get_secret_value(),
        connection.encoding_aes_key.get_secret_value(),
    )
    live = Live(wecom_sim, db, workspace.id, run_jobs)
    assert live.converged()
    return live


def _losses(live: Live) -> list[FollowLoss]:
    return list(
        live.db.scalars(select(FollowLoss).where(FollowLoss.workspace_id == live.workspace_id))
    )


def test_customer_deleting_a_staff_member_ends_the_relation_and_records_a_lost_customer(
    live: Live,
) -> None:
    userid, external_userid = live.some_relation()

    live.act("/customer-deletes-staff", {"userid": userid, "external_userid": external_userid})

    assert live.converged()
    [loss] = _losses(live)
    assert loss.deleted_by == "customer"
    assert loss.alerted_at is not None


def test_staff_deleting_a_customer_is_recorded_as_deleted_by_staff(live: Live) -> None:
    userid, external_userid = live.some_relation()

    live.act("/staff-deletes-customer", {"userid": userid, "external_userid": external_userid})

    assert live.converged()
    assert [loss.deleted_by for loss in _losses(live)] == ["staff"]


def test_new_customer_added_by_staff_becomes_a_customer_with_a_relation(live: Live) -> None:
    userid = live.some_relation()[0]

    live.act("/staff-adds-customer", {"userid": userid, "name": "新客户"})

    assert live.converged()


def test_staff_editing_tags_and_remark_is_mirrored(live: Live) -> None:
    userid, external_userid = live.some_relation()
    with live.sim.state.lock:
        tag_id = sorted(live.sim.state.tags)[0]

    live.act(
        "/staff-edits-customer",
        {
            "userid": userid,
            "external_userid": external_userid,
            "remark": "老客户",
            "add_tag": [tag_id],
        },
    )

    assert live.converged()


def test_group_lifecycle_is_mirrored(live: Live) -> None:
    userid, external_userid = live.some_relation()
    chat = live.act(
        "/groups", {"owner": userid, "name": "新品体验群", "external_userids": [external_userid]}
    )
    chat_id = chat["chat_id"]
    assert live.converged()

    live.act(f"/groups/{chat_id}/rename", {"name": "VIP 体验群"})
    live.act(f"/groups/{chat_id}/leave", {"members": [external_userid]})
    assert live.converged()

    live.act(f"/groups/{chat_id}/dismiss")
    assert live.converged()
    group = live.db.scalar(select(CustomerGroup).where(CustomerGroup.chat_id == chat_id))
    assert group is not None
    assert group.status == "dismissed"


def test_corp_tag_changes_are_mirrored(live: Live) -> None:
    created = live.act("/corp-tags", {"group_name": "会员权益", "tags": ["生日礼", "积分翻倍"]})
    assert live.converged()

    live.act(f"/corp-tags/{created['tag_ids'][0]}/rename", {"name": "生日专享"})
    assert live.converged()

    live.act(f"/corp-tags/{created['group_id']}/delete")
    assert live.converged()


def test_directory_changes_are_mirrored(live: Live) -> None:
    hired = live.act("/staff", {"name": "新同事"})
    assert live.converged()

    live.act(f"/staff/{hired['userid']}/resign")

    staff = live.db.scalar(select(Staff).where(Staff.wecom_userid == hired["userid"]))
    assert staff is not None
    assert staff.status == "resigned"


def test_a_late_add_callback_does_not_resurrect_a_deleted_relation(live: Live) -> None:
    userid, external_userid = live.some_relation()
    live.act("/staff-deletes-customer", {"userid": userid, "external_userid": external_userid})
    late_add = CallbackEvent(
        event="change_external_contact",
        change_type="add_external_contact",
        create_time=datetime(2026, 1, 1, tzinfo=UTC),
        fields={"UserID": userid, "ExternalUserID": external_userid},
    )

    asyncio.run(_deliver(live, late_add))

    assert live.converged()
    assert [loss.deleted_by for loss in _losses(live)] == ["staff"]


async def _deliver(live: Live, event: CallbackEvent) -> None:
    await handlers.contact_added(live.db, live.workspace_id, event)
    live.db.commit()


def test_department_events_mirror_the_directory(live: Live) -> None:
    with live.sim.state.lock:
        department = add_department(live.sim.state, "新零售部")
    event = CallbackEvent(
        event="change_contact",
        change_type="create_party",
        create_time=datetime.now(UTC),
        fields={"Id": str(department.id)},
    )
    asyncio.run(_deliver_to(handlers.department_changed, live, event))
    assert live.converged()

    with live.sim.state.lock:
        del live.sim.state.departments[department.id]
    gone = CallbackEvent(
        event="change_contact",
        change_type="delete_party",
        create_time=datetime.now(UTC),
        fields={"Id": str(department.id)},
    )
    asyncio.run(_deliver_to(handlers.department_deleted, live, gone))
    assert live.converged()


async def _deliver_to(handler: EventHandler, live: Live, event: CallbackEvent) -> None:
    await handler(live.db, live.workspace_id, event)
    live.db.commit()
