"""Customers API: profiles, the customer list, Customer 360, custom fields, follow relations."""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

import siyu.customers.jobs  # noqa: F401 - registers customers.import where the API enqueues it
from siyu.customers import custom_fields, export, follow, importing, service
from siyu.customers.schemas import (
    Customer360,
    CustomerCreate,
    CustomerCreated,
    CustomerListItem,
    CustomerOut,
    CustomFieldCreate,
    CustomFieldOut,
    CustomFieldUpdate,
    FollowRelationCreate,
    FollowRelationOut,
    FollowRelationUpdate,
    ImportRunOut,
    ProfileChanges,
    TimelinePage,
)
from siyu.db.dependencies import DbSession, writes
from siyu.exceptions import ValidationFailed
from siyu.kit.pagination import PageOut
from siyu.workspace.dependencies import Admin, Operator, Staff, Viewer

router = APIRouter(tags=["customers"])

CUSTOM_FIELD_PARAM = "cf."
LIST_DESCRIPTION = """
Customers, newest first by default, one keyset page at a time (`next_cursor`).

- `q`: 4 digits match the mobile's last 4; a full mobile number matches exactly; any other
  text is a prefix of the name or the remark.
- `tag_ids` (repeat the parameter): customers with all of these tags; `any_tag_ids`:
  with at least one of them.
- Custom fields: `cf.<key>=value` (repeatable for different keys) or
  `custom_fields={"key": value}` (JSON). A multi-choice field matches when the value is
  one of the chosen options.
- Date ranges are half-open: `*_from` inclusive, `*_to` exclusive.
- `sort`: `created_at`, `last_active_at`, `last_order_at` or `total_paid_fen`, with `-`
  for descending; customers without a value for the sort field come last.
"""


def _custom_filter(request: Request, raw_json: str | None) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    if raw_json:
        try:
            parsed = json.loads(raw_json)
        except ValueError:
            raise ValidationFailed("custom_fields", "must be a JSON object") from None
        if not isinstance(parsed, dict):
            raise ValidationFailed("custom_fields", "must be a JSON object")
        custom.update(parsed)
    for name, value in request.query_params.items():
        if name.startswith(CUSTOM_FIELD_PARAM):
            custom[name.removeprefix(CUSTOM_FIELD_PARAM)] = value
    return custom


@router.post("/customers", response_model=CustomerCreated, status_code=201)
def create_customer(
    body: CustomerCreate, session: DbSession, principal: Operator
) -> CustomerCreated:
    """Create a customer; identities that already belong to one join it (`created: false`)."""
    _, result = service.create_customer(
        session, principal.workspace_id, body, source="api", actor=principal.actor
    )
    return result


@router.get("/customers", response_model=PageOut[CustomerListItem], description=LIST_DESCRIPTION)
def list_customers(
    request: Request,
    session: DbSession,
    principal: Viewer,
    q: str | None = None,
    tag_ids: Annotated[list[int] | None, Query()] = None,
    any_tag_ids: Annotated[list[int] | None, Query()] = None,
    staff_id: int | None = None,
    stage: str | None = None,
    source: str | None = None,
    custom_fields_json: Annotated[str | None, Query(alias="custom_fields")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    last_order_from: datetime | None = None,
    last_order_to: datetime | None = None,
    last_active_from: datetime | None = None,
    last_active_to: datetime | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[CustomerListItem]:
    query = service.CustomerQuery(
        q=q,
        tag_ids=tag_ids or [],
        any_tag_ids=any_tag_ids or [],
        staff_id=staff_id,
        stage=stage,
        source=source,
        custom=_custom_filter(request, custom_fields_json),
        created_from=created_from,
        created_to=created_to,
        last_order_from=last_order_from,
        last_order_to=last_order_to,
        last_active_from=last_active_from,
        last_active_to=last_active_to,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return service.list_customers(session, principal, query)


EXPORT_DESCRIPTION = f"""
The customer list as CSV (UTF-8 with BOM, so Excel reads the Chinese): the list's filters
and sort, every matching customer, mobiles and emails masked for roles that see them masked.
Each export is recorded in the audit log with its filters and row count.

Up to {export.INLINE_EXPORT_LIMIT:,} rows the CSV comes back at once (200). More run as a
job (202): follow GET /jobs/{{job_id}}, then download GET /customers/exports/{{job_id}}.
"""


def list_filters(
    request: Request,
    q: str | None = None,
    tag_ids: Annotated[list[int] | None, Query()] = None,
    any_tag_ids: Annotated[list[int] | None, Query()] = None,
    staff_id: int | None = None,
    stage: str | None = None,
    source: str | None = None,
    custom_fields_json: Annotated[str | None, Query(alias="custom_fields")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    last_order_from: datetime | None = None,
    last_order_to: datetime | None = None,
    last_active_from: datetime | None = None,
    last_active_to: datetime | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    """The customer list's filters and sort, as `CustomerQuery` fields."""
    return {
        "q": q,
        "tag_ids": tag_ids or [],
        "any_tag_ids": any_tag_ids or [],
        "staff_id": staff_id,
        "stage": stage,
        "source": source,
        "custom": _custom_filter(request, custom_fields_json),
        "created_from": created_from,
        "created_to": created_to,
        "last_order_from": last_order_from,
        "last_order_to": last_order_to,
        "last_active_from": last_active_from,
        "last_active_to": last_active_to,
        "sort": sort,
    }


ListFilters = Annotated[dict[str, Any], Depends(list_filters)]


@router.get("/customers/count", response_model=export.CustomerCount)
def count_customers(
    filters: ListFilters, session: DbSession, principal: Viewer
) -> export.CustomerCount:
    """How many customers the list shows with these filters (e.g. before a bulk change)."""
    return export.CustomerCount(count=export.count_customers(session, principal, filters))


@router.get(
    "/customers/export",
    dependencies=[Depends(writes)],
    response_class=StreamingResponse,
    description=EXPORT_DESCRIPTION,
    responses={
        200: {"content": {"text/csv": {}}, "description": "the CSV"},
        202: {"model": export.ExportQueued, "description": "a large export, queued as a job"},
    },
)
def export_customers(
    filters: ListFilters, request: Request, session: DbSession, principal: Viewer
) -> Response:
    data_dir = request.app.state.settings.data_dir
    rows, queued = export.start_export(session, principal, filters, data_dir=data_dir)
    if queued is not None:
        body = export.ExportQueued(
            job_id=queued.id, rows=rows, download_url=f"/api/v1/customers/exports/{queued.id}"
        )
        return JSONResponse(body.model_dump(), status_code=202)
    return StreamingResponse(
        export.csv_chunks(export.read_sessions(request.app.state.engine), principal, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename()}"'},
    )


@router.get(
    "/customers/exports/{job_id}",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the CSV"}},
)
def download_export(
    job_id: int, request: Request, session: DbSession, principal: Viewer
) -> FileResponse:
    """The CSV a finished export job wrote."""
    path = export.exported_file(session, principal, request.app.state.settings.data_dir, job_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=path.name)


@router.get("/customers/{customer_id}", response_model=Customer360)
def get_customer(customer_id: int, session: DbSession, principal: Viewer) -> Customer360:
    """Customer 360: profile, custom fields, identities, follow relations, tags, stats, merges."""
    return service.customer_360(session, principal, customer_id)


@router.get("/customers/{customer_id}/timeline", response_model=TimelinePage)
def customer_timeline(
    customer_id: int,
    session: DbSession,
    principal: Viewer,
    cursor: str | None = None,
    limit: int = 50,
) -> TimelinePage:
    """Events, orders and tag changes, newest first."""
    return service.timeline(session, principal, customer_id, cursor=cursor, limit=limit)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
def update_customer(
    customer_id: int, body: ProfileChanges, session: DbSession, principal: Staff
) -> CustomerOut:
    customer = service.update_profile(
        session, principal, customer_id, body.model_dump(exclude_unset=True)
    )
    return service.customer_out(customer, masked=False)


@router.delete("/customers/{customer_id}", status_code=204)
def delete_customer(customer_id: int, session: DbSession, principal: Admin) -> None:
    service.delete_customer(session, principal, customer_id)


# --- custom fields -----------------------------------------------------------------------


@router.get("/custom-fields", response_model=list[CustomFieldOut])
def list_custom_fields(session: DbSession, principal: Viewer) -> list[CustomFieldOut]:
    fields = custom_fields.list_fields(session, principal.workspace_id)
    return [CustomFieldOut.model_validate(f) for f in fields]


@router.post("/custom-fields", response_model=CustomFieldOut, status_code=201)
def create_custom_field(
    body: CustomFieldCreate, session: DbSession, principal: Admin
) -> CustomFieldOut:
    field = custom_fields.create_field(
        session,
        principal.workspace_id,
        key=body.key,
        label=body.label,
        field_type=body.field_type,
        options=body.options,
        sort_order=body.sort_order,
    )
    return CustomFieldOut.model_validate(field)


@router.patch("/custom-fields/{field_id}", response_model=CustomFieldOut)
def update_custom_field(
    field_id: int, body: CustomFieldUpdate, session: DbSession, principal: Admin
) -> CustomFieldOut:
    changes = custom_fields.FieldChanges(**body.model_dump(exclude_unset=True))
    field = custom_fields.update_field(session, principal.workspace_id, field_id, changes)
    return CustomFieldOut.model_validate(field)


@router.delete("/custom-fields/{field_id}", status_code=204)
def delete_custom_field(field_id: int, session: DbSession, principal: Admin) -> None:
    """Delete the definition and remove its value from every customer."""
    custom_fields.delete_field(session, principal.workspace_id, field_id)


# --- follow relations --------------------------------------------------------------------


@router.get("/customers/{customer_id}/follow-relations", response_model=list[FollowRelationOut])
def list_follow_relations(
    customer_id: int, session: DbSession, principal: Viewer
) -> list[FollowRelationOut]:
    return follow.follow_relations(session, principal, customer_id)


@router.post(
    "/customers/{customer_id}/follow-relations",
    response_model=FollowRelationOut,
    status_code=201,
)
def add_follow_relation(
    customer_id: int, body: FollowRelationCreate, session: DbSession, principal: Operator
) -> FollowRelationOut:
    return follow.add_follow_relation(session, principal, customer_id, body)


@router.patch("/follow-relations/{relation_id}", response_model=FollowRelationOut)
def update_follow_relation(
    relation_id: int, body: FollowRelationUpdate, session: DbSession, principal: Operator
) -> FollowRelationOut:
    return follow.update_follow_relation(session, principal, relation_id, body)


@router.delete("/follow-relations/{relation_id}", status_code=204)
def delete_follow_relation(relation_id: int, session: DbSession, principal: Operator) -> None:
    follow.delete_follow_relation(session, principal, relation_id)


@router.get("/staff/{staff_id}/customers", response_model=PageOut[CustomerListItem])
def staff_customers(
    staff_id: int,
    session: DbSession,
    principal: Viewer,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[CustomerListItem]:
    """The customers this staff member actively follows."""
    return follow.staff_customers(
        session, principal, staff_id, sort=sort, cursor=cursor, limit=limit
    )


# --- import --------------------------------------------------------------------------------


@router.post("/imports/customers", response_model=ImportRunOut, status_code=202)
def import_customers(
    file: UploadFile, request: Request, session: DbSession, principal: Operator
) -> ImportRunOut:
    """Upload a CSV or XLSX of customers and queue its import.

    Columns: 姓名, 手机号, 邮箱, 性别, 生日, 省份, 城市, 来源, 备注, 标签 (comma list,
    `分组:标签` or just `标签`), 会员号, unionid, and custom fields by label. Follow the run
    at GET /imports/{id}; rows not imported are listed at GET /imports/{id}/errors.
    """
    run = importing.upload_customer_import(
        session,
        principal,
        filename=file.filename or "customers.csv",
        stream=file.file,
        data_dir=request.app.state.settings.data_dir,
    )
    return ImportRunOut.model_validate(run)
