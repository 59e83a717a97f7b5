"""Currency display in reports (pure): minor units (ISO 4217 exponent) and spreadsheet formats."""
from __future__ import annotations

import decimal
from typing import Any

# ISO 4217 currencies whose minor unit is not 2 (the others have cents).
_ZERO_DECIMALS = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
_THREE_DECIMALS = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def minor_units(currency: str | None) -> int:
    code = (currency or "").upper()
    if code in _ZERO_DECIMALS:
        return 0
    if code in _THREE_DECIMALS:
        return 3
    return 2


def quantize(amount: Any, currency: str | None) -> decimal.Decimal | None:
    """The amount as a Decimal rounded (half away from zero) to the currency's minor units."""
    if amount is None:
        return None
    value = amount if isinstance(amount, decimal.Decimal) else decimal.Decimal(str(amount))
    return value.quantize(decimal.Decimal(1).scaleb(-minor_units(currency)), rounding=decimal.ROUND_HALF_UP)


def xlsx_money_format(currency: str | None) -> str:
    """An Excel number format showing the currency code, e.g. ``[$EUR] #,##0.00`` / ``[$JPY] #,##0``."""
    code = (currency or "USD").upper()
    digits = minor_units(code)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    return f"[${code}] {number};-[${code}] {number}"


def format_money(amount: Any, currency: str | None) -> str:
    """``€1,234.56``, ``¥1,235``, ``CHF 1,234.56``; ``—`` for None (HTML and PDF)."""
    value = quantize(amount, currency)
    if value is None:
        return "—"
    code = (currency or "").upper()
    digits = minor_units(code)
    text = f"{abs(value):,.{digits}f}"
    sign = "-" if value < 0 else ""
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"
