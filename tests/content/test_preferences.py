"""Opt-outs: the service, the signed preference page, one-click unsubscribe, SMS "T"."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.app import create_app
from siyu.config import Settings
from siyu.content import preferences
from siyu.db.session import unit_of_work
from siyu.exceptions import ValidationFailed
from siyu.kit import tokens
from siyu.models import Customer, Identity, OptOut
from tests.conftest import WorkspaceFixture

MOBILE = "+8613800001234"


def add_customer(engine: Engine, workspace_id: int, *, mobile: str | None = None) -> int:
    with unit_of_work(engine) as session:
        customer = Customer(workspace_id=workspace_id, name="张三", mobile=mobile)
        session.add(customer)
        session.flush()
        if mobile:
            session.add(
                Identity(
                    workspace_id=workspace_id,
                    customer_id=customer.id,
                    kind="mobile",
                    value=mobile,
                    source="import",
                )
            )
        return customer.id


def opt_outs(engine: Engine, customer_id: int) -> dict[str, str]:
    with unit_of_work(engine, write=False) as session:
        rows = session.scalars(select(OptOut).where(OptOut.customer_id == customer_id))
        return {row.channel: row.source for row in rows}


def page_path(settings: Settings, workspace_id: int, customer_id: int, channel: str) -> str:
    url = preferences.unsubscribe_url(settings, workspace_id, customer_id, channel)
    assert url.startswith(settings.base_url + "/u/")
    return url[len(settings.base_url) :]


# -- the service -------------------------------------------------------------------------


def test_opt_out_and_back_in_per_channel(
    engine: Engine, db: Session, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    assert preferences.opt_out(db, workspace.id, customer, "sms", "manual") is True
    assert preferences.opt_out(db, workspace.id, customer, "sms", "manual") is False
    assert preferences.is_opted_out(db, workspace.id, customer, "sms")
    assert not preferences.is_opted_out(db, workspace.id, customer, "email")

    assert preferences.opt_in(db, workspace.id, customer, "sms") is True
    assert not preferences.is_opted_out(db, workspace.id, customer, "sms")
    assert preferences.opt_in(db, workspace.id, customer, "sms") is False


def test_opting_in_to_one_channel_after_all_keeps_the_others_out(
    engine: Engine, db: Session, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    preferences.opt_out(db, workspace.id, customer, "all", "manual")
    assert all(
        preferences.is_opted_out(db, workspace.id, customer, c) for c in preferences.CHANNELS
    )

    preferences.opt_in(db, workspace.id, customer, "email")

    assert not preferences.is_opted_out(db, workspace.id, customer, "email")
    assert preferences.is_opted_out(db, workspace.id, customer, "sms")
    assert preferences.is_opted_out(db, workspace.id, customer, "wecom")
    preferences.opt_in(db, workspace.id, customer, "all")
    assert not any(
        preferences.is_opted_out(db, workspace.id, customer, c) for c in preferences.CHANNELS
    )


def test_opted_out_customers_works_as_a_subquery(
    engine: Engine, db: Session, make_workspace: Any
) -> None:
    workspace, other = make_workspace(), make_workspace()
    sms_out, all_out, email_out, stays = (add_customer(engine, workspace.id) for _ in range(4))
    foreign = add_customer(engine, other.id)
    preferences.opt_out(db, workspace.id, sms_out, "sms", "manual")
    preferences.opt_out(db, workspace.id, all_out, "all", "manual")
    preferences.opt_out(db, workspace.id, email_out, "email", "manual")
    preferences.opt_out(db, other.id, foreign, "sms", "manual")

    out = preferences.opted_out_customers(db, workspace.id, "sms")
    eligible = set(
        db.scalars(
            select(Customer.id).where(
                Customer.workspace_id == workspace.id, Customer.id.not_in(out)
            )
        )
    )
    assert eligible == {email_out, stays}
    assert set(db.scalars(out)) == {sms_out, all_out}


def test_unknown_channels_are_refused(db: Session, workspace: WorkspaceFixture) -> None:
    with pytest.raises(ValidationFailed) as raised:
        preferences.opt_out(db, workspace.id, 1, "fax", "manual")
    assert raised.value.field == "channel"


@pytest.mark.parametrize("reply", ["T", " t ", "TD", "td\n", "N", "退订", "ＴＤ"])
def test_an_sms_stop_reply_opts_the_number_out_of_sms(
    engine: Engine, db: Session, workspace: WorkspaceFixture, reply: str
) -> None:
    customer = add_customer(engine, workspace.id, mobile=MOBILE)
    assert preferences.opt_out_by_sms_reply(db, workspace.id, "13800001234", reply) is True
    db.commit()
    assert opt_outs(engine, customer) == {"sms": "sms_reply"}


@pytest.mark.parametrize(
    ("mobile", "reply"),
    [("13800001234", "好的"), ("13800001234", "TT"), ("13900009999", "T"), ("not a number", "T")],
)
def test_other_replies_and_unknown_numbers_change_nothing(
    engine: Engine, db: Session, workspace: WorkspaceFixture, mobile: str, reply: str
) -> None:
    customer = add_customer(engine, workspace.id, mobile=MOBILE)
    assert preferences.opt_out_by_sms_reply(db, workspace.id, mobile, reply) is False
    db.commit()
    assert opt_outs(engine, customer) == {}


def test_an_sms_reply_never_reaches_another_workspaces_customer(
    engine: Engine, db: Session, make_workspace: Any
) -> None:
    workspace, other = make_workspace(), make_workspace()
    foreign = add_customer(engine, other.id, mobile=MOBILE)
    assert preferences.opt_out_by_sms_reply(db, workspace.id, MOBILE, "T") is False
    db.commit()
    assert opt_outs(engine, foreign) == {}


# -- tokens ------------------------------------------------------------------------------


def test_tokens_survive_a_key_rotation_and_refuse_tampering(settings: Settings) -> None:
    token = preferences.make_token(settings, 3, 42, "email")
    assert preferences.read_token(settings, token) == preferences.PreferenceToken(3, 42, "email")

    rotated = settings.model_copy(
        update={
            "secret_key": SecretStr("a-new-key-" * 4),
            "previous_secret_keys": [settings.secret_key],
        }
    )
    assert preferences.read_token(rotated, token) == preferences.PreferenceToken(3, 42, "email")
    other = settings.model_copy(update={"secret_key": SecretStr("someone-else-" * 3)})
    assert preferences.read_token(other, token) is None

    payload, _, signature = token.rpartition(".")
    forged = preferences.make_token(settings, 3, 43, "email").rpartition(".")[0]
    assert preferences.read_token(settings, f"{forged}.{signature}") is None
    assert preferences.read_token(settings, payload) is None
    assert preferences.read_token(settings, "") is None


# -- the page ----------------------------------------------------------------------------


def test_the_page_shows_the_channel_and_opts_out_and_back_in(
    engine: Engine, client: TestClient, settings: Settings, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    path = page_path(settings, workspace.id, customer, "sms")

    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "您正在接收短信" in page.text
    assert 'value="opt_out"' in page.text

    done = client.post(path, data={"action": "opt_out"})
    assert done.status_code == 200
    assert "您已退订短信" in done.text
    assert opt_outs(engine, customer) == {"sms": "preference_page"}

    back = client.post(path, data={"action": "opt_in"})
    assert "您正在接收短信" in back.text
    assert opt_outs(engine, customer) == {}

    client.post(path, data={"action": "opt_out_all"})
    assert opt_outs(engine, customer) == {"all": "preference_page"}
    everything = client.get(path).text
    assert "您已退订全部消息" in everything
    assert 'value="opt_in_all"' in everything

    client.post(path, data={"action": "opt_in"})  # back to SMS only
    assert opt_outs(engine, customer) == {"wecom": "preference_page", "email": "preference_page"}


def test_one_click_unsubscribe_opts_out_without_a_page(
    engine: Engine, client: TestClient, settings: Settings, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    path = page_path(settings, workspace.id, customer, "email")

    response = client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "<form" not in response.text
    assert opt_outs(engine, customer) == {"email": "one_click"}
    # Mail clients may post it as multipart; a repeat changes nothing.
    again = client.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200
    assert opt_outs(engine, customer) == {"email": "one_click"}


def test_a_tampered_token_is_refused_and_changes_nothing(
    engine: Engine, client: TestClient, settings: Settings, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    other = add_customer(engine, workspace.id)
    path = page_path(settings, workspace.id, customer, "sms")
    signature = path.rpartition(".")[2]
    forged = page_path(settings, workspace.id, other, "sms").rpartition(".")[0]
    tampered = f"{forged}.{signature}"

    for response in (
        client.get(tampered),
        client.post(tampered, data={"action": "opt_out"}),
        client.post(tampered, data={"List-Unsubscribe": "One-Click"}),
        client.post(path[:-2] + "xx", data={"action": "opt_out"}),
    ):
        assert response.status_code == 400
        assert "链接无效" in response.text
    assert opt_outs(engine, customer) == {}
    assert opt_outs(engine, other) == {}


def test_the_page_follows_a_merged_customer_to_its_survivor(
    engine: Engine, client: TestClient, settings: Settings, workspace: WorkspaceFixture
) -> None:
    survivor = add_customer(engine, workspace.id)
    merged = add_customer(engine, workspace.id)
    with unit_of_work(engine) as session:
        row = session.get(Customer, merged)
        assert row is not None
        row.merged_into_id = survivor
    path = page_path(settings, workspace.id, merged, "wecom")

    client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert opt_outs(engine, survivor) == {"wecom": "one_click"}
    assert opt_outs(engine, merged) == {}


def test_the_preference_page_is_rate_limited(
    engine: Engine, settings: Settings, workspace: WorkspaceFixture
) -> None:
    customer = add_customer(engine, workspace.id)
    path = page_path(settings, workspace.id, customer, "sms")
    limited = settings.model_copy(update={"public_requests_per_minute": 2})
    with TestClient(create_app(limited, engine=engine, run_worker=False)) as client:
        statuses = [client.get(path).status_code for _ in range(2)]
        refused = client.post(path, data={"action": "opt_out"})
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.headers["retry-after"]
    assert opt_outs(engine, customer) == {}


def test_links_of_earlier_releases_still_work(settings: Settings) -> None:
    # what make_token wrote before tokens became a BLAKE2b MAC (itsdangerous)
    earlier = preferences._serializer(settings).dumps([3, 42, "email"])
    assert isinstance(earlier, str)
    assert earlier.count(".") == 1
    assert preferences.read_token(settings, earlier) == preferences.PreferenceToken(3, 42, "email")
    assert preferences.make_token(settings, 3, 42, "email").startswith("3.42.email.")


def test_a_token_with_ids_that_are_not_plain_numbers_is_refused(settings: Settings) -> None:
    key = tokens.keys(settings, preferences.TOKEN_PURPOSE)[0]
    for fields in ("03.42.email", "3.-42.email", "3.42.all", "3.42.fax"):
        assert preferences.read_token(settings, tokens.sign(key, fields)) is None
