"""Amounts as a reader of the active language writes them: "€1,234.50" in English,
"1 234,50 €" in French and Spanish.

Django localizes the number (separators, grouping) but knows no currencies; where the symbol
goes is a habit of the language, not of the currency, so it is decided here, once.
"""

from decimal import Decimal

from django.utils import translation
from django.utils.formats import number_format

#: Symbols readers know; any other currency shows its ISO code ("CHF 12.00", "12,00 CHF").
SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£"}

#: Languages that write the symbol after the amount, with a non-breaking space.
SYMBOL_AFTER = {"fr", "es"}


def money(amount: Decimal | float | int, currency: str, *, places: int = 2) -> str:
    """``amount`` (in currency units, not cents) with ``currency``'s symbol or code."""
    number = number_format(Decimal(str(amount)), places, use_l10n=True, force_grouping=True)
    code = currency.lower()
    symbol = SYMBOLS.get(code, code.upper())
    language = (translation.get_language() or "en").split("-")[0]
    if language in SYMBOL_AFTER:
        return f"{number}\u00a0{symbol}"
    # A code reads better apart from the number ("CHF 12.00"); a symbol sticks to it ("€12.00").
    return f"{symbol}{number}" if code in SYMBOLS else f"{symbol}\u00a0{number}"


def places_of(amount: Decimal) -> int:
    """Two decimals, more only when the amount has them ("0.02", "0.005")."""
    exponent = amount.normalize().as_tuple().exponent
    return max(2, -exponent) if isinstance(exponent, int) else 2
