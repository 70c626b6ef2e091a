"""The demo's WeCom: a simulated corp on port 8010 that mirrors the demo workspace.

`siyu demo` starts the simulator, connects the demo workspace to its corp once (same seed,
same corp id and secrets every time), copies the workspace's departments, staff and WeCom
customers into it, and points its callbacks at the demo server.
"""

import threading
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.connectors.wecom.connection import connect, crypto_for, find_connection
from siyu.connectors.wecom_sim.config import SimConfig
from siyu.connectors.wecom_sim.seed import add_contact, add_follow
from siyu.connectors.wecom_sim.server import SimServer
from siyu.connectors.wecom_sim.state import RESIGNED, Member, SimState
from siyu.connectors.wecom_sim.state import Department as SimDepartment
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.models import Customer, Department, FollowRelation, Identity, Staff

SIM_HOST = "127.0.0.1"
SIM_PORT = 8010
SIM_CONFIG = SimConfig(seed=20240601, corp_name=data.BRAND_NAME)
ADD_WAYS = {"qr_code": 1, "mobile_search": 2, "card_share": 3}


def ensure_connection(session: Session, workspace_id: int) -> None:
    """Connect the demo workspace to the simulated corp, once."""
    if find_connection(session, workspace_id) is not None:
        return
    connect(
        session,
        workspace_id=workspace_id,
        corp_id=SIM_CONFIG.resolved_corp_id,
        contact_secret=SIM_CONFIG.resolved_contact_secret,
        directory_secret=SIM_CONFIG.resolved_directory_secret,
        agent_id=SIM_CONFIG.agent_id,
        api_base_url=f"http://{SIM_HOST}:{SIM_PORT}",
    )


def mirror_workspace(state: SimState, session: Session, workspace_id: int) -> None:
    """Copy departments, staff with a WeCom userid, customers with an external_userid and
    their active follow relations into the simulator, so a sync finds what the demo shows."""
    with state.lock:
        departments = session.scalars(
            select(Department)
            .where(Department.workspace_id == workspace_id)
            .order_by(Department.id)
        ).all()
        sim_ids: dict[int, int] = {}
        for department in departments:
            if department.parent_id is None and 1 not in sim_ids.values():
                sim_ids[department.id] = 1
                state.departments[1].name = department.name
                continue
            new_id = max(state.departments) + 1
            parent = sim_ids.get(department.parent_id or 0, 1)
            state.departments[new_id] = SimDepartment(
                new_id, department.name, parent, 100_000_000 - new_id * 1000
            )
            sim_ids[department.id] = new_id
        staff_rows = session.scalars(
            select(Staff).where(Staff.workspace_id == workspace_id, Staff.wecom_userid.is_not(None))
        ).all()
        userids: dict[int, str] = {}
        for staff in staff_rows:
            assert staff.wecom_userid is not None
            userids[staff.id] = staff.wecom_userid
            state.members[staff.wecom_userid] = Member(
                userid=staff.wecom_userid,
                name=staff.name,
                department=[sim_ids.get(staff.department_id or 0, 1)],
                position=staff.position or "",
                mobile=staff.mobile or "",
                email=staff.email or "",
                status=1 if staff.status == "active" else RESIGNED,
            )
        customers = session.execute(
            select(Identity.customer_id, Identity.value, Customer.name)
            .join(Customer, Customer.id == Identity.customer_id)
            .where(Identity.workspace_id == workspace_id, Identity.kind == "wecom_external_userid")
        ).all()
        external_ids: dict[int, str] = {}
        for customer_id, external_userid, name in customers:
            external_ids[customer_id] = external_userid
            add_contact(state, name or external_userid, external_userid=external_userid)
        follows = session.scalars(
            select(FollowRelation).where(
                FollowRelation.workspace_id == workspace_id,
                FollowRelation.status == "active",
                FollowRelation.customer_id.in_(external_ids),
            )
        ).all()
        for follow in follows:
            userid = userids.get(follow.staff_id)
            if userid is None:
                continue
            add_follow(
                state,
                userid,
                external_ids[follow.customer_id],
                add_way=ADD_WAYS.get(follow.add_way or "", 0),
                state_value=follow.state or "",
                remark=follow.remark or "",
                createtime=int(_aware(follow.added_at).timestamp()),
            )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_simulator(engine: Engine, workspace_id: int, callback_url: str) -> SimServer:
    """Run the simulator for the demo; raises OSError when the port is taken."""
    server = SimServer(SIM_CONFIG, host=SIM_HOST, port=SIM_PORT)
    with unit_of_work(engine) as session:
        ensure_connection(session, workspace_id)
        mirror_workspace(server.state, session, workspace_id)
        connection = find_connection(session, workspace_id)
        assert connection is not None
        crypto = crypto_for(connection)
    server.start()
    server.state.set_callback(callback_url, crypto.token, crypto.encoding_aes_key)
    threading.Thread(
        target=_verify_when_up,
        args=(server, callback_url, crypto.token, crypto.encoding_aes_key),
        daemon=True,
    ).start()
    return server


def _verify_when_up(server: SimServer, url: str, token: str, encoding_aes_key: str) -> None:
    """Once the demo server answers, do WeCom's URL verification so the connection shows as
    verified in the console."""
    body = {"url": url, "token": token, "encoding_aes_key": encoding_aes_key, "verify": True}
    for _ in range(120):
        try:
            if httpx.post(f"{server.base_url}/control/callback", json=body).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
