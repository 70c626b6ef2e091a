"""Turn the rows of an order export into orders, reporting bad cells by row and column.

A `RowParser` is compiled once per file from the format and the (edited) column mapping:
each target field becomes a column index, so a row costs a few list lookups. An order
whose rows have any error is not built at all (a row is never half-applied).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from siyu.commerce.schemas import ItemRecord, OrderRecord
from siyu.connectors.commerce import (
    REQUIRED_TARGETS,
    TARGET_NAMES,
    OrderStatus,
    Platform,
    PlatformFormat,
    status_key,
)
from siyu.exceptions import ValidationFailed
from siyu.kit.money import yuan_to_fen
from siyu.kit.tabular import RowError
from siyu.kit.time import to_utc

NumberedRow = tuple[int, list[str]]
_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d%H%M%S")
_PROVINCE_SUFFIXES = ("省", "市", "自治区", "特别行政区")
# China has kept UTC+8 without daylight saving since 1992: a subtraction, not a zone lookup.
_FIXED_OFFSET_SINCE = datetime(1992, 1, 1)  # noqa: DTZ001 - compared with naive Shanghai times
_SHANGHAI_OFFSET = timedelta(hours=8)


def validate_mapping(columns: Mapping[str, str], headers: Sequence[str]) -> None:
    """Every target known, every header in the file, every required target mapped."""
    present = set(headers)
    for target, header in columns.items():
        if target not in TARGET_NAMES:
            raise ValidationFailed(f"columns.{target}", "not an order field")
        if header not in present:
            raise ValidationFailed(f"columns.{target}", f"the file has no column {header!r}")
    for target in REQUIRED_TARGETS:
        if not columns.get(target):
            raise ValidationFailed(f"columns.{target}", "required field is not mapped")


def clean(text: str) -> str:
    """A cell without padding and without the ="…" wrapper exports use to keep long ids."""
    value = text.strip()
    if value.startswith('="') and value.endswith('"'):
        return value[2:-1].strip()
    return value


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _TIME_FORMATS:
            try:
                value = datetime.strptime(text, pattern)  # noqa: DTZ007 - naive is Shanghai
                break
            except ValueError:
                continue
        else:
            msg = f"not a date and time: {text!r}"
            raise ValueError(msg) from None
    if value.tzinfo is None and value >= _FIXED_OFFSET_SINCE:
        return (value - _SHANGHAI_OFFSET).replace(tzinfo=UTC)
    return to_utc(value)


# An export repeats a few hundred amounts (prices, shipping, "0.00") across its rows.
@lru_cache(maxsize=65536)
def parse_fen(text: str) -> int:
    whole, _, cents = text.partition(".")
    # Fast path for the common "1299.00": exact integer arithmetic, no Decimal.
    if whole.isascii() and whole.isdigit() and (not cents or (cents.isdigit() and len(cents) <= 2)):
        return int(whole) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
    fen = yuan_to_fen(text)
    if fen < 0:
        msg = f"negative amount: {text!r}"
        raise ValueError(msg)
    return fen


def parse_quantity(text: str) -> int:
    try:
        quantity = int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            msg = f"not a whole number: {text!r}"
            raise ValueError(msg) from None
        quantity = int(number)
    if quantity < 0:
        msg = f"negative quantity: {text!r}"
        raise ValueError(msg)
    return quantity


def _cut(value: str, size: int) -> str | None:
    return value[:size] if value else None


class RowParser:
    def __init__(
        self,
        fmt: PlatformFormat,
        headers: Sequence[str],
        columns: Mapping[str, str],
        *,
        platform: Platform | str | None = None,
        statuses: Mapping[str, str] | None = None,
    ) -> None:
        validate_mapping(columns, headers)
        position = {header: i for i, header in enumerate(headers)}
        self.fmt = fmt
        self.platform = Platform(platform) if platform else fmt.platform
        self.index = {target: position[header] for target, header in columns.items()}
        self.header_of = dict(columns)
        self.statuses = dict(fmt.status_keys)
        self.statuses.update({status_key(w): OrderStatus(s) for w, s in (statuses or {}).items()})
        self._order_id_index = self.index["order_id"]
        # The mapped targets with their column, and every target blank, so a row becomes
        # a dict in one pass over its mapped cells.
        self._positions = tuple(self.index.items())
        self._blank = dict.fromkeys(TARGET_NAMES, "")
        self._widest = max(self.index.values()) + 1

    def _cells(self, row: list[str]) -> dict[str, str]:
        """The row's cleaned cells by target field ("" where unmapped or missing)."""
        cells = self._blank.copy()
        if len(row) >= self._widest:
            for name, i in self._positions:
                value = row[i].strip()
                cells[name] = clean(value) if value[:2] == '="' else value
        else:
            n = len(row)
            for name, i in self._positions:
                if i < n:
                    cells[name] = clean(row[i])
        return cells

    def order_key(self, row: list[str]) -> str:
        i = self._order_id_index
        return clean(row[i]) if i < len(row) else ""

    def parse(self, rows: Sequence[NumberedRow]) -> tuple[OrderRecord | None, list[RowError]]:
        """Build one order from its rows (one row, or one row per item)."""
        errors: list[RowError] = []
        parsed = [self._parse_row(number, row, errors) for number, row in rows]
        if errors:
            bad = {e.row for e in errors}
            column = self.header_of["order_id"]
            errors.extend(
                RowError(number, column, f"not imported: row {min(bad)} of this order has errors")
                for number, _ in rows
                if number not in bad
            )
            return None, errors
        head = parsed[0]
        assert head is not None
        amounts = head.amounts
        if self.fmt.amounts_per_row and len(parsed) > 1:
            amounts = {key: sum(p.amounts[key] for p in parsed if p is not None) for key in amounts}
        items = [p.item for p in parsed if p is not None and p.item is not None]
        total = amounts["total"] if "total" in self.index else sum(i.amount_fen for i in items)
        order = OrderRecord(
            platform=self.platform.value,
            status=head.status.value,
            ordered_at=head.ordered_at,
            paid_at=head.paid_at,
            total_fen=total,
            paid_fen=amounts["paid"],
            discount_fen=amounts["discount"] + amounts["platform_discount"],
            shipping_fen=amounts["shipping"],
            refunded_fen=amounts["refunded"],
            items=items,
            **head.fields,
        )
        return order, []

    def _parse_row(
        self, number: int, row: list[str], errors: list[RowError]
    ) -> "_ParsedRow | None":
        cells = self._cells(row)
        before = len(errors)

        def fail(target: str, reason: str) -> None:
            errors.append(RowError(number, self.header_of.get(target, target), reason))

        order_id = cells["order_id"]
        if not order_id:
            fail("order_id", "order id is empty")
        elif len(order_id) > 64:
            fail("order_id", "order id is longer than 64 characters")

        word = cells["status"]
        status = self.statuses.get(word) or self.statuses.get(status_key(word))
        if status is None:
            fail("status", f"unknown status {word!r}; map it to one of ours in the import")

        ordered_at = paid_at = None
        text = cells["ordered_at"]
        if not text:
            fail("ordered_at", "order time is empty")
        else:
            try:
                ordered_at = parse_time(text)
            except ValueError as exc:
                fail("ordered_at", str(exc))
        text = cells["paid_at"]
        if text:
            try:
                paid_at = parse_time(text)
            except ValueError as exc:
                fail("paid_at", str(exc))

        amounts: dict[str, int] = {}
        for target in ("paid", "total", "shipping", "discount", "platform_discount", "refunded"):
            text = cells[target]
            try:
                amounts[target] = parse_fen(text) if text else 0
            except ValueError as exc:
                fail(target, str(exc))

        item = self._item(cells, fail)
        if len(errors) > before:
            return None
        assert status is not None
        assert ordered_at is not None
        if status is OrderStatus.CANCELLED and amounts["refunded"] > 0:
            status = OrderStatus.REFUNDED
        return _ParsedRow(status, ordered_at, paid_at, amounts, item, self._fields(cells))

    def _item(self, cells: dict[str, str], fail: Callable[[str, str], None]) -> ItemRecord | None:
        name = cells["item_name"]
        if not name:
            return None
        quantity = unit = 0
        amount: int | None = None
        try:
            text = cells["item_quantity"]
            quantity = parse_quantity(text) if text else 1
        except ValueError as exc:
            fail("item_quantity", str(exc))
        for target in ("item_unit_price", "item_amount"):
            text = cells[target]
            if not text:
                continue
            try:
                value = parse_fen(text)
            except ValueError as exc:
                fail(target, str(exc))
                continue
            if target == "item_unit_price":
                unit = value
            else:
                amount = value
        if amount is None:
            amount = unit * quantity
        elif not unit and quantity:
            unit = amount // quantity
        return ItemRecord(
            name=name[:300],
            sku=_cut(cells["item_sku"], 100),
            product_external_id=_cut(cells["item_product_id"], 100),
            quantity=quantity,
            unit_price_fen=unit,
            amount_fen=amount,
        )

    def _fields(self, cells: dict[str, str]) -> dict[str, Any]:
        province = cells["receiver_province"]
        city = cells["receiver_city"]
        district = cells["receiver_district"]
        detail = cells["receiver_address"]
        if province or city or district:
            address = " ".join(p for p in (province, city, district, detail) if p)
        else:
            address = detail
            parts = detail.split()
            if len(parts) >= 3 and parts[0].endswith(_PROVINCE_SUFFIXES):
                province, city = parts[0], parts[1]
        return {
            "platform_order_id": cells["order_id"],
            "store": _cut(cells["store"], 100),
            "buyer_id": _cut(cells["buyer_id"], 100),
            "buyer_nick": _cut(cells["buyer_nick"], 100),
            "receiver_name": _cut(cells["receiver_name"], 100),
            "receiver_mobile": _cut(cells["receiver_mobile"], 32),
            "receiver_province": _cut(province, 32),
            "receiver_city": _cut(city, 32),
            "receiver_address": _cut(address, 500),
        }


@dataclass(slots=True)
class _ParsedRow:
    status: OrderStatus
    ordered_at: datetime
    paid_at: datetime | None
    amounts: dict[str, int]
    item: ItemRecord | None
    fields: dict[str, Any]
