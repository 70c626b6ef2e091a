"""Load the demo workspace 山茶集 through the same services the API and importers use.

Everything is written in one unit of work, so a load either completes or leaves nothing
behind; the workspace's `settings["demo"]` marker says it is complete, and a second load
finds it and adds nothing. The random generator is seeded: every load of the same
version produces the same brand.
"""

import random
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.demo.activity import load_events, load_orders
from siyu.demo.campaigns import load_broadcasts
from siyu.demo.channels import load_channel_accounts
from siyu.demo.insights import load_segments
from siyu.demo.library import load_materials
from siyu.demo.people import (
    Loaded,
    Progress,
    load_custom_fields,
    load_customers,
    load_follow_relations,
    load_staff,
    load_tags,
    person_spec,
)
from siyu.exceptions import Conflict
from siyu.models import Workspace
from siyu.workspace import service as workspace_service
from siyu.workspace.principal import Principal
from siyu.workspace.repository import WorkspaceRepository
from siyu.workspace.roles import Role

DEMO_VERSION = 3
DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class DemoLoad:
    workspace_id: int
    created: bool
    api_key: str | None  # the plaintext key, only when this call created the workspace
    version: int = DEMO_VERSION  # the version of the loader that made the workspace
    email: str = data.LOGIN_EMAIL
    password: str = data.LOGIN_PASSWORD


def demo_workspace(session: Session) -> Workspace | None:
    return WorkspaceRepository(session).workspace_by_slug(data.WORKSPACE_SLUG)


def is_loaded(workspace: Workspace) -> bool:
    return bool((workspace.settings or {}).get("demo"))


def load_demo(
    engine: Engine,
    *,
    customers: int = data.DEMO_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> DemoLoad:
    """Create the demo workspace with its data, or find the one an earlier load made."""
    report = progress or (lambda _step, _done, _total: None)
    with unit_of_work(engine) as session:
        existing = demo_workspace(session)
        if existing is not None:
            if not is_loaded(existing):
                raise Conflict(
                    f"workspace {data.WORKSPACE_SLUG!r} exists but was not made by `siyu demo`",
                    {"field": "slug"},
                )
            version = int(existing.settings["demo"].get("version", 1))
            return DemoLoad(existing.id, created=False, api_key=None, version=version)
        rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
        workspace = workspace_service.create_workspace(
            session, slug=data.WORKSPACE_SLUG, name=data.BRAND_NAME
        )
        workspace_service.create_user(
            session,
            workspace_id=workspace.id,
            email=data.LOGIN_EMAIL,
            name="演示管理员",
            password=data.LOGIN_PASSWORD,
            role=Role.ADMIN,
        )
        api_key = workspace_service.create_api_key(
            session, workspace_id=workspace.id, name="demo", role=Role.ADMIN
        )
        loaded = Loaded(workspace.id, Principal.system(workspace.id))
        load_staff(session, loaded, rng)
        people = [person_spec(rng, n) for n in range(customers)]
        load_custom_fields(session, loaded)
        load_customers(session, loaded, people, rng, report)
        load_follow_relations(session, loaded, rng, report)
        load_tags(session, loaded, rng, report)
        load_orders(session, loaded, rng, report)
        load_events(session, loaded, rng, report)
        segment_ids = load_segments(session, loaded)
        load_channel_accounts(session, loaded)
        library = load_materials(session, loaded)
        load_broadcasts(session, loaded, library, segment_ids, rng, report)
        workspace.settings = {
            **(workspace.settings or {}),
            "demo": {"version": DEMO_VERSION, "seed": seed, "customers": customers},
        }
        return DemoLoad(workspace.id, created=True, api_key=api_key.plaintext)
