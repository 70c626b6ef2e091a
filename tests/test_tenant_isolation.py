"""Tenant isolation, proven by walking every API route.

Workspace A's admin key is aimed at workspace B's objects on every route under /api/v1
that takes an object in its path. Every answer must be 404 and reveal nothing of B (no
403, no B names), and B's rows must be unchanged afterwards. List and search endpoints,
probed with B's ids and names in their query parameters, must return nothing of B.

The route walk is generic: a new route whose path parameter the tables below cannot map
fails the test until it is added here, so every future route is covered.
"""

import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from siyu.config import Settings
from siyu.content.storage import LocalStore, content_key
from siyu.customers import export
from siyu.db.base import Base
from siyu.db.dependencies import DbSession
from siyu.db.session import unit_of_work
from siyu.exceptions import Forbidden, NotFound
from siyu.models import (
    Broadcast,
    CustomerGroup,
    CustomerGroupMember,
    CustomerTag,
    CustomField,
    Delivery,
    Department,
    Event,
    EventType,
    FollowRelation,
    Identity,
    ImportRun,
    Job,
    LinkVisitor,
    LiveCode,
    LiveCodeAdd,
    Material,
    MaterialGroup,
    MaterialTag,
    MergeRecord,
    Order,
    OrderItem,
    Product,
    Refund,
    Segment,
    SegmentMember,
    ShareEdge,
    Staff,
    Tag,
    TagChange,
    TagGroup,
    TrackedLink,
    User,
)
from siyu.models import Customer as CustomerRow
from siyu.workspace import security
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
    "any_tag_id": "tag",
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
    "code_id": "live_code",
    "segment_id": "segment",
    "material_id": "material",
    "material_group_id": "material_group",
    "customer_group_id": "customer_group",
    "broadcast_id": "broadcast",
    "poster_id": "material",
}
# Parameters whose meaning depends on the route: (path prefix, name) -> kind.
PREFIXED_PARAM_KINDS: dict[tuple[str, str], str] = {
    ("/api/v1/event-types/", "name"): "event_type_name",
    ("/api/v1/custom-fields/", "key"): "custom_field_key",
    ("/api/v1/departments", "parent_id"): "department",
    ("/api/v1/departments", "manager_staff_id"): "staff",
    ("/api/v1/customers/exports/", "job_id"): "export_job",
    ("/api/v1/messaging/channels/", "channel"): "channel_name",
}
# Bodies that list ids under the bare name `ids`: route -> kind of object listed.
LIST_IDS_KINDS: dict[str, str] = {
    "/api/v1/tag-groups/order": "tag_group",
    "/api/v1/tag-groups/{group_id}/tags/order": "tag",
}
# Routes that create-or-replace the caller's own object under a name chosen by the caller:
# aimed at a name that exists only in B they create A's own object and leave B alone.
# They run last, so the name they create in A does not shadow B's for the other routes.
UPSERTS: frozenset[tuple[str, str]] = frozenset(
    {("PUT", "/api/v1/event-types/{name}"), ("PUT", "/api/v1/messaging/channels/{channel}")}
)
# Batch routes that answer 2xx with a result per item: a foreign id must fail its item,
# which the answer shows with this text.
PER_ITEM_RESULTS: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/events/batch"): '"status":"rejected"',
}
# Body fields that are search criteria, not references: like a list filter, a foreign id
# in them matches nothing of A's and may be accepted. (route, first step of the location)
SEARCH_CRITERIA: frozenset[tuple[str, str]] = frozenset({("/api/v1/tags/batch", "filter")})
# Query parameters that only shape a page; they are not probed with B's values.
PAGING_PARAMS = frozenset({"cursor", "limit", "sort"})
# Lookups by a natural key: route -> query naming B's object by that key; answer 404.
LOOKUPS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "/api/v1/customers/lookup": lambda b: {
        "kind": "wecom_external_userid",
        "value": b["identity_value"],
    },
}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


def _now() -> datetime:
    return datetime.now(UTC)


def seed_png() -> bytes:
    """The image every seeded material stores (in the tenants fixture's file store)."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "#3366CC").save(out, format="PNG")
    return out.getvalue()


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
    job = Job(
        workspace_id=workspace_id,
        name=f"{mark}.probe",
        status="succeeded",
        payload={},
        finished_at=now,
    )
    export_job = Job(
        workspace_id=workspace_id,
        name=export.EXPORT_JOB,
        status="succeeded",
        payload={},
        finished_at=now,
    )
    session.add_all(
        [identity, merge_record, custom_field, follow, group, event_type, product, job, export_job]
    )
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
    live_code = LiveCode(
        workspace_id=workspace_id,
        name=f"{mark}-门店海报",
        channel=f"{mark}-门店",
        state=f"lc{mark}{tail}",
        config_id=f"{mark}{tail}",
        qr_code=f"http://127.0.0.1:9/{mark}.png",
        qr_image=b"\x89PNG\r\n\x1a\n",
        tag_ids=[tag.id],
        welcome_text=f"{mark}-欢迎",
        on_duty_staff_ids=[staff.id],
    )
    segment = Segment(
        workspace_id=workspace_id,
        name=f"{mark}-静态名单",
        kind="static",
        depends_on=[],
        status="ready",
        member_count=1,
    )
    customer_group = CustomerGroup(
        workspace_id=workspace_id,
        chat_id=f"wr{mark}{tail}",
        name=f"{mark}-会员群",
        owner_userid=staff.wecom_userid,
        owner_staff_id=staff.id,
        member_count=1,
    )
    session.add_all([item, refund, live_code, segment, customer_group])
    session.flush()
    session.add(
        CustomerGroupMember(
            workspace_id=workspace_id,
            group_id=customer_group.id,
            member_type="external",
            member_id=identity.value,
            customer_id=customer.id,
            name=f"{mark}-张三",
        )
    )
    session.add(
        SegmentMember(workspace_id=workspace_id, segment_id=segment.id, customer_id=customer.id)
    )
    session.add(
        LiveCodeAdd(
            workspace_id=workspace_id,
            live_code_id=live_code.id,
            customer_id=customer.id,
            staff_id=staff.id,
            external_userid=identity.value,
            added_at=now,
            welcome_status="failed",
            welcome_error=f"{mark}-41051",
        )
    )
    session.flush()
    material_group = MaterialGroup(workspace_id=workspace_id, name=f"{mark}-素材分组")
    session.add(material_group)
    session.flush()
    material = Material(
        workspace_id=workspace_id,
        kind="image",
        title=f"{mark}-门店照片",
        description=f"{mark}-描述",
        group_id=material_group.id,
        tags=[f"{mark}-标签"],
        file_key=content_key(workspace_id, seed_png()),
        filename=f"{mark}-store.png",
        content_type="image/png",
        size_bytes=len(seed_png()),
        width=40,
        height=30,
    )
    session.add(material)
    session.flush()
    session.add(
        MaterialTag(workspace_id=workspace_id, material_id=material.id, name=f"{mark}-标签")
    )
    # A tracked link of the customer's, forwarded to an anonymous visitor.
    broadcast = Broadcast(
        workspace_id=workspace_id,
        name=f"{mark}-双十一预热",
        channel="email",
        segment_id=segment.id,
        content={"subject": f"{mark}-主题", "text": f"{mark}-正文"},
    )
    session.add(broadcast)
    session.flush()
    session.add(
        Delivery(
            workspace_id=workspace_id,
            broadcast_id=broadcast.id,
            customer_id=customer.id,
            channel="email",
            address=f"{mark}@example.cn",
            status="sent",
        )
    )
    link = TrackedLink(
        workspace_id=workspace_id,
        code=f"{mark[:5]}{tail}",
        dedupe_key=f"{mark}-{tail}",
        url=f"https://example.com/{mark}",
        customer_id=customer.id,
        staff_id=staff.id,
        broadcast_id=broadcast.id,
        channel="wecom",
    )
    visitor = LinkVisitor(workspace_id=workspace_id, visitor_key=f"{mark}{tail}")
    session.add_all([link, visitor])
    session.flush()
    session.add(
        ShareEdge(
            workspace_id=workspace_id,
            link_id=link.id,
            broadcast_id=broadcast.id,
            sharer_customer_id=customer.id,
            visitor_id=visitor.id,
        )
    )
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
        "export_job": export_job.id,
        "user": user.id,
        "api_key": api_key.id,
        "live_code": live_code.id,
        "segment": segment.id,
        "material": material.id,
        "material_group": material_group.id,
        "customer_group": customer_group.id,
        "broadcast": broadcast.id,
        "channel_name": "sms",
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


def _is_reference(name: str) -> bool:
    return name in {"id", "ids"} or name.endswith(("_id", "_ids"))


def field_kind(route: str, name: str) -> str | None:
    """The kind of object an id-valued body or query field names on this route."""
    if name == "ids":
        return LIST_IDS_KINDS.get(route)
    return param_kind(route, name[:-1] if name.endswith("_ids") else name)


Location = tuple[str | int, ...]


class Example:
    """Minimal valid values from the OpenAPI schema; id fields get the given objects' ids.

    `at`/`put` place one chosen value at a location inside the generated value (creating
    the objects and arrays on the way), to aim a single reference at another tenant.
    """

    def __init__(self, openapi: dict[str, Any], objects: dict[str, Any], route: str = "") -> None:
        self.components = openapi.get("components", {}).get("schemas", {})
        self.objects = objects
        self.route = route

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged |= self.resolve(part)
            return merged
        return schema

    def options(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The non-null alternatives of a schema (itself when it has none)."""
        schema = self.resolve(schema)
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if not alternatives:
            return [schema]
        return [o for a in alternatives for o in self.options(a) if o.get("type") != "null"]

    def value(  # noqa: PLR0911, PLR0912 - one branch per JSON Schema type
        self,
        schema: dict[str, Any],
        name: str = "",
        *,
        at: Location | None = None,
        put: Any = None,
    ) -> Any:
        if at == ():
            return put
        options = self.options(schema)
        if at is not None:
            options = [o for o in options if o.get("type") in {"object", "array"}] or options
        if not options:
            return None
        schema = options[0]
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        kind = field_kind(self.route, name) if _is_reference(name) else None
        match schema.get("type"):
            case "object":
                properties = schema.get("properties", {})
                wanted = list(schema.get("required", []))
                if at is not None and at[0] not in wanted:
                    wanted.append(str(at[0]))
                return {
                    prop: self.value(
                        properties.get(prop, {}),
                        prop,
                        at=at[1:] if at is not None and at[0] == prop else None,
                        put=put,
                    )
                    for prop in wanted
                }
            case "array":
                item_name = name[:-1] if name.endswith("_ids") else ""
                item = self.value(
                    schema.get("items", {}), item_name, at=at[1:] if at else None, put=put
                )
                needed = 1 if (kind is not None or at is not None) else 0
                return [item] * max(needed, schema.get("minItems", 0))
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

    def reference_slots(
        self, schema: dict[str, Any], location: Location = (), depth: int = 0
    ) -> list[tuple[Location, bool]]:
        """Where integer ids (or lists of them) of other objects go in this schema."""
        if depth > 6:
            return []
        slots: list[tuple[Location, bool]] = []
        for option in self.options(schema):
            if option.get("type") == "array":
                slots += self.reference_slots(option.get("items", {}), (*location, 0), depth + 1)
            for prop, sub in option.get("properties", {}).items():
                here = (*location, prop)
                kinds = self.options(sub)
                types = {k.get("type") for k in kinds}
                item_types = {
                    i.get("type")
                    for k in kinds
                    if k.get("type") == "array"
                    for i in self.options(k.get("items", {}))
                }
                if _is_reference(prop) and "integer" in types:
                    slots.append((here, False))
                elif _is_reference(prop) and "integer" in item_types:
                    slots.append((here, True))
                else:
                    slots += self.reference_slots(sub, here, depth + 1)
        return slots

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
        minimum: int = schema.get("minLength", 1)
        maximum: int = schema.get("maxLength", max(minimum, 5))
        return ("probe" * (minimum // 5 + 1))[: max(minimum, min(5, maximum))]


def request_parts(
    openapi: dict[str, Any], method: str, path: str, objects: dict[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for TestClient.request: a minimal valid body and query."""
    example = Example(openapi, objects, path)
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
def tenants(engine: Engine, make_workspace: MakeWorkspace, settings: Settings) -> Tenants:
    a = make_workspace(f"{A_MARK}-{uuid.uuid4().hex[:6]}")
    b = make_workspace(f"{B_MARK}-{uuid.uuid4().hex[:6]}")
    with unit_of_work(engine) as session:
        a_objects = seed(session, a.id, A_MARK)
        b_objects = seed(session, b.id, B_MARK)
        b_admin = session.scalars(select(User.id).where(User.email == b.admin_email)).one()
    for workspace, objects in ((a, a_objects), (b, b_objects)):
        path = export.export_path(
            settings.data_dir / export.EXPORTS_DIR, workspace.id, objects["export_job"]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"ID\n{objects['customer']}\n", encoding="utf-8")
    for workspace in (a, b):
        LocalStore(settings.data_dir).put(
            content_key(workspace.id, seed_png()), seed_png(), "image/png"
        )
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
            # Bodies name A's own objects, so the foreign path parameter is the only fault.
            parts = request_parts(openapi, method, path, tenants.a_objects)
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
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    tenants: Tenants,
    run_jobs: Callable[[], int],
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
    run_jobs()
    assert snapshot(engine, tenants.b.id, tenants.b_user_ids) == before
    assert cross_tenant_references(engine) == []


def test_lists_and_searches_return_nothing_of_another_tenant(
    app: FastAPI, client: TestClient, engine: Engine, tenants: Tenants
) -> None:
    openapi = app.openapi()
    before = snapshot(engine, tenants.b.id, tenants.b_user_ids)
    b_objects = tenants.b_objects
    searchable = [b_objects["customer_name"], b_objects["identity_value"], B_MARK]

    failures: list[str] = []
    listed = 0
    # The audit log goes first: later probes are audited in A with B's texts as their filter.
    operations = sorted(api_operations(app), key=lambda op: op[1] != "/api/v1/audit-log")
    for method, path in operations:
        if method != "GET" or path_params(path) or path.endswith(("/openapi.json", "/docs")):
            continue
        operation = openapi["paths"].get(path, {}).get("get", {})
        example = Example(openapi, tenants.a_objects, path)
        base = request_parts(openapi, method, path, tenants.a_objects).get("params", {})
        probes: list[dict[str, Any]] = [base]
        if path in LOOKUPS:
            # A lookup may answer only an id, so the status itself must not confirm B's key.
            lookup = client.get(path, params=LOOKUPS[path](b_objects), headers=tenants.a.headers)
            if lookup.status_code != 404:
                failures.append(f"GET {path} by B's key: {lookup.status_code} {lookup.text}")
        for parameter in operation.get("parameters", []):
            name, schema = parameter["name"], example.resolve(parameter.get("schema", {}))
            if parameter["in"] != "query" or name in PAGING_PARAMS:
                continue
            kind = field_kind(path, name) if _is_reference(name) else None
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


def cross_tenant_references(engine: Engine) -> list[str]:
    """Rows whose foreign key points at a row of another workspace (there must be none)."""
    found: list[str] = []
    with unit_of_work(engine, write=False) as session:
        for table in Base.metadata.sorted_tables:
            if "workspace_id" not in table.c:
                continue
            for fk in table.foreign_keys:
                parent = fk.column.table
                if parent is table or "workspace_id" not in parent.c:
                    continue
                joined = table.join(parent, fk.parent == fk.column)
                count = session.scalar(
                    select(func.count())
                    .select_from(joined)
                    .where(table.c.workspace_id != parent.c.workspace_id)
                )
                if count:
                    found.append(f"{table.name}.{fk.parent.name} -> {parent.name}: {count} rows")
    return found


@dataclass(frozen=True)
class Aim:
    """One request that names one of B's objects in its body or query."""

    where: str
    kind: str
    request: dict[str, Any]
    search: bool = False


def reference_aims(
    openapi: dict[str, Any], method: str, path: str, tenants: Tenants
) -> tuple[list[Aim], list[str]]:
    """Requests aiming each id field of a route at B's object, and fields not mappable."""
    operation = openapi["paths"][path][method.lower()]
    example = Example(openapi, tenants.a_objects, path)
    parts = request_parts(openapi, method, path, tenants.a_objects)
    aims: list[Aim] = []
    unmapped: list[str] = []
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    for location, is_list in example.reference_slots(body["schema"]) if body else []:
        field = ".".join(str(step) for step in location)
        kind = field_kind(path, str(location[-1]))
        if kind is None:
            unmapped.append(f"{method} {path} body {field}")
            continue
        b_id = tenants.b_objects[kind]
        aimed = example.value(body["schema"], at=location, put=[b_id] if is_list else b_id)
        search = (path, str(location[0])) in SEARCH_CRITERIA
        aims.append(Aim(f"body {field}", kind, parts | {"json": aimed}, search))
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] != "query" or not _is_reference(name):
            continue
        kind = field_kind(path, name)
        if kind is None:
            unmapped.append(f"{method} {path} query {name}")
            continue
        query = parts.get("params", {}) | {name: tenants.b_objects[kind]}
        aims.append(Aim(f"query {name}", kind, parts | {"params": query}))
    return aims, unmapped


def judge_reference(method: str, path: str, aim: Aim, response: Any) -> str | None:
    """What is wrong with the answer to a request naming B's object, if anything."""
    status, text = response.status_code, response.text
    if status >= 500:
        return f"{status} {text[:200]}"
    if reveals(text, []):
        return f"reveals B: {text[:300]}"
    item_failed = PER_ITEM_RESULTS.get((method, path))
    if aim.search or status >= 300:
        return None
    if item_failed is None:
        return f"accepted, {status} {text[:200]}"
    return None if item_failed in text else f"item accepted: {text[:200]}"


def test_writes_refuse_references_to_another_tenants_objects(
    app: FastAPI,
    client: TestClient,
    engine: Engine,
    tenants: Tenants,
    run_jobs: Callable[[], int],
) -> None:
    """A's own objects in the path, one of B's ids in the body or query: refused."""
    openapi = app.openapi()
    before = snapshot(engine, tenants.b.id, tenants.b_user_ids)
    unmapped: list[str] = []
    failures: list[str] = []
    probes = 0
    for method, path in api_operations(app):
        if method == "GET" or method.lower() not in openapi["paths"].get(path, {}):
            continue
        values = {n: tenants.a_objects[param_kind(path, n) or ""] for n in path_params(path)}
        aims, not_mapped = reference_aims(openapi, method, path, tenants)
        unmapped += not_mapped
        for aim in aims:
            url = path.format(**values)
            response = client.request(method, url, headers=tenants.a.headers, **aim.request)
            probes += 1
            problem = judge_reference(method, path, aim, response)
            if problem:
                failures.append(f"{method} {url} with B's {aim.kind} in {aim.where}: {problem}")

    assert not unmapped, f"id fields this test cannot map to an object kind: {unmapped}"
    assert probes > 0
    assert not failures, "tenant isolation broken:\n" + "\n".join(failures)
    run_jobs()  # what the writes enqueued must leave B alone too
    assert snapshot(engine, tenants.b.id, tenants.b_user_ids) == before
    assert cross_tenant_references(engine) == []


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
    failures: list[str] = []
    for method, path in api_operations(app):
        if method != "GET" or not path_params(path):
            continue
        values = {n: tenants.a_objects[param_kind(path, n) or ""] for n in path_params(path)}
        parts = request_parts(openapi, method, path, tenants.a_objects)
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


class NoteIn(BaseModel):
    staff_id: int


@leaky.post("/notes", status_code=201)
def leaky_note(body: NoteIn, session: DbSession, _principal: Viewer) -> dict[str, Any]:
    staff = session.get(Staff, body.staff_id)  # the bug: no workspace filter
    if staff is None:
        raise NotFound("staff member")
    return {"staff": staff.id}


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


def test_reference_probe_reports_a_write_that_accepts_another_tenants_id(
    app: FastAPI, tenants: Tenants
) -> None:
    app.include_router(leaky)
    openapi = app.openapi()
    aims, unmapped = reference_aims(openapi, "POST", "/api/v1/leaky/notes", tenants)
    assert unmapped == []
    assert [(aim.where, aim.kind) for aim in aims] == [("body staff_id", "staff")]
    with TestClient(app) as client:
        response = client.post("/api/v1/leaky/notes", headers=tenants.a.headers, **aims[0].request)
    problem = judge_reference("POST", "/api/v1/leaky/notes", aims[0], response)
    assert problem is not None
    assert problem.startswith("accepted, 201")


def test_walker_refuses_a_route_whose_parameter_it_cannot_map(app: FastAPI) -> None:
    app.include_router(unmappable)
    assert unmapped_params(app) == ["/api/v1/gadgets/{gadget_id} {gadget_id}"]


def test_the_walks_special_cases_name_routes_that_exist(app: FastAPI) -> None:
    """A renamed route must not silently drop out of its special case."""
    operations = set(api_operations(app))
    paths = {path for _, path in operations}
    assert operations >= UPSERTS
    assert set(PER_ITEM_RESULTS) <= operations
    assert {path for path, _ in SEARCH_CRITERIA} <= paths
    assert set(LOOKUPS) <= paths
    assert set(LIST_IDS_KINDS) <= paths
