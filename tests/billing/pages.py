"""What the billing page tests share: reading a page as a screen reader would, the sign-up
form's values, and Stripe made unreachable."""

import secrets
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django import Settings

from billing import services
from billing.models import BillingAccount, InvoiceRecord
from billing.services import client as client_module
from tenants.models import Tenant

# --- reading pages ---------------------------------------------------------------------------


class Html(HTMLParser):
    """A page's elements that carry an id or a name, with their attributes and their text."""

    VOID = frozenset({"input", "br", "img", "meta", "link", "hr", "source", "wbr"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, dict[str, str]] = {}
        self.texts: dict[str, list[str]] = {}
        self.inputs: dict[str, dict[str, str]] = {}
        self.chunks: list[str] = []  # all the page's text
        self._open: list[tuple[str, str | None]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        ident = values.get("id")
        if ident:
            self.by_id[ident] = {"tag": tag, **values}
            self.texts[ident] = []
        if tag in {"input", "select", "textarea"} and values.get("name"):
            self.inputs[values["name"]] = {"tag": tag, **values}
        if tag not in self.VOID:
            self._open.append((tag, ident))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)
        for _, ident in self._open:
            if ident:
                self.texts[ident].append(data)

    def text(self, ident: str) -> str:
        return " ".join("".join(self.texts[ident]).split())

    def described_by(self, name: str) -> str:
        """What a screen reader reads after the label of input ``name``: its described-by
        elements' text. Fails if a reference points at nothing."""
        refs = self.inputs[name].get("aria-describedby", "").split()
        missing = [ref for ref in refs if ref not in self.by_id]
        assert not missing, f"{name} is described by missing elements {missing}"
        return " ".join(self.text(ref) for ref in refs)


def html(response: Any) -> Html:
    return Html(response.content.decode())


def text_of(response: Any) -> str:
    """The page's text, tags dropped and spaces collapsed (entities decoded)."""
    return " ".join(" ".join(html(response).chunks).split())


def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


def form_values(**changes: str) -> dict[str, str]:
    return {
        "nonce": secrets.token_urlsafe(12),
        "shop_name": "The Bakery",
        "slug": "bakery",
        "owner_email": "owner@bakery.example",
        "password": "a-long-password",
        **changes,
    }


def stripe_unreachable(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe does not answer (a closed port), and the client gives up at once."""
    monkeypatch.setattr(client_module, "NETWORK_RETRIES", 0)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    services.stripe_client_reset()


def set_access(tenant: Tenant, access: str) -> None:
    """What billing does when a subscription's status changes; routing's memory of the host is
    left as it is, since access is read afresh by the requests that need it."""
    Tenant.objects.filter(pk=tenant.pk).update(access=access)


def account_for(
    tenant: Tenant, *, status: str, invoice: str, customer: str = "", **fields: Any
) -> BillingAccount:
    now = timezone.now()
    account = BillingAccount.objects.create(
        tenant=tenant,
        stripe_customer_id=customer or f"cus_{tenant.slug}",
        status=status,
        seats_billed=3,
        seats_wanted=3,
        current_period_start=now - timedelta(days=3),
        current_period_end=now + timedelta(days=27),
        **fields,
    )
    InvoiceRecord.objects.create(
        account=account,
        stripe_invoice_id=f"in_{tenant.slug}",
        number=invoice,
        status="open",
        currency="eur",
        amount_due=4550,
        hosted_invoice_url=f"https://invoice.example/{tenant.slug}",
        created=now - timedelta(days=2),
        synced_at=now,
    )
    return account
