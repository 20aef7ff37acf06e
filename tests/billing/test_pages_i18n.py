"""The billing page in French and Spanish: words from billing's catalogue, amounts written the
reader's way (billing.money), the count of sign-ups with its plural."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from billing.models import SubscriptionStatus
from billing.money import money
from tenants.models import Tenant

from .pages import account_for, text_of

pytestmark = pytest.mark.django_db


def _in(client: Client, language: str) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    # Amounts and figures hold no-break spaces; the assertions read them as plain ones.
    return text_of(response).replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("language", "said", "amount"),
    [
        ("fr", ["Facturation", "Statut Actif", "Tablettes facturées 3", "Factures"], "45,50 €"),
        ("es", ["Facturación", "Estado Activa", "Tabletas facturadas 3", "Facturas"], "45,50 €"),
    ],
)
def test_the_billing_page_speaks_the_readers_language(
    owner_client: Client, alice_tenant: Tenant, language: str, said: list[str], amount: str
) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="ALICE-0001")
    page = _in(owner_client, language)
    for words in said:
        assert words in page
    assert amount in page
    for english in ("Tablets billed", "Next invoice", "Manage cards, invoices and cancellation"):
        assert english not in page


def test_the_included_sign_ups_take_their_plural(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    account = account_for(
        alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1", included_signups=1
    )
    assert "0 sur 1 incluse" in _in(owner_client, "fr")
    account.included_signups = 1000
    account.save(update_fields=["included_signups"])
    assert "0 sur 1 000 incluses" in _in(owner_client, "fr")
    assert "0 de 1.000 incluidos" in _in(owner_client, "es")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "€1,234.50"),
        ("fr", "1\xa0234,50\xa0€"),
        ("es", "1.234,50\xa0€"),
    ],
)
def test_amounts_are_written_the_readers_way(language: str, expected: str) -> None:
    with translation.override(language):
        assert money(Decimal("1234.5"), "eur") == expected


def test_an_unknown_currency_shows_its_code() -> None:
    with translation.override("en"):
        assert money(Decimal("12"), "chf") == "CHF\xa012.00"
    with translation.override("fr"):
        assert money(Decimal("12"), "CHF") == "12,00\xa0CHF"
