"""Spreadsheet safety (pure): formula-like text is neutralised, numbers never."""
from decimal import Decimal

import pytest

from reports.safety import is_formula_like, neutralize


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", "＝1+2", "＋1", "－1",
                                  "＠SUM(A1)", "  =1+2", "\u3000＝1", '=HYPERLINK("http://x","y")', "-5"])
def test_formula_like_text_is_prefixed(text):
    assert is_formula_like(text)
    assert neutralize(text) == "'" + text


@pytest.mark.parametrize("text", ["", "plain", "Señorita", "a=b", "5-3", "'=already", "   ", "１＝１"])
def test_plain_text_is_kept(text):
    assert neutralize(text) == text


@pytest.mark.parametrize("number", [-5, -5.5, Decimal("-5.00"), 0, 3, None, True])
def test_numbers_and_other_values_stay_as_they_are(number):
    assert neutralize(number) is number
