from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from siyu.customers import oneid
from siyu.customers.identities import normalize
from siyu.db.session import unit_of_work
from siyu.models import AuditEntry
from siyu.workspace import service as workspace_service
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture


def new_customer(engine: Engine, workspace_id: int, **identities: str) -> int:
    with unit_of_work(engine) as session:
        refs = [normalize(kind, value) for kind, value in identities.items()]
        customer_id = oneid.resolve(session, workspace_id, refs, source="test").customer_id
    assert customer_id is not None
    return customer_id


def key_with_role(engine: Engine, workspace_id: int, role: Role) -> dict[str, str]:
    with unit_of_work(engine) as session:
        key = workspace_service.create_api_key(
            session, workspace_id=workspace_id, name=role.value, role=role
        )
    return {"Authorization": f"Bearer {key.plaintext}"}


def audit_actions(engine: Engine, workspace_id: int) -> list[str]:
    with unit_of_work(engine) as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.workspace_id == workspace_id)
                .order_by(AuditEntry.id)
            )
        )


def test_lookup_finds_a_customer_by_an_identity_in_any_format(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    customer_id = new_customer(engine, workspace.id, mobile="13800138000")

    found = api.get(
        "/api/v1/customers/lookup", params={"kind": "mobile", "value": "+86 138-0013-8000"}
    )
    missing = api.get("/api/v1/customers/lookup", params={"kind": "mobile", "value": "13900139000"})
    invalid = api.get("/api/v1/customers/lookup", params={"kind": "mobile", "value": "12345"})

    assert found.status_code == 200
    assert found.json() == {"customer_id": customer_id}
    assert missing.status_code == 404
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"]["field"] == "value"


def test_viewers_see_identities_masked_and_operators_see_them_whole(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    customer_id = new_customer(engine, workspace.id, mobile="13800138000", email="li@x.com")
    viewer = key_with_role(engine, workspace.id, Role.VIEWER)

    whole = api.get(f"/api/v1/customers/{customer_id}/identities").json()
    masked = api.get(f"/api/v1/customers/{customer_id}/identities", headers=viewer).json()

    assert [i["value"] for i in whole["items"]] == ["+8613800138000", "li@x.com"]
    assert [i["value"] for i in masked["items"]] == ["+86138****8000", "l***@x.com"]
    assert whole["next_cursor"] is None


def test_identities_page_by_cursor(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    customer_id = new_customer(
        engine, workspace.id, mobile="13800138000", email="li@x.com", wechat_unionid="u1"
    )

    first = api.get(f"/api/v1/customers/{customer_id}/identities", params={"limit": 2}).json()
    rest = api.get(
        f"/api/v1/customers/{customer_id}/identities",
        params={"limit": 2, "cursor": first["next_cursor"]},
    ).json()

    assert [i["kind"] for i in first["items"] + rest["items"]] == [
        "mobile",
        "email",
        "wechat_unionid",
    ]
    assert rest["next_cursor"] is None


def test_adding_identities_attaches_merges_or_refuses(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    older = new_customer(engine, workspace.id, mobile="13800138000")
    newer = new_customer(engine, workspace.id, wechat_unionid="u1", email="a@x.com")
    third = new_customer(engine, workspace.id, jd_buyer_id="jd1")

    attached = api.post(
        f"/api/v1/customers/{third}/identities", json={"kind": "email", "value": "B@X.com"}
    )
    refused = api.post(
        f"/api/v1/customers/{third}/identities", json={"kind": "email", "value": "a@x.com"}
    )
    merged = api.post(
        f"/api/v1/customers/{newer}/identities", json={"kind": "mobile", "value": "13800138000"}
    )
    invalid = api.post(f"/api/v1/customers/{third}/identities", json={"kind": "fax", "value": "1"})

    assert attached.status_code == 201
    assert attached.json() == {"customer_id": third, "merged_customer_ids": []}
    assert refused.status_code == 409
    assert refused.json()["error"]["details"]["field"] == "value"
    assert merged.status_code == 201
    assert merged.json() == {"customer_id": older, "merged_customer_ids": [newer]}
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"]["field"] == "kind"
    assert audit_actions(engine, workspace.id) == ["customer.merge"]


def test_removing_an_identity(api: TestClient, engine: Engine, workspace: WorkspaceFixture) -> None:
    customer_id = new_customer(engine, workspace.id, mobile="13800138000", email="a@x.com")
    items = api.get(f"/api/v1/customers/{customer_id}/identities").json()["items"]

    removed = api.delete(f"/api/v1/customers/{customer_id}/identities/{items[1]['id']}")
    again = api.delete(f"/api/v1/customers/{customer_id}/identities/{items[1]['id']}")

    assert removed.status_code == 204
    assert again.status_code == 404
    remaining = api.get(f"/api/v1/customers/{customer_id}/identities").json()["items"]
    assert [i["kind"] for i in remaining] == ["mobile"]


def test_merge_and_undo_are_recorded_in_history_and_audit_log(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    survivor = new_customer(engine, workspace.id, mobile="13800138000")
    merged = new_customer(engine, workspace.id, email="a@x.com")

    response = api.post(
        f"/api/v1/customers/{survivor}/merge", json={"merged_id": merged, "reason": "same person"}
    )
    assert response.status_code == 201
    record = response.json()
    assert (record["survivor_id"], record["merged_id"], record["undone_at"]) == (
        survivor,
        merged,
        None,
    )
    assert record["moved"]["identity"] == 1
    lookup = api.get("/api/v1/customers/lookup", params={"kind": "email", "value": "a@x.com"})
    assert lookup.json() == {"customer_id": survivor}

    undone = api.post(f"/api/v1/merges/{record['id']}/undo")
    again = api.post(f"/api/v1/merges/{record['id']}/undo")

    assert undone.status_code == 200
    assert undone.json()["undone_at"] is not None
    assert undone.json()["undone_by"].startswith("api_key:")
    assert again.status_code == 409
    history = api.get(f"/api/v1/customers/{merged}/merges").json()
    assert [h["id"] for h in history["items"]] == [record["id"]]
    lookup = api.get("/api/v1/customers/lookup", params={"kind": "email", "value": "a@x.com"})
    assert lookup.json() == {"customer_id": merged}
    assert audit_actions(engine, workspace.id) == ["customer.merge", "customer.unmerge"]


def test_viewers_cannot_merge_or_undo(
    client: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    survivor = new_customer(engine, workspace.id, mobile="13800138000")
    merged = new_customer(engine, workspace.id, email="a@x.com")
    viewer = key_with_role(engine, workspace.id, Role.VIEWER)

    response = client.post(
        f"/api/v1/customers/{survivor}/merge",
        json={"merged_id": merged, "reason": "x"},
        headers=viewer,
    )

    assert response.status_code == 403


def test_ids_of_another_workspace_are_not_found(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture, make_workspace: MakeWorkspace
) -> None:
    other = make_workspace()
    mine = new_customer(engine, workspace.id, mobile="13800138000")
    theirs = new_customer(engine, other.id, mobile="13900139000")
    theirs_too = new_customer(engine, other.id, email="t@x.com")
    their_merge = api.post(
        f"/api/v1/customers/{theirs}/merge",
        json={"merged_id": theirs_too, "reason": "x"},
        headers=other.headers,
    ).json()
    their_identity = api.get(
        f"/api/v1/customers/{theirs}/identities", headers=other.headers
    ).json()["items"][0]

    responses = [
        api.post(f"/api/v1/customers/{mine}/merge", json={"merged_id": theirs, "reason": "x"}),
        api.post(f"/api/v1/customers/{theirs}/merge", json={"merged_id": mine, "reason": "x"}),
        api.post(f"/api/v1/merges/{their_merge['id']}/undo"),
        api.get(f"/api/v1/customers/{theirs}/merges"),
        api.get(f"/api/v1/customers/{theirs}/identities"),
        api.post(
            f"/api/v1/customers/{theirs}/identities", json={"kind": "email", "value": "z@x.com"}
        ),
        api.delete(f"/api/v1/customers/{theirs}/identities/{their_identity['id']}"),
        api.delete(f"/api/v1/customers/{mine}/identities/{their_identity['id']}"),
        api.get("/api/v1/customers/lookup", params={"kind": "mobile", "value": "13900139000"}),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)


def test_merge_rules_are_read_by_viewers_and_changed_by_admins_only(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    operator = key_with_role(engine, workspace.id, Role.OPERATOR)

    default = api.get("/api/v1/settings/merge-rules")
    invalid = api.put("/api/v1/settings/merge-rules", json={"merge_kinds": ["mobile", "fax"]})
    forbidden = api.put(
        "/api/v1/settings/merge-rules", json={"merge_kinds": ["mobile"]}, headers=operator
    )
    changed = api.put(
        "/api/v1/settings/merge-rules", json={"merge_kinds": ["email", "mobile", "email"]}
    )

    assert default.json() == {"merge_kinds": ["wecom_external_userid", "wechat_unionid", "mobile"]}
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"]["field"] == "merge_kinds[1]"
    assert forbidden.status_code == 403
    assert changed.json() == {"merge_kinds": ["email", "mobile"]}
    assert api.get("/api/v1/settings/merge-rules").json() == changed.json()
    assert audit_actions(engine, workspace.id) == ["workspace.merge_rules"]


def test_changed_merge_rules_decide_the_next_resolution(
    api: TestClient, engine: Engine, workspace: WorkspaceFixture
) -> None:
    api.put("/api/v1/settings/merge-rules", json={"merge_kinds": ["email"]})
    by_email = new_customer(engine, workspace.id, email="a@x.com")
    by_mobile = new_customer(engine, workspace.id, mobile="13800138000")

    refused = api.post(
        f"/api/v1/customers/{by_email}/identities", json={"kind": "mobile", "value": "13800138000"}
    )
    merged = api.post(
        f"/api/v1/customers/{by_mobile}/identities", json={"kind": "email", "value": "a@x.com"}
    )

    assert refused.status_code == 409
    assert merged.json() == {"customer_id": by_email, "merged_customer_ids": [by_mobile]}
