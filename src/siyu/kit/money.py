"""Money is integer fen everywhere; yuan only at the edges."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


def yuan_to_fen(value: str | int | float | Decimal) -> int:
    """Parse a yuan amount as platforms export it ("¥1,299.00", "1299", 12.5) into fen."""
    text = str(value).strip().replace(",", "").replace("¥", "").replace("￥", "").replace("元", "")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        msg = f"not an amount: {value!r}"
        raise ValueError(msg) from exc
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_to_yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"
