"""Spreadsheet safety: text a spreadsheet would run as a formula is neutralised (pure).

A text cell whose first character — or first character after leading spaces — is ``=``, ``+``,
``-``, ``@``, a tab, a carriage return (or line feed), or one of their full-width forms
``＝ ＋ － ＠`` (which spreadsheet applications may normalise to the ASCII ones) gets a leading
``'``, so it is shown as text and never evaluated (CSV injection / DDE). Numbers are never
touched: ``-5`` (an int, float or Decimal) stays the number -5; only *text* is neutralised, so the
string ``"-5"`` becomes ``'-5``.
"""
from __future__ import annotations

from typing import Any

FORMULA_TRIGGERS = frozenset("=+-@\t\r\n" "\uff1d\uff0b\uff0d\uff20")  # ＝ ＋ － ＠


def is_formula_like(text: str) -> bool:
    """Would a spreadsheet treat this text as the start of a formula?"""
    if text[:1] in FORMULA_TRIGGERS and text:
        return True
    stripped = text.lstrip(" \u00a0\u3000")  # ordinary, no-break and ideographic spaces
    return bool(stripped) and stripped[0] in FORMULA_TRIGGERS


def neutralize(value: Any) -> Any:
    """A cell value a spreadsheet will show as text, never evaluate: formula-like text gets a
    leading ``'``; everything else (numbers included) is returned unchanged."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value
