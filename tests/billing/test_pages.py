"""Billing's pages as a person meets them (Django's test client): the public site, the sign-up
form and its live address check, finding one's shop, Stripe's webhook, the owners' billing page,
a suspended or warned shop, and a forgotten password on a shop's own host.

Isolation is checked the way it would break: charlie, signed in on his shop, must never see
anything of alice's account, and a link made for alice's shop must not work on his.
"""

import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import Settings

from billing import services
from billing.models import (
    BillingAccount,
    InvoiceRecord,
    StripeEvent,
    SubscriptionStatus,
    TrialSignup,
)
from billing.services import client as client_module
from billing.stripe_fake import signature_header
from billing.tasks import event_process_task
from customerinfo.core.accounts.models import User
from signup.models import Location, Submission
from tenants.models import Tenant, TenantAccess
from tenants.selectors import host_cache_clear
from tests.conftest import PASSWORD, login
from tests.signup.factories import Kiosk

from .conftest import WEBHOOK_SECRET, Billing
from .support import browser
from .test_signups import ADDRESS

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def public() -> Client:
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


# --- the public site -------------------------------------------------------------------------


def test_the_landing_page_shows_the_prices_of_the_catalog(billing: Billing, public: Client) -> None:
    response = public.get("/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Each tablet EUR 15.00 a month" in page
    assert "1000 a month included, then EUR 0.02 each" in page
    assert "14 days, no card needed" in page
    assert 'href="/start/"' in response.content.decode()


def test_without_a_catalog_the_public_pages_say_prices_are_being_updated(public: Client) -> None:
    landing = public.get("/")
    assert landing.status_code == 200
    assert "Prices are being updated" in text_of(landing)
    start = public.get("/start/")
    assert start.status_code == 200
    assert "Sign-up is not open right now" in text_of(start)
    # A complete form is refused with the reason, and holds no address.
    refused = public.post("/start/", form_values())
    assert refused.status_code == 503
    assert "Sign-up is not open right now" in text_of(refused)
    assert not TrialSignup.objects.exists()


def test_start_shows_each_error_next_to_its_field(public: Client) -> None:
    response = public.post(
        "/start/",
        {"nonce": "n1", "shop_name": "", "slug": "Not Valid", "owner_email": "x", "password": "s"},
    )
    assert response.status_code == 400
    page = html(response)
    for name, error in [
        ("shop_name", "This field is required."),
        ("slug", "Enter a valid “slug”"),
        ("owner_email", "Enter a valid email address."),
        ("password", "at least 10 characters"),
    ]:
        field = page.inputs[name]
        assert field.get("aria-invalid") == "true", name
        assert error in page.described_by(name), name
    # The help stays readable beside the errors, and what was typed (not the password) stays.
    assert "At least 10 characters." in page.described_by("password")
    assert page.inputs["slug"]["value"] == "Not Valid"
    assert page.inputs["owner_email"]["value"] == "x"
    assert page.inputs["password"].get("value", "") == ""
    # The same nonce comes back: sending the corrected form is still the same sign-up.
    assert page.inputs["nonce"]["value"] == "n1"


def test_a_taken_address_is_refused_next_to_the_address_field(
    billing: Billing, public: Client
) -> None:
    response = public.post("/start/", form_values(slug="alice"))
    assert response.status_code == 400
    page = html(response)
    assert page.inputs["slug"].get("aria-invalid") == "true"
    assert "already taken" in page.described_by("slug")
    assert not TrialSignup.objects.exists()


def test_a_good_form_goes_to_checkout_and_sending_it_twice_is_one_sign_up(
    billing: Billing, public: Client
) -> None:
    values = form_values()
    first = public.post("/start/", values)
    assert first.status_code == 302
    assert first["Location"].startswith(f"{billing.fake.url}/checkout/cs_")
    again = public.post("/start/", values)
    assert again["Location"] == first["Location"]
    assert TrialSignup.objects.count() == 1


def test_stripe_unreachable_at_the_start_is_said_not_a_server_error(
    billing: Billing, public: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = settings.STRIPE_API_BASE
    stripe_unreachable(settings, monkeypatch)
    values = form_values()
    response = public.post("/start/", values)
    assert response.status_code == 503
    assert "could not reach our payment provider" in text_of(response)
    page = html(response)
    assert page.inputs["slug"]["value"] == "bakery"  # nothing to type again
    assert page.inputs["nonce"]["value"] == values["nonce"]
    # Stripe is back: sending the form again (its nonce with it) goes on to Checkout.
    settings.STRIPE_API_BASE = api
    services.stripe_client_reset()
    again = public.post("/start/", values)
    assert again.status_code == 302
    assert again["Location"].startswith(f"{billing.fake.url}/checkout/")


def test_checkout_cancelled_says_nothing_was_charged(billing: Billing, public: Client) -> None:
    response = public.get("/start/?cancelled=1")
    assert response.status_code == 200
    assert "nothing was charged" in text_of(response)


@pytest.mark.parametrize(
    ("slug", "answer"),
    [
        ("new-bakery", "✓ new-bakery.localhost is free."),
        ("New-Bakery", "✓ new-bakery.localhost is free."),
        ("alice", "The address 'alice' is already taken."),
        ("www", "The address 'www' is reserved."),
        ("Not Valid", "Use 1 to 40 lowercase letters"),
        ("-bakery", "Use 1 to 40 lowercase letters"),
        ("", "Use 1 to 40 lowercase letters"),
    ],
)
def test_the_address_check_answers_as_the_retailer_types(
    public: Client, slug: str, answer: str
) -> None:
    response = public.get("/start/address/", {"slug": slug}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = text_of(response)
    assert fragment.startswith(answer)
    assert "<html" not in response.content.decode()  # a fragment, for the status line


def test_an_address_held_at_checkout_is_taken_for_the_address_check(
    billing: Billing, public: Client
) -> None:
    public.post("/start/", form_values(slug="corner"))
    response = public.get("/start/address/", {"slug": "corner"})
    assert "taken" in text_of(response)


@pytest.mark.parametrize(
    ("path", "target"), [("/login/", "/login/"), ("/password/reset/", "/password/reset/")]
)
def test_find_shop_sends_the_person_to_their_shops_own_page(path: str, target: str) -> None:
    client = Client(HTTP_HOST="localhost:8000")
    assert client.get(path).status_code == 200
    # As the page shows an address, as typed in a hurry, or pasted from an email.
    for typed in [" Alice ", "alice.localhost", "https://Alice.localhost:8000/login/?next=/"]:
        response = client.post(path, {"slug": typed})
        assert response.status_code == 302, typed
        assert response["Location"] == f"http://alice.localhost:8000{target}"


@pytest.mark.parametrize(
    "slug", ["nobody-here", "alice.example", "", "alice.charlie.localhost", "-alice", "a" * 301]
)
def test_find_shop_refuses_an_address_that_is_no_shop(public: Client, slug: str) -> None:
    response = public.post("/login/", {"slug": slug})
    assert response.status_code == 400
    page = html(response)
    assert page.inputs["slug"].get("aria-invalid") == "true"
    assert page.described_by("slug")
    assert "Location" not in response


# --- Stripe's webhook ------------------------------------------------------------------------


@pytest.fixture
def webhook(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Client:
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    monkeypatch.setattr(event_process_task, "delay", lambda **kwargs: None)
    return Client(HTTP_HOST="localhost")


def post_event(
    client: Client, body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> Any:
    signature = signature_header(body, secret, int(time.time()) if at is None else at)
    return client.generic(
        "POST",
        "/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def event_body(event_id: str = "evt_test_pages_1") -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": "customer.updated",
        "data": {"object": {"id": "cus_nobody", "object": "customer"}},
    }
    return json.dumps(event).encode()


def test_a_signed_event_is_stored_once_and_a_replay_says_duplicate(webhook: Client) -> None:
    body = event_body()
    first = post_event(webhook, body)
    assert first.status_code == 200
    assert first.json() == {"received": "evt_test_pages_1", "duplicate": False}
    replay = post_event(webhook, body)
    assert replay.status_code == 200
    assert replay.json() == {"received": "evt_test_pages_1", "duplicate": True}
    assert StripeEvent.objects.filter(event_id="evt_test_pages_1").count() == 1


@pytest.mark.parametrize(
    ("secret", "age", "code"),
    [
        ("whsec_someone_else", 0, "invalid_signature"),
        (WEBHOOK_SECRET, 3600, "invalid_signature"),  # an old signature, replayed
    ],
)
def test_a_bad_signature_is_400_in_the_error_shape(
    webhook: Client, secret: str, age: int, code: str
) -> None:
    response = post_event(webhook, event_body(), secret=secret, at=int(time.time()) - age)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert not StripeEvent.objects.exists()


def test_no_signature_at_all_is_400(webhook: Client) -> None:
    response = webhook.post("/stripe/webhook/", event_body(), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize("body", [b"not json {", b"[1, 2]", b'{"type": "x"}'])
def test_a_signed_body_that_is_no_event_is_400(webhook: Client, body: bytes) -> None:
    response = post_event(webhook, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert not StripeEvent.objects.exists()


def test_either_secret_is_accepted_while_one_is_rotated(
    webhook: Client, settings: Settings
) -> None:
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new_one", WEBHOOK_SECRET]
    assert post_event(webhook, event_body("evt_old"), secret=WEBHOOK_SECRET).status_code == 200
    assert post_event(webhook, event_body("evt_new"), secret="whsec_new_one").status_code == 200


# --- the owners' billing page ----------------------------------------------------------------


def set_access(tenant: Tenant, access: str) -> None:
    """What billing does when a subscription's status changes (and routing forgets the old)."""
    Tenant.objects.filter(pk=tenant.pk).update(access=access)
    host_cache_clear()


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


def test_the_owner_sees_the_billing_page(owner_client: Client, alice_tenant: Tenant) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="ALICE-0001")
    response = owner_client.get("/billing/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Status Active" in page
    assert "Tablets billed 3" in page
    assert "Sign-ups this period 0" in page
    assert "ALICE-0001" in page
    assert "EUR 45.50" in page  # not rounded to 46


def test_a_shop_made_by_an_operator_is_not_billed_here(owner_client: Client) -> None:
    response = owner_client.get("/billing/")
    assert response.status_code == 200
    assert "not billed through the portal" in text_of(response)


def test_a_manager_gets_the_403_page(manager_client: Client) -> None:
    response = manager_client.get("/billing/")
    assert response.status_code == 403
    assert "cannot see billing" in text_of(response)
    assert manager_client.post("/billing/manage/").status_code == 403


def test_anonymous_goes_to_sign_in(alice_client: Client) -> None:
    response = alice_client.get("/billing/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/billing/"


def test_charlie_never_sees_alices_account(
    alice_tenant: Tenant, charlie_tenant: Tenant, charlie_client: Client, charlie: User
) -> None:
    account_for(
        alice_tenant,
        status=SubscriptionStatus.PAST_DUE,
        invoice="ALICE-0001",
        latest_invoice_url="https://invoice.example/alice-open",
    )
    set_access(alice_tenant, TenantAccess.WARNED)
    login(charlie_client, charlie_tenant, charlie)
    alone = charlie_client.get("/billing/")
    assert alone.status_code == 200
    assert "not billed through the portal" in text_of(alone)
    account_for(charlie_tenant, status=SubscriptionStatus.ACTIVE, invoice="CHARLIE-0001")
    response = charlie_client.get("/billing/")
    page = response.content.decode()
    assert "CHARLIE-0001" in page
    for alices in ["ALICE-0001", "cus_alice", "in_alice", "invoice.example/alice", "overdue"]:
        assert alices not in page, alices
    assert "payment failed" not in text_of(response).lower()
    # charlie's session means nothing on alice's host.
    elsewhere = charlie_client.get("/billing/", HTTP_HOST="alice.localhost")
    assert elsewhere.status_code == 302
    assert elsewhere["Location"].startswith("/login/")


def test_alices_welcome_link_does_not_sign_anyone_in_on_charlies_host(
    alice_tenant: Tenant, charlie_client: Client
) -> None:
    TrialSignup.objects.create(
        nonce="n-alice",
        shop_name="Alice's Shop",
        slug="alice",
        owner_email="alice@alice.example",
        state="provisioned",
        tenant=alice_tenant,
    )
    token = services.welcome_token(tenant=alice_tenant)
    response = charlie_client.get(f"/welcome/{token}/")
    assert response.status_code == 400
    assert "for another shop" in text_of(response)
    assert charlie_client.get("/billing/").status_code == 302  # still nobody
    # On alice's own host it works, once.
    alice_host = Client(HTTP_HOST="alice.localhost")
    assert alice_host.get(f"/welcome/{token}/")["Location"] == "/"
    assert alice_host.get("/").status_code == 200


def test_a_forged_or_unknown_welcome_link_is_refused(alice_client: Client) -> None:
    response = alice_client.get("/welcome/not-a-token/")
    assert response.status_code == 400
    assert "expired" in text_of(response)
    assert 'href="/login/"' in response.content.decode()


def test_the_customer_portal_button_opens_stripes_portal(
    billing: Billing, owner_client: Client, alice_tenant: Tenant
) -> None:
    customer = billing.client.v1.customers.create(params={"email": "alice@alice.example"})
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1", customer=customer.id)
    page = html(owner_client.get("/billing/"))
    assert any(
        attrs.get("name") == "csrfmiddlewaretoken" for attrs in page.inputs.values()
    )  # the button is a form that posts
    response = owner_client.post("/billing/manage/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{billing.fake.url}/portal/bps_")
    portal = browser().get(response["Location"])
    assert portal.status_code == 200


def test_stripe_unreachable_for_the_portal_is_said_on_the_billing_page(
    billing: Billing,
    owner_client: Client,
    alice_tenant: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1")
    stripe_unreachable(settings, monkeypatch)
    response = owner_client.post("/billing/manage/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/billing/", 302)]
    assert "could not reach our payment provider" in text_of(response)


def test_the_owner_of_a_new_shop_sees_trial_seats_and_sign_ups(billing: Billing) -> None:
    """The whole sign-up with plain HTTP, then the page the new owner opens first."""
    public = Client(HTTP_HOST="localhost")
    checkout = public.post("/start/", form_values())["Location"]
    back = browser().post(checkout, data={"card": "none", "name": "Ann Baker", **ADDRESS})
    assert back.status_code == 303
    done = public.get(back.headers["location"].removeprefix("http://localhost"))
    assert done.status_code == 302
    shop = Client(HTTP_HOST="bakery.localhost")
    assert shop.get(done["Location"].removeprefix("http://bakery.localhost"))["Location"] == "/"
    account = BillingAccount.objects.get(tenant__slug="bakery")
    assert account.trial_end is not None
    response = shop.get("/billing/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Status Trial" in page
    assert f"Trial ends {account.trial_end:%-d %B %Y}" in page
    assert "Tablets billed 0" in page  # Checkout billed one; the shop has no tablet yet
    assert "Sign-ups this period 0 of 1000 included" in page
    assert "add a card before it ends" in page
    assert "No invoice yet" in page
    assert 'href="/billing/" aria-current="page"' in response.content.decode()


def test_start_done_with_an_unknown_session_says_so(billing: Billing, public: Client) -> None:
    for query in ["", "?session_id=cs_test_nothing_like_it"]:
        response = public.get(f"/start/done/{query}")
        assert response.status_code == 404, query
        assert "could not find a finished Checkout" in text_of(response)


def test_start_done_while_stripe_is_unreachable_asks_to_reload(
    billing: Billing, public: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe_unreachable(settings, monkeypatch)
    response = public.get("/start/done/?session_id=cs_test_x")
    assert response.status_code == 503
    assert "reload this page" in text_of(response)


# --- a suspended or warned shop --------------------------------------------------------------


STORE = {"name": "Lyon", "code": "lyon", "country": "FR", "time_zone": "Europe/Paris"}


def test_a_suspended_shop_reads_but_does_not_change(
    billing: Billing, owner_client: Client, alice_tenant: Tenant
) -> None:
    customer = billing.client.v1.customers.create(params={"email": "alice@alice.example"})
    account_for(alice_tenant, status=SubscriptionStatus.UNPAID, invoice="A-1", customer=customer.id)
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    refused = owner_client.post("/stores/new/", STORE)
    assert refused.status_code == 403
    assert "Your account is suspended" in text_of(refused)
    assert '<a class="button" href="/billing/">Pay now</a>' in refused.content.decode()
    with tenant_context(alice_tenant):
        assert not Location.objects.filter(code="lyon").exists()
    # A button that posts with htmx would swap nothing on a 403: the page reloads instead,
    # and its banner says why.
    htmx = owner_client.post("/stores/new/", STORE, headers={"HX-Request": "true"})
    assert htmx.status_code == 403
    assert htmx["HX-Refresh"] == "true"
    assert owner_client.get("/stores/").status_code == 200
    assert owner_client.get("/stores/new/").status_code == 200
    billing_page = owner_client.get("/billing/")
    assert billing_page.status_code == 200
    assert "suspended" in text_of(billing_page)
    manage = owner_client.post("/billing/manage/")
    assert manage.status_code == 302
    assert manage["Location"].startswith(f"{billing.fake.url}/portal/")
    assert owner_client.post("/password/reset/", {"email": "x@y.example"}).status_code == 302
    assert owner_client.post("/logout/").status_code == 302


def test_a_suspended_shop_asks_a_manager_to_get_the_owner_to_pay(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    refused = manager_client.post("/stores/new/", STORE)
    assert refused.status_code == 403
    page = text_of(refused)
    assert "Your account is suspended" in page
    assert "Ask the shop's owner" in page
    assert 'href="/billing/"' not in refused.content.decode()  # a page they could not open


def test_a_suspended_shops_tablets_keep_taking_sign_ups(
    kiosk: Kiosk, alice_client: Client, alice_tenant: Tenant
) -> None:
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    payload = {
        "id": "5f0e8f8e-3b6a-4f7e-9a55-3d1c2b0a9e11",
        "form_version": kiosk.version.pk,
        "locale": "en",
        "captured_at": datetime.now(UTC).isoformat(),
        "answers": {"email": "shopper@example.com"},
        "consents": {"email": True},
    }
    response = alice_client.post(
        "/api/kiosk/submissions", payload, content_type="application/json", headers=kiosk.headers
    )
    assert response.status_code == 201, response.content
    heartbeat = alice_client.post(
        "/api/kiosk/heartbeat",
        {"queue_depth": 0},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert heartbeat.status_code < 400
    assert Submission.objects.filter(email="shopper@example.com").exists()


@pytest.mark.parametrize(
    ("access", "banner"),
    [
        (TenantAccess.WARNED, "The last payment failed."),
        (TenantAccess.SUSPENDED, "This account is suspended"),
    ],
)
def test_the_banner_says_what_is_wrong_and_how_to_pay(
    owner_client: Client, alice_tenant: Tenant, access: str, banner: str
) -> None:
    assert "payment failed" not in text_of(owner_client.get("/"))
    set_access(alice_tenant, access)
    response = owner_client.get("/")
    assert response.status_code == 200
    assert banner in text_of(response)
    assert re.search(
        r'class="banner[^"]*"[^>]*>.*?href="/billing/">Pay now</a>', response.content.decode(), re.S
    )


def test_a_warned_owner_is_shown_the_open_invoice_to_pay(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    account_for(
        alice_tenant,
        status=SubscriptionStatus.PAST_DUE,
        invoice="ALICE-0002",
        latest_invoice_url="https://invoice.example/alice-open",
    )
    set_access(alice_tenant, TenantAccess.WARNED)
    response = owner_client.get("/billing/")
    page = text_of(response)
    assert "Status Payment overdue" in page
    assert "Your last payment failed." in page
    assert '<a class="button" href="https://invoice.example/alice-open">' in (
        response.content.decode()
    )


def test_a_warned_shop_still_changes_things(owner_client: Client, alice_tenant: Tenant) -> None:
    set_access(alice_tenant, TenantAccess.WARNED)
    assert owner_client.post("/stores/new/", STORE).status_code == 302
    with tenant_context(alice_tenant):
        assert Location.objects.filter(code="lyon").exists()


# --- a forgotten password, on the shop's own host --------------------------------------------


def test_password_reset_on_the_shops_host_works_once(alice_client: Client) -> None:
    form = alice_client.get("/password/reset/")
    assert form.status_code == 200
    assert "Alice's Shop" in text_of(form)
    sent = alice_client.post("/password/reset/", {"email": "alice@alice.example"})
    assert sent.status_code == 302
    assert sent["Location"] == "/password/reset/sent/"
    assert "Check your email" in text_of(alice_client.get(sent["Location"]))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@alice.example"]
    assert message.subject == "Set a new password for alice.localhost"
    assert "works once" in str(message.body)
    found = re.search(
        r"http://alice\.localhost(/password/reset/[^/\s]+/[^/\s]+/)", str(message.body)
    )
    assert found, message.body
    link = found.group(1)
    opened = alice_client.get(link)
    assert opened.status_code == 302  # to the same page without the token in the address
    choose = alice_client.get(opened["Location"])
    assert choose.status_code == 200
    assert html(choose).inputs["new_password1"]
    done = alice_client.post(
        opened["Location"],
        {"new_password1": "a-brand-new-password", "new_password2": "a-brand-new-password"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/password/reset/done/"
    assert "Your password is set" in text_of(alice_client.get(done["Location"]))
    signed_in = alice_client.post(
        "/login/", {"username": "alice@alice.example", "password": "a-brand-new-password"}
    )
    assert signed_in.status_code == 302
    # The link is spent.
    again = Client(HTTP_HOST="alice.localhost").get(link, follow=True)
    assert "used already or has expired" in text_of(again)
    assert 'href="/password/reset/"' in again.content.decode()


def test_password_reset_mails_nobody_for_an_unknown_address_or_another_shop(
    alice_client: Client, charlie_client: Client
) -> None:
    assert alice_client.post("/password/reset/", {"email": "no@one.example"}).status_code == 302
    assert (
        charlie_client.post("/password/reset/", {"email": "alice@alice.example"}).status_code == 302
    )
    assert mail.outbox == []


def test_a_reset_link_of_alices_shop_does_nothing_on_charlies(
    alice_client: Client, charlie_client: Client, charlie_tenant: Tenant
) -> None:
    alice_client.post("/password/reset/", {"email": "alice@alice.example"})
    link = re.search(r"http://alice\.localhost(/password/reset/\S+/)", str(mail.outbox[0].body))
    assert link
    response = charlie_client.get(link.group(1), follow=True)
    assert "used already or has expired" in text_of(response)
    with tenant_context(charlie_tenant):
        assert User.objects.get(email="charlie@charlie.example").check_password(PASSWORD)
