"""Orders reduced to what the bulk writer stores: plain tuples and normalised identities.

Preparing an order needs no database, so an import prepares its orders in the process
that parses the file, and hands the writer values that cross a process boundary cheaply
(tuples pickle several times faster than objects).
"""

from contextlib import suppress
from typing import Any, NamedTuple

from siyu.commerce.schemas import OrderRecord
from siyu.connectors.commerce import OrderStatus, Platform
from siyu.customers.identities import IdentityKind, IdentityRef, normalize
from siyu.exceptions import ValidationFailed

BUYER_KINDS: dict[str, IdentityKind] = {
    Platform.TMALL: IdentityKind.TAOBAO_BUYER_ID,
    Platform.TAOBAO: IdentityKind.TAOBAO_BUYER_ID,
    Platform.JD: IdentityKind.JD_BUYER_ID,
    Platform.PDD: IdentityKind.PDD_BUYER_ID,
    Platform.DOUYIN: IdentityKind.DOUYIN_BUYER_ID,
    Platform.YOUZAN: IdentityKind.YOUZAN_BUYER_ID,
}
# The order columns a prepared order carries, in this order.
ORDER_COLUMNS = (
    "store",
    "status",
    "total_fen",
    "paid_fen",
    "discount_fen",
    "shipping_fen",
    "refunded_fen",
    "ordered_at",
    "paid_at",
    "buyer_id",
    "buyer_nick",
    "receiver_name",
    "receiver_mobile",
    "receiver_province",
    "receiver_city",
    "receiver_address",
)
STATUS = ORDER_COLUMNS.index("status")
PAID = ORDER_COLUMNS.index("paid_fen")
REFUNDED = ORDER_COLUMNS.index("refunded_fen")
ORDERED_AT = ORDER_COLUMNS.index("ordered_at")
# The item columns a prepared order carries per item, in this order (the product's
# external id first: the writer swaps it for the product id).
ITEM_COLUMNS = ("product_external_id", "sku", "name", "quantity", "unit_price_fen", "amount_fen")


# A buyer's identities as (kind, value) pairs, normalised.
Identities = tuple[tuple[str, str], ...]


class PreparedOrder(NamedTuple):
    platform: str
    platform_order_id: str
    values: tuple[Any, ...]  # ORDER_COLUMNS
    items: tuple[tuple[Any, ...], ...]  # ITEM_COLUMNS per item
    identities: Identities


def is_masked(value: str) -> bool:
    """Platforms hide buyer data as 138****8000 or t**1; such values identify nobody."""
    return "*" in value or "＊" in value


class BuyerMemo:
    """The identities of the buyers already seen in this file, by (platform, buyer id,
    receiver mobile).

    An export names the same buyers again and again, more of them than the shared cache
    of normalised identities holds, and parsing a mobile costs about half as much as the
    rest of its row. Repeated buyers also share one tuple, which a chunk's pickle then
    carries once. Bounded: cleared when full.
    """

    LIMIT = 500_000

    def __init__(self) -> None:
        self.known: dict[tuple[str, str | None, str | None], Identities] = {}

    def identities(self, order: OrderRecord) -> Identities:
        key = (order.platform, order.buyer_id, order.receiver_mobile)
        found = self.known.get(key)
        if found is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[key] = _identities(order)
        return found


def _identities(order: OrderRecord) -> Identities:
    return tuple((ref.kind, ref.value) for ref in order_identities(order))


def _mobile_ref(mobile: str) -> IdentityRef | None:
    try:
        return normalize(IdentityKind.MOBILE, mobile, field="receiver_mobile")
    except ValidationFailed:
        return None


def order_identities(order: OrderRecord) -> list[IdentityRef]:
    """The identities an order feeds OneID: the platform buyer id and an unmasked mobile."""
    refs: list[IdentityRef] = []
    kind = BUYER_KINDS.get(order.platform)
    if kind is not None and order.buyer_id and not is_masked(order.buyer_id):
        with suppress(ValidationFailed):
            refs.append(normalize(kind, order.buyer_id, field="buyer_id"))
    mobile = order.receiver_mobile
    # Landlines and virtual numbers stay on the order; they are not the buyer's mobile.
    if mobile and not is_masked(mobile):
        ref = _mobile_ref(mobile)
        if ref is not None:
            refs.append(ref)
    return refs


def final_status(order: OrderRecord) -> str:
    if order.status == OrderStatus.CANCELLED and order.refunded_fen > 0:
        return OrderStatus.REFUNDED.value
    return order.status


def prepare(order: OrderRecord, buyers: BuyerMemo | None = None) -> PreparedOrder:
    return PreparedOrder(
        order.platform,
        order.platform_order_id,
        (
            order.store,
            final_status(order),
            order.total_fen,
            order.paid_fen,
            order.discount_fen,
            order.shipping_fen,
            order.refunded_fen,
            order.ordered_at,
            order.paid_at,
            order.buyer_id,
            order.buyer_nick,
            order.receiver_name,
            order.receiver_mobile,
            order.receiver_province,
            order.receiver_city,
            order.receiver_address,
        ),
        tuple(
            (
                item.product_external_id,
                item.sku,
                item.name,
                item.quantity,
                item.unit_price_fen,
                item.amount_fen,
            )
            for item in order.items
        ),
        _identities(order) if buyers is None else buyers.identities(order),
    )
