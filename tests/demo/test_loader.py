"""The demo workspace loads through the services, once, and its printed login works."""

from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from typer.testing import CliRunner

from siyu.cli.main import app as cli
from siyu.db import session as db_session
from siyu.db.base import Base
from siyu.db.session import unit_of_work
from siyu.demo import data
from siyu.demo.loader import load_demo
from siyu.exceptions import Conflict
from siyu.models import (
    Customer,
    CustomerTag,
    Event,
    FollowRelation,
    Identity,
    Order,
    Staff,
    Workspace,
)
from siyu.workspace import service as workspace_service

CUSTOMERS = 120


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def test_demo_loads_a_brand_with_customers_tags_orders_and_events(engine: Engine) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    assert loaded.created
    assert loaded.api_key is not None
    with unit_of_work(engine) as session:
        ws = loaded.workspace_id
        customers = session.scalars(select(Customer).where(Customer.workspace_id == ws)).all()
        assert len(customers) == CUSTOMERS
        assert all(c.merged_into_id is None for c in customers)
        assert {c.source for c in customers} <= {s for s, _ in data.SOURCES}
        for customer in customers:
            assert customer.name
            assert 2 <= len(customer.name) <= 3
            if customer.mobile:
                assert phonenumbers.is_valid_number(phonenumbers.parse(customer.mobile))
                assert customer.mobile[3:5] in {"13", "15", "18"}
        # Order stats count every order that was not refunded.
        assert sum(c.order_count for c in customers) == session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.workspace_id == ws, Order.status != "refunded")
        )
        assert session.scalar(
            select(func.count(func.distinct(Order.platform))).where(Order.workspace_id == ws)
        ) == len(set(data.SOURCE_PLATFORM.values()))
        kinds = set(session.scalars(select(Identity.kind).where(Identity.workspace_id == ws)))
        assert {"mobile", "taobao_buyer_id", "wecom_external_userid"} <= kinds
        tagged = session.scalar(
            select(func.count(func.distinct(CustomerTag.customer_id))).where(
                CustomerTag.workspace_id == ws
            )
        )
        assert tagged == CUSTOMERS
        event_types = set(session.scalars(select(Event.event_type).where(Event.workspace_id == ws)))
        assert {"page_view", "product_view"} <= event_types
        staff = session.scalars(select(Staff).where(Staff.workspace_id == ws)).all()
        assert len(staff) == len(data.STAFF)
        assert all(member.department_id is not None for member in staff)
        followed = session.scalars(
            select(FollowRelation.customer_id).where(FollowRelation.workspace_id == ws)
        ).all()
        store_customers = {c.id for c in customers if c.source in {"门店", "渠道活码"}}
        assert store_customers <= set(followed)
        workspace = session.get(Workspace, ws)
        assert workspace is not None
        assert workspace.settings["demo"]["customers"] == CUSTOMERS
        levels = Counter(c.custom_fields.get("member_level") for c in customers)
        assert set(levels) == {"普通会员", "银卡", "金卡", "黑金"}
        assert levels["普通会员"] > levels["黑金"]
        assert any(isinstance(c.custom_fields.get("scents"), list) for c in customers)


def test_second_load_adds_nothing_and_shows_no_key(engine: Engine) -> None:
    first = load_demo(engine, customers=CUSTOMERS)
    before = row_counts(engine)
    second = load_demo(engine, customers=CUSTOMERS)
    assert second.workspace_id == first.workspace_id
    assert not second.created
    assert second.api_key is None
    assert row_counts(engine) == before


def test_same_seed_makes_the_same_customers(engine: Engine) -> None:
    def names() -> list[tuple[str | None, str | None]]:
        with unit_of_work(engine) as session:
            return [
                (c.name, c.mobile)
                for c in session.scalars(select(Customer).order_by(Customer.id)).all()
            ]

    load_demo(engine, customers=40)
    first = names()
    with engine.begin() as connection:
        connection.execute(delete(Workspace))
    load_demo(engine, customers=40)
    assert names() == first


def test_a_demo_slug_taken_by_someone_else_is_not_overwritten(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        workspace_service.create_workspace(session, slug=data.WORKSPACE_SLUG, name="别人的")
    with pytest.raises(Conflict):
        load_demo(engine, customers=CUSTOMERS)


def test_the_printed_login_and_key_work_against_the_app(engine: Engine, client: TestClient) -> None:
    loaded = load_demo(engine, customers=CUSTOMERS)
    assert loaded.api_key is not None
    by_key = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {loaded.api_key}"})
    assert by_key.status_code == 200, by_key.text
    assert by_key.json()["workspace_slug"] == data.WORKSPACE_SLUG
    login = client.post(
        "/api/v1/auth/login", json={"email": data.LOGIN_EMAIL, "password": data.LOGIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    assert login.json()["workspace_name"] == data.BRAND_NAME
    assert login.json()["role"] == "admin"


def test_siyu_demo_no_serve_prints_the_login_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "_engine", db_session._engine)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    args = ["demo", "--no-serve", "--customers", "30", "--database-url", url]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert data.LOGIN_EMAIL in first.output
    assert data.LOGIN_PASSWORD in first.output
    assert "sk_siyu_" in first.output
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output
    assert "sk_siyu_" not in second.output
    assert "siyu apikey create" in second.output
