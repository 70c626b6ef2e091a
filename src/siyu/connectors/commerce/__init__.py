"""Order export files of the e-commerce platforms, as their sellers download them.

Each platform module describes one export format (`PlatformFormat`): which of its Chinese
column headers carry which order field, how its status words map to ours, and whether it
writes one row per order or one row per item. `siyu.connectors.commerce.rows` turns the
rows of such a file into orders; `detect` recognises the platform from the header row.
"""

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    TMALL = "tmall"
    TAOBAO = "taobao"
    JD = "jd"
    PDD = "pdd"
    YOUZAN = "youzan"
    DOUYIN = "douyin"
    GENERIC = "generic"


PLATFORM_LABELS: dict[str, str] = {
    Platform.TMALL: "天猫",
    Platform.TAOBAO: "淘宝",
    Platform.JD: "京东",
    Platform.PDD: "拼多多",
    Platform.YOUZAN: "有赞",
    Platform.DOUYIN: "抖音",
    Platform.GENERIC: "通用",
}


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class TargetField:
    name: str
    label: str
    required: bool = False


# The order fields a column can be mapped to, in the order the console shows them.
TARGET_FIELDS: tuple[TargetField, ...] = (
    TargetField("order_id", "订单号", required=True),
    TargetField("status", "订单状态", required=True),
    TargetField("ordered_at", "下单时间", required=True),
    TargetField("paid_at", "付款时间"),
    TargetField("paid", "实付金额", required=True),
    TargetField("total", "商品金额"),
    TargetField("shipping", "运费"),
    TargetField("discount", "优惠金额"),
    TargetField("platform_discount", "平台优惠金额"),
    TargetField("refunded", "退款金额"),
    TargetField("buyer_id", "买家ID"),
    TargetField("buyer_nick", "买家昵称"),
    TargetField("receiver_name", "收货人"),
    TargetField("receiver_mobile", "收货人手机"),
    TargetField("receiver_province", "省"),
    TargetField("receiver_city", "市"),
    TargetField("receiver_district", "区"),
    TargetField("receiver_address", "详细地址"),
    TargetField("store", "店铺"),
    TargetField("item_name", "商品名称"),
    TargetField("item_product_id", "商品ID"),
    TargetField("item_sku", "商家编码/SKU"),
    TargetField("item_quantity", "数量"),
    TargetField("item_unit_price", "单价"),
    TargetField("item_amount", "商品小计"),
)
TARGET_NAMES = frozenset(f.name for f in TARGET_FIELDS)
REQUIRED_TARGETS = tuple(f.name for f in TARGET_FIELDS if f.required)
AMOUNT_TARGETS = frozenset(
    {"paid", "total", "shipping", "discount", "platform_discount", "refunded"}
)


def status_key(word: str) -> str:
    """Status words compare without spaces and with ASCII and full-width commas alike."""
    return "".join(word.split()).replace(",", "，").replace("(", "（").replace(")", "）")


@dataclass(frozen=True)
class PlatformFormat:
    platform: Platform
    label: str
    # Target field -> the headers this platform uses for it; the first present one wins.
    columns: dict[str, tuple[str, ...]]
    statuses: dict[str, OrderStatus]
    # Headers that together identify this platform's export.
    signature: tuple[str, ...]
    # One row per item: rows with the same order id are one order.
    item_rows: bool = False
    # With item rows: order amounts are per row and add up (else each row repeats them).
    amounts_per_row: bool = False
    status_keys: dict[str, OrderStatus] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        keyed = {status_key(word): status for word, status in self.statuses.items()}
        object.__setattr__(self, "status_keys", keyed)

    def suggest_mapping(self, headers: list[str]) -> dict[str, str]:
        """Target field -> header, for every target whose header the file has."""
        present = set(headers)
        mapping: dict[str, str] = {}
        for target, candidates in self.columns.items():
            for header in candidates:
                if header in present:
                    mapping[target] = header
                    break
        return mapping
