from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

import siyu.commerce.jobs  # noqa: F401 - registers commerce.import_orders where the API enqueues it
from siyu.commerce import imports, service
from siyu.commerce.repository import OrderFilters
from siyu.commerce.schemas import (
    ImportMappingIn,
    ImportOut,
    ImportPreviewOut,
    OrderDetailOut,
    OrderImportFieldsOut,
    OrderOut,
    OrdersIn,
    RefundIn,
    RefundOut,
    UpsertOut,
)
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.db.dependencies import DbSession
from siyu.kit.pagination import PageOut
from siyu.kit.time import to_utc
from siyu.workspace.dependencies import Operator, Viewer

router = APIRouter(tags=["commerce"])


@router.post("/orders", response_model=UpsertOut)
def upsert_orders(body: OrdersIn, session: DbSession, principal: Operator) -> UpsertOut:
    """Create or update orders by (platform, platform_order_id): one order or up to 500."""
    return service.upsert_orders_out(
        session, principal.workspace_id, body.orders, source="api", actor=principal.actor
    )


@router.get("/orders", response_model=PageOut[OrderOut])
def list_orders(
    session: DbSession,
    principal: Viewer,
    platform: Platform | None = None,
    status: OrderStatus | None = None,
    customer_id: int | None = None,
    ordered_from: Annotated[datetime | None, Query(description="inclusive")] = None,
    ordered_to: Annotated[datetime | None, Query(description="exclusive")] = None,
    sort: Annotated[str | None, Query(description="ordered_at, paid_fen or id; -desc")] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[OrderOut]:
    filters = OrderFilters(
        platform=platform.value if platform else None,
        status=status.value if status else None,
        customer_id=customer_id,
        ordered_from=to_utc(ordered_from) if ordered_from else None,
        ordered_to=to_utc(ordered_to) if ordered_to else None,
    )
    items, next_cursor = service.list_orders(
        session, principal, filters, sort=sort, cursor=cursor, limit=limit
    )
    return PageOut(items=items, next_cursor=next_cursor)


@router.get("/orders/{order_id}", response_model=OrderDetailOut)
def get_order(order_id: int, session: DbSession, principal: Viewer) -> OrderDetailOut:
    return service.get_order(session, principal, order_id)


@router.post("/orders/{order_id}/refunds", response_model=RefundOut, status_code=201)
def add_refund(order_id: int, body: RefundIn, session: DbSession, principal: Operator) -> RefundOut:
    return RefundOut.model_validate(service.add_refund(session, principal, order_id, body))


@router.get("/imports/orders/fields", response_model=OrderImportFieldsOut)
def order_import_fields(_principal: Operator) -> OrderImportFieldsOut:
    """The order fields a file column can be mapped to, and the platforms an import can be for."""
    return OrderImportFieldsOut.current()


@router.post("/imports/orders", response_model=ImportPreviewOut, status_code=201)
def upload_orders(
    file: UploadFile, request: Request, session: DbSession, principal: Operator
) -> ImportPreviewOut:
    """Upload a CSV or XLSX order export; returns the detected platform, mapping and preview."""
    shown = imports.upload_order_import(
        session,
        principal,
        filename=file.filename or "orders.csv",
        stream=file.file,
        data_dir=request.app.state.settings.data_dir,
    )
    return imports.preview_out(shown)


@router.put("/imports/{import_id}/mapping", response_model=ImportOut)
def set_mapping(
    import_id: int, body: ImportMappingIn, session: DbSession, principal: Operator
) -> ImportOut:
    return imports.import_out(imports.set_mapping(session, principal, import_id, body))


@router.post("/imports/{import_id}/run", response_model=ImportOut, status_code=202)
def run_import(import_id: int, session: DbSession, principal: Operator) -> ImportOut:
    return imports.import_out(imports.start_import(session, principal, import_id))


@router.get("/imports", response_model=PageOut[ImportOut])
def list_imports(
    session: DbSession,
    principal: Viewer,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> PageOut[ImportOut]:
    items, next_cursor = imports.list_imports(
        session, principal, kind=kind, cursor=cursor, limit=limit
    )
    return PageOut(items=items, next_cursor=next_cursor)


@router.get("/imports/{import_id}", response_model=ImportOut)
def get_import(import_id: int, session: DbSession, principal: Viewer) -> ImportOut:
    return imports.get_import(session, principal.workspace_id, import_id)


@router.get(
    "/imports/{import_id}/errors",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "row, column, reason"}},
)
def download_errors(import_id: int, session: DbSession, principal: Operator) -> StreamingResponse:
    """Per-row errors as CSV (UTF-8 with BOM, so Excel opens it)."""
    report = imports.error_report(session, principal, import_id)
    return StreamingResponse(
        report.chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{report.filename}"'},
    )
