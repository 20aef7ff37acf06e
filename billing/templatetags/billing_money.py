"""``{{ amount|money:currency }}`` in billing's pages (billing.money says how)."""

from decimal import Decimal

from django import template

from billing.money import money as money_words
from billing.money import places_of

register = template.Library()


@register.filter
def money(amount: Decimal | float | int | None, currency: str) -> str:
    """The amount in the active language's way, with as many decimals as the price has."""
    if amount is None:
        return ""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return money_words(value, currency, places=places_of(value))
