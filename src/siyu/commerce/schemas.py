"""Orders, products, refunds and imports as the API and the other domains see them."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from siyu.connectors.commerce import PLATFORM_LABELS, TARGET_FIELDS, OrderStatus, Platform
from siyu.kit.time import to_utc

# Naive times are Asia/Shanghai, as the platforms export them; stored in UTC.
ShanghaiTime = Annotated[datetime, AfterValidator(to_utc)]
Fen = Annotated[int, Field(ge=0, description="amount in fen (0.01 yuan)")]


class OrderItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    sku: str | None = Field(default=None, max_length=100)
    product_external_id: str | None = Field(default=None, max_length=100)
    quantity: int = Field(default=1, ge=0)
    unit_price_fen: Fen = 0
    amount_fen: Fen = 0


@dataclass(slots=True)
class ItemRecord:
    name: str
    sku: str | None
    product_external_id: str | None
    quantity: int
    unit_price_fen: int
    amount_fen: int


@dataclass(slots=True)
class OrderRecord:
    """A checked order, as the bulk writer takes it (imports build these directly)."""

    platform: str
    platform_order_id: str
    status: str
    ordered_at: datetime
    paid_at: datetime | None
    total_fen: int
    paid_fen: int
    discount_fen: int
    shipping_fen: int
    refunded_fen: int
    store: str | None
    buyer_id: str | None
    buyer_nick: str | None
    receiver_name: str | None
    receiver_mobile: str | None
    receiver_province: str | None
    receiver_city: str | None
    receiver_address: str | None
    items: list[ItemRecord]


class OrderIn(BaseModel):
    """One order as a platform reports it; upserting it again applies its changes."""

    platform: Platform
    platform_order_id: str = Field(min_length=1, max_length=64)
    status: OrderStatus
    ordered_at: ShanghaiTime
    paid_at: ShanghaiTime | None = None
    total_fen: Fen = 0
    paid_fen: Fen = 0
    discount_fen: Fen = 0
    shipping_fen: Fen = 0
    refunded_fen: Fen = Field(default=0, description="refunded as the platform reports it")
    store: str | None = Field(default=None, max_length=100)
    buyer_id: str | None = Field(default=None, max_length=100)
    buyer_nick: str | None = Field(default=None, max_length=100)
    receiver_name: str | None = Field(default=None, max_length=100)
    receiver_mobile: str | None = Field(default=None, max_length=32)
    receiver_province: str | None = Field(default=None, max_length=32)
    receiver_city: str | None = Field(default=None, max_length=32)
    receiver_address: str | None = Field(default=None, max_length=500)
    items: list[OrderItemIn] = Field(default_factory=list, max_length=500)

    def to_record(self) -> OrderRecord:
        fields = self.model_dump(exclude={"items", "platform", "status"})
        return OrderRecord(
            platform=self.platform.value,
            status=self.status.value,
            items=[ItemRecord(**item.model_dump()) for item in self.items],
            **fields,
        )


class OrdersIn(BaseModel):
    """Up to 500 orders; a single order object is accepted as a batch of one."""

    orders: list[OrderIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="before")
    @classmethod
    def _single_order(cls, data: Any) -> Any:
        if isinstance(data, dict) and "orders" not in data:
            return {"orders": [data]}
        return data


@dataclass
class UpsertResult:
    imported: int = 0
    updated: int = 0
    # (platform, platform_order_id) -> order id, for every order written.
    order_ids: dict[tuple[str, str], int] = field(default_factory=dict)


class UpsertOut(BaseModel):
    imported: int
    updated: int
    order_ids: list[int]


@dataclass(frozen=True)
class PlatformSummary:
    platform: str
    orders: int
    gmv_fen: int


class OrderItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_id: int | None
    sku: str | None
    name: str
    quantity: int
    unit_price_fen: int
    amount_fen: int


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform_refund_id: str
    amount_fen: int
    status: str
    reason: str | None
    refunded_at: datetime | None
    created_at: datetime


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    platform: str
    platform_order_id: str
    customer_id: int | None
    store: str | None
    status: str
    total_fen: int
    paid_fen: int
    discount_fen: int
    shipping_fen: int
    refunded_fen: int
    ordered_at: datetime
    paid_at: datetime | None
    buyer_id: str | None
    buyer_nick: str | None
    receiver_name: str | None
    receiver_mobile: str | None
    receiver_province: str | None
    receiver_city: str | None
    receiver_address: str | None
    import_run_id: int | None
    created_at: datetime
    updated_at: datetime


class OrderDetailOut(OrderOut):
    items: list[OrderItemOut]
    refunds: list[RefundOut]


class RefundIn(BaseModel):
    amount_fen: int = Field(gt=0)
    platform_refund_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="defaults to a generated id"
    )
    reason: str | None = Field(default=None, max_length=300)
    refunded_at: ShanghaiTime | None = None


class ImportMappingIn(BaseModel):
    platform: Platform
    # Target field (e.g. "paid") -> the file's column header.
    columns: dict[str, str]
    # Extra or corrected status words -> our status.
    statuses: dict[str, OrderStatus] = Field(default_factory=dict)


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    platform: str | None
    filename: str
    encoding: str | None
    mapping: dict[str, Any]
    status: str
    total_rows: int
    processed_rows: int
    imported: int
    updated: int
    failed: int
    has_errors: bool
    message: str | None
    created_by: str | None
    job_id: int | None
    created_at: datetime
    finished_at: datetime | None


class ImportPreviewOut(ImportOut):
    headers: list[str]
    detected_platform: str | None
    suggested_mapping: dict[str, str]
    preview: list[list[str]]


class ImportTargetOut(BaseModel):
    name: str
    label: str
    required: bool


class ImportPlatformOut(BaseModel):
    name: Platform
    label: str


class OrderImportFieldsOut(BaseModel):
    """What the import wizard's mapping step offers: order fields in display order, platforms."""

    fields: list[ImportTargetOut]
    platforms: list[ImportPlatformOut]

    @classmethod
    def current(cls) -> "OrderImportFieldsOut":
        return cls(
            fields=[
                ImportTargetOut(name=f.name, label=f.label, required=f.required)
                for f in TARGET_FIELDS
            ],
            platforms=[ImportPlatformOut(name=p, label=PLATFORM_LABELS[p]) for p in Platform],
        )
