"""Tenant isolation, proven by walking every API route.

Workspace A's admin key is aimed at workspace B's objects on every route under /api/v1
that takes an object in its path. Every answer must be 404 and reveal nothing of B (no
403, no B names), and B's rows must be unchanged afterwards. List and search endpoints,
probed with B's ids and names in their query parameters, must return nothing of B.

The route walk is generic: a new route whose path parameter the tables below cannot map
fails the test until it is added here, so every future route is covered.
"""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from siyu.db.base import Base
from siyu.db.dependencies import DbSession
from siyu.exceptions import Forbidden, NotFound
from siyu.db.session import unit_of_work
from siyu.models import (
    CustomerTag,
    CustomField,
    Department,
    Event,
    EventType,
    FollowRelation,
    Identity,
    ImportRun,
    Job,
    MergeRecord,
    Order,
    OrderItem,
    Product,
    Refund,
    Staff,
    Tag,
    TagChange,
    TagGroup,
    User,
)
from siyu.models import Customer as CustomerRow
from siyu.workspace import service as workspace_service
from siyu.workspace.dependencies import Viewer
from siyu.workspace.roles import Role
from tests.conftest import MakeWorkspace, WorkspaceFixture

# Every text of B's objects carries this mark; no answer to A may contain it.
B_MARK = "bsecret"
A_MARK = "asafe"

# Path parameter name -> kind of object it names.
PARAM_KINDS: dict[str, str] = {
    "customer_id": "customer",
    "survivor_id": "customer",
    "merged_id": "customer",
    "identity_id": "identity",
    "merge_id": "merge_record",
    "merge_record_id": "merge_record",
    "field_id": "custom_field",
    "custom_field_id": "custom_field",
    "relation_id": "follow_relation",
    "follow_relation_id": "follow_relation",
    "staff_id": "staff",
    "department_id": "department",
    "group_id": "tag_group",
    "tag_group_id": "tag_group",
    "tag_id": "tag",
    "event_id": "event",
    "event_type_id": "event_type",
    "order_id": "order",
    "item_id": "order_item",
    "order_item_id": "order_item",
    "product_id": "product",
    "refund_id": "refund",
    "import_id": "import_run",
    "import_run_id": "import_run",
    "job_id": "job",
    "user_id": "user",
    "api_key_id": "api_key",
}
# Parameters whose meaning depends on the route: (path prefix, name) -> kind.
PREFIXED_PARAM_KINDS: dict[tuple[str, str], str] = {
    ("/api/v1/event-types/", "name"): "event_type_name",
    ("/api/v1/custom-fields/", "key"): "custom_field_key",
}
# Routes that create-or-replace the caller's own object under a name chosen by the caller:
# aimed at a name that exists only in B they create A's own object and leave B alone.
# They run last, so the name they create in A does not shadow B's for the other routes.
UPSERTS: frozenset[tuple[str, str]] = frozenset({("PUT", "/api/v1/event-types/{name}")})
# Query parameters that only shape a page; they are not probed with B's values.
PAGING_PARAMS = frozenset({"cursor", "limit", "sort"})


def _now() -> datetime:
    return datetime.now(UTC)


def seed(session: Session, workspace_id: int, mark: str) -> dict[str, Any]:
    """One object of every kind the API exposes, each text carrying `mark`."""
    now = _now()
    tail = uuid.uuid4().hex[:6]
    department = Department(workspace_id=workspace_id, name=f"{mark}-华东大区")
    session.add(department)
    session.flush()
    staff = Staff(
        workspace_id=workspace_id,
        name=f"{mark}-王导购",
        wecom_userid=f"{mark}-wang",
        email=f"{mark}.wang@example.com",
        department_id=department.id,
    )
    customer = CustomerRow(
        workspace_id=workspace_id,
        name=f"{mark}-张三",
        mobile="+8613800001234",
        mobile_last4="1234",
        email=f"{mark}.zhang@example.com",
        source=f"{mark}-live-code",
        remark=f"{mark}-vip",
    )
    merged = CustomerRow(workspace_id=workspace_id, name=f"{mark}-张三-副本")
    session.add_all([staff, customer, merged])
    session.flush()
    identity = Identity(
        workspace_id=workspace_id,
        customer_id=customer.id,
        kind="wecom_external_userid",
        value=f"wm{mark}{tail}",
        source="wecom",
    )
    merge_record = MergeRecord(
        workspace_id=workspace_id,
        survivor_id=customer.id,
        merged_id=merged.id,
        reason=f"{mark}-same mobile",
        moved={},
        actor="system",
    )
    custom_field = CustomField(
        workspace_id=workspace_id, key=f"{mark}_skin", label=f"{mark}-肤质", field_type="text"
    )
    follow = FollowRelation(
        workspace_id=workspace_id,
        customer_id=customer.id,
        staff_id=staff.id,
        remark=f"{mark}-老客户",
        added_at=now,
        add_way="qr_code",
        state=f"{mark}-state",
    )
    group = TagGroup(workspace_id=workspace_id, name=f"{mark}-客户等级")
    event_type = EventType(
        workspace_id=workspace_id, name=f"{mark}_signup", display_name=f"{mark}-注册"
    )
    product = Product(
        workspace_id=workspace_id,
        platform="tmall",
        external_id=f"{mark}-sku-1",
        name=f"{mark}-面霜",
        price_fen=19900,
    )
    job = Job(workspace_id=workspace_id, name=f"{mark}.probe", status="queued", payload={})
    session.add_all([identity, merge_record, custom_field, follow, group, event_type, product, job])
    session.flush()
    tag = Tag(workspace_id=workspace_id, group_id=group.id, name=f"{mark}-VIP")
    event = Event(
        workspace_id=workspace_id,
        event_key=f"{mark}-evt-1",
        customer_id=customer.id,
        event_type=event_type.name,
        occurred_at=now - timedelta(hours=1),
        properties={"note": f"{mark}-props"},
    )
    import_run = ImportRun(
        workspace_id=workspace_id,
        kind="orders",
        platform="tmall",
        filename=f"{mark}-orders.csv",
        stored_path=f"/nonexistent/{mark}-orders.csv",
        status="uploaded",
        job_id=job.id,
    )
    session.add_all([tag, event, import_run])
    session.flush()
    order = Order(
        workspace_id=workspace_id,
        platform="tmall",
        platform_order_id=f"{mark}-order-1",
        customer_id=customer.id,
        store=f"{mark}-旗舰店",
        status="paid",
        total_fen=19900,
        paid_fen=19900,
        ordered_at=now - timedelta(days=1),
        paid_at=now - timedelta(days=1),
        buyer_nick=f"{mark}-nick",
        receiver_name=f"{mark}-收货人",
        import_run_id=import_run.id,
    )
    session.add_all(
        [
            order,
            CustomerTag(
                workspace_id=workspace_id,
                customer_id=customer.id,
                tag_id=tag.id,
                source="manual",
                actor=f"{mark}-actor",
            ),
            TagChange(
                workspace_id=workspace_id,
                customer_id=customer.id,
                tag_id=tag.id,
                tag_name=f"{group.name}/{tag.name}",
                action="add",
                source="manual",
                actor=f"{mark}-actor",
            ),
        ]
    )
    session.flush()
    item = OrderItem(
        workspace_id=workspace_id,
        order_id=order.id,
        product_id=product.id,
        sku=f"{mark}-sku-1",
        name=f"{mark}-面霜",
        quantity=1,
        unit_price_fen=19900,
        amount_fen=19900,
    )
    refund = Refund(
        workspace_id=workspace_id,
        order_id=order.id,
        platform_refund_id=f"{mark}-refund-1",
        amount_fen=100,
        status="succeeded",
        reason=f"{mark}-破损",
    )
    user = workspace_service.create_user(
        session,
        workspace_id=workspace_id,
        email=f"{mark}.viewer.{tail}@example.com",
        name=f"{mark}-观察员",
        password="correct horse battery",
        role=Role.VIEWER,
    )
    api_key = workspace_service.create_api_key(
        session, workspace_id=workspace_id, name=f"{mark}-erp", role=Role.OPERATOR
    ).api_key
    session.add_all([item, refund])
    session.flush()
    return {
        "customer": customer.id,
        "identity": identity.id,
        "merge_record": merge_record.id,
        "custom_field": custom_field.id,
        "custom_field_key": custom_field.key,
        "follow_relation": follow.id,
        "staff": staff.id,
        "department": department.id,
        "tag_group": group.id,
        "tag": tag.id,
        "event": event.id,
        "event_type": event_type.id,
        "event_type_name": event_type.name,
        "order": order.id,
        "order_item": item.id,
        "product": product.id,
        "refund": refund.id,
        "import_run": import_run.id,
        "job": job.id,
        "user": user.id,
        "api_key": api_key.id,
        # Texts a search parameter might match.
        "customer_name": customer.name,
        "identity_value": identity.value,
        "mobile": customer.mobile,
    }


def snapshot(engine: Engine, workspace_id: int, user_ids: list[int]) -> dict[str, list[Any]]:
    """Every row that belongs to the workspace, in every table."""
    rows: dict[str, list[Any]] = {}
    with unit_of_work(engine, write=False) as session:
        for table in Base.metadata.sorted_tables:
            if "workspace_id" in table.c:
                condition = table.c.workspace_id == workspace_id
            elif table.name == "workspace":
                condition = table.c.id == workspace_id
            elif table.name == "user_account":
                condition = table.c.id.in_(user_ids)
            else:
                continue
            order = list(table.primary_key.columns)
            result = session.execute(select(table).where(condition).order_by(*order))
            rows[table.name] = [tuple(row) for row in result]
    return rows


# --- the route walk ---------------------------------------------------------------------


def api_operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route under /api/v1, from the app's own route table."""
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith("/api/v1/"):
            continue
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, path


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def param_kind(path: str, name: str) -> str | None:
    for (prefix, param), kind in PREFIXED_PARAM_KINDS.items():
        if param == name and path.startswith(prefix):
            return kind
    return PARAM_KINDS.get(name)


def _kind_of_field(name: str) -> str | None:
    if name in PARAM_KINDS:
        return PARAM_KINDS[name]
    if name.endswith("_ids"):
        return PARAM_KINDS.get(name[:-1])
    return None


class Example:
    """Minimal valid values from the OpenAPI schema; id fields get the given objects' ids."""

    def __init__(self, openapi: dict[str, Any], objects: dict[str, Any]) -> None:
        self.components = openapi.get("components", {}).get("schemas", {})
        self.objects = objects

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged |= self.resolve(part)
            return merged
        return schema

    def value(self, schema: dict[str, Any], name: str = "") -> Any:  # noqa: PLR0911, PLR0912
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if self.resolve(o).get("type") != "null"]
                return self.value(options[0], name) if options else None
        kind = _kind_of_field(name)
        kind_of_item = PARAM_KINDS.get(name[:-1]) if name.endswith("_ids") else None
        match schema.get("type"):
            case "object":
                return {
                    prop: self.value(schema.get("properties", {}).get(prop, {}), prop)
                    for prop in schema.get("required", [])
                }
            case "array":
                item = self.value(schema.get("items", {}), name[:-1] if kind_of_item else "")
                return [item] * max(1 if kind_of_item else 0, schema.get("minItems", 0))
            case "integer":
                if kind is not None and isinstance(self.objects.get(kind), int):
                    return self.objects[kind]
                return max(1, schema.get("minimum", 1))
            case "number":
                return max(1, schema.get("minimum", 1))
            case "boolean":
                return True
            case "string":
                return self._string(schema)
            case _:
                return None

    @staticmethod
    def _string(schema: dict[str, Any]) -> str:
        match schema.get("format"):
            case "date-time":
                return _now().isoformat()
            case "date":
                return date.today().isoformat()  # noqa: DTZ011 - any date will do
            case "email":
                return "probe@example.com"
            case "binary":
                return "probe"
        text = "probe"
        minimum = schema.get("minLength", 1)
        text = (text * (minimum // len(text) + 1))[: max(minimum, len(text))]
        return text[: schema.get("maxLength", len(text))]


def request_parts(
    openapi: dict[str, Any], method: str, path: str, example: Example
) -> dict[str, Any]:
    """Keyword arguments for TestClient.request: a minimal valid body and query."""
    operation = openapi["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return {}
    parts: dict[str, Any] = {}
    query = {
        p["name"]: example.value(p.get("schema", {}), p["name"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    if query:
        parts["params"] = query
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        parts["json"] = example.value(content["application/json"]["schema"])
    elif "multipart/form-data" in content:
        schema = example.resolve(content["multipart/form-data"]["schema"])
        files, data = {}, {}
        for prop in schema.get("required", []):
            sub = example.resolve(schema.get("properties", {}).get(prop, {}))
            if sub.get("format") == "binary" or sub.get("contentMediaType"):
                files[prop] = ("probe.csv", b"a,b\n1,2\n", "text/csv")
            else:
                data[prop] = example.value(sub, prop)
        parts["files"], parts["data"] = files, data
    return parts


def reveals(text: str, sent: list[str]) -> bool:
    """Whether the answer contains B's mark beyond what the caller sent itself."""
    for value in sent:
        text = text.replace(value, "")
    return B_MARK in text


@dataclass(frozen=True)
class Tenants:
    a: WorkspaceFixture
    a_objects: dict[str, Any]
    b: WorkspaceFixture
    b_objects: dict[str, Any]
    b_user_ids: list[int]


@pytest.fixture
def tenants(engine: Engine, make_workspace: MakeWorkspace) -> Tenants:
    a = make_workspace(f"{A_MARK}-{uuid.uuid4().hex[:6]}")
    b = make_workspace(f"{B_MARK}-{uuid.uuid4().hex[:6]}")
    with unit_of_work(engine) as session:
        a_objects = seed(session, a.id, A_MARK)
        b_objects = seed(session, b.id, B_MARK)
        b_admin = session.scalars(select(User.id).where(User.email == b.admin_email)).one()
    return Tenants(a, a_objects, b, b_objects, [b_admin, b_objects["user"]])


def unmapped_params(app: FastAPI) -> list[str]:
    return sorted(
        f"{path} {{{name}}}"
        for _, path in api_operations(app)
        for name in path_params(path)
        if param_kind(path, name) is None
    )


def walk_foreign_ids(app: FastAPI, client: TestClient, tenants: Tenants) -> tuple[int, list[str]]:
    """Call every route that names an object in its path with B's ids and A's key.

    Returns how many calls were made and what went wrong.
    """
    openapi = app.openapi()
    # Bodies name A's own objects, so the foreign path parameter is the only fault.
    example = Example(openapi, tenants.a_objects)
    operations = sorted(
        ((m, p) for m, p in api_operations(app) if path_params(p)),
        key=lambda op: op in UPSERTS,
    )
    failures: list[str] = []
    calls = 0
    for method, path in operations:
        names = path_params(path)
        # All parameters from B, then (for nested routes) one from B and the rest from A.
        variants = [set(names)] + ([{n} for n in names] if len(names) > 1 else [])
        for foreign in variants:
            values = {
                n: (tenants.b_objects if n in foreign else tenants.a_objects)[
                    param_kind(path, n) or ""
                ]
                for n in names
            }
            url = path.format(**values)
            parts = request_parts(openapi, method, path, example)
            response = client.request(method, url, headers=tenants.a.headers, **parts)
            calls += 1
            label = f"{method} {url} (route {path})"
            if (method, path) in UPSERTS:
                if response.status_code >= 300:
                    failures.append(f"{label}: upsert refused: {response.status_code}")
            elif response.status_code != 404:
                failures.append(f"{label}: {response.status_code} {response.text[:300]}")
            elif response.json().get("error", {}).get("code") != "not_found":
                failures.append(f"{label}: 404 without code not_found: {response.text[:300]}")
            if reveals(response.text, [str(v) for v in values.values()]):
                failures.append(f"{label}: answer reveals B's data: {response.text[:300]}")
    return calls, failures


def test_every_route_with_an_object_in_its_path_answers_404_for_another_tenants_object(
    app: FastAPI, client: TestClient, engine: Engine, tenants: Tenants
) -> None:
    unmapped = unmapped_params(app)
    assert not unmapped, (
        "routes with path parameters this test cannot map to an object; add them to "
        f"PARAM_KINDS or PREFIXED_PARAM_KINDS: {unmapped}"
    )
    before = snapshot(engine, tenants.b.id, tenants.b_user_ids)

    calls, failures = walk_foreign_ids(app, client, tenants)

    assert calls > 0
    assert not failures, "tenant isolation broken:\n" + "\n".join(failures)
    assert snapshot(engine, tenants.b.id, tenants.b_user_ids) == before


def test_lists_and_searches_return_nothing_of_another_tenant(
    app: FastAPI, client: TestClient, engine: Engine, tenants: Tenants
) -> None:
    openapi = app.openapi()
    example = Example(openapi, tenants.a_objects)
    before = snapshot(engine, tenants.b.id, tenants.b_user_ids)
    b_objects = tenants.b_objects
    searchable = [b_objects["customer_name"], b_objects["identity_value"], B_MARK]

    failures: list[str] = []
    listed = 0
    for method, path in api_operations(app):
        if method != "GET" or path_params(path) or path.endswith(("/openapi.json", "/docs")):
            continue
        operation = openapi["paths"].get(path, {}).get("get", {})
        base = request_parts(openapi, method, path, example).get("params", {})
        probes: list[dict[str, Any]] = [base]
        for parameter in operation.get("parameters", []):
            name, schema = parameter["name"], example.resolve(parameter.get("schema", {}))
            if parameter["in"] != "query" or name in PAGING_PARAMS:
                continue
            kind = _kind_of_field(name)
            if kind is not None and isinstance(b_objects.get(kind), int):
                probes.append(base | {name: b_objects[kind]})
            elif _is_free_text(example, schema):
                probes.extend(base | {name: text} for text in searchable)
        for params in probes:
            response = client.get(path, params=params, headers=tenants.a.headers)
            listed += 1
            if response.status_code >= 500:
                failures.append(f"GET {path} {params}: {response.status_code}")
            if reveals(response.text, [str(v) for v in params.values()]):
                failures.append(f"GET {path} {params}: reveals B: {response.text[:300]}")

    assert listed > 0
    assert not failures, "tenant isolation broken:\n" + "\n".join(failures)
    assert snapshot(engine, tenants.b.id, tenants.b_user_ids) == before


def _is_free_text(example: Example, schema: dict[str, Any]) -> bool:
    options = [example.resolve(o) for o in schema.get("anyOf", [])] or [schema]
    return any(
        o.get("type") == "string" and not o.get("format") and not o.get("enum") for o in options
    )


def test_the_same_walk_reaches_the_tenants_own_objects(
    app: FastAPI, client: TestClient, tenants: Tenants
) -> None:
    """The walk's 404s mean isolation, not broken URLs: with A's own ids, reads succeed."""
    openapi = app.openapi()
    example = Example(openapi, tenants.a_objects)
    failures: list[str] = []
    for method, path in api_operations(app):
        if method != "GET" or not path_params(path):
            continue
        values = {n: tenants.a_objects[param_kind(path, n) or ""] for n in path_params(path)}
        parts = request_parts(openapi, method, path, example)
        response = client.get(path.format(**values), headers=tenants.a.headers, **parts)
        if response.status_code != 200:
            failures.append(f"GET {path} {values}: {response.status_code} {response.text[:200]}")
    assert not failures, "\n".join(failures)


# --- the walker catches what it is for --------------------------------------------------

leaky = APIRouter(prefix="/api/v1/leaky")


@leaky.get("/customers/{customer_id}")
def leaky_customer(customer_id: int, session: DbSession, _principal: Viewer) -> dict[str, Any]:
    customer = session.get(CustomerRow, customer_id)  # the bug: no workspace filter
    if customer is None:
        raise NotFound("customer")
    return {"name": customer.name}


@leaky.delete("/tags/{tag_id}", status_code=204)
def leaky_forbidden(tag_id: int, session: DbSession, principal: Viewer) -> None:
    tag = session.get(Tag, tag_id)
    if tag is not None and tag.workspace_id != principal.workspace_id:
        raise Forbidden("that tag belongs to another workspace")  # confirms it exists
    raise NotFound("tag")


unmappable = APIRouter(prefix="/api/v1/gadgets")


@unmappable.get("/{gadget_id}")
def gadget(gadget_id: int) -> dict[str, int]:
    return {"id": gadget_id}


def test_walker_reports_a_route_that_leaks_or_confirms_existence(
    app: FastAPI, tenants: Tenants
) -> None:
    app.include_router(leaky)
    with TestClient(app) as client:
        _calls, failures = walk_foreign_ids(app, client, tenants)
    leaks = [f for f in failures if "/api/v1/leaky/" in f]
    assert any("customers" in f and "reveals B" in f for f in leaks), failures
    assert any("tags" in f and "403" in f for f in leaks), failures
    assert leaks == failures  # the real routes stay clean


def test_walker_refuses_a_route_whose_parameter_it_cannot_map(app: FastAPI) -> None:
    app.include_router(unmappable)
    assert unmapped_params(app) == ["/api/v1/gadgets/{gadget_id} {gadget_id}"]
