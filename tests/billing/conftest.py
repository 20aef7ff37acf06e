"""The Stripe fake for billing tests: started on a free port, the real StripeClient pointed at it.

``catalog`` is the price list the product sells: a seat price (licensed, 49.00 USD a month) and
a sign-up usage price (metered through the ``signups`` meter, graduated: the first 100 free,
then 2.5 cents each).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from pytest_django import Settings
from stripe import StripeClient

from billing import services
from billing.stripe_fake import StripeFake
from billing.stripe_fake.webhooks import SignedRequest
from billing.tasks import event_process_task

from .support import Catalog, catalog_create


@pytest.fixture
def stripe_fake() -> Iterator[StripeFake]:
    fake = StripeFake(retry_delays=(0.05, 0.1)).start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_client(stripe_fake: StripeFake) -> StripeClient:
    return StripeClient(
        "sk_test_fake",
        base_addresses={"api": stripe_fake.url, "meter_events": stripe_fake.url},
        max_network_retries=2,
    )


@pytest.fixture
def catalog(stripe_client: StripeClient) -> Catalog:
    return catalog_create(stripe_client)


# --- billing against the fake: the product's own settings and catalog ------------------------

WEBHOOK_SECRET = "whsec_test_billing"


@dataclass
class Billing:
    """The product's billing pointed at a fresh fake Stripe, with its catalog made."""

    fake: StripeFake
    client: StripeClient

    def webhooks(self) -> list[SignedRequest]:
        """Every webhook the fake has for us, signed, not yet delivered."""
        return self.fake.drain_webhooks()

    def deliver(self, requests: list[SignedRequest] | None = None) -> list[int]:
        """Posts the webhooks to /stripe/webhook/ as Stripe would, then processes what was
        stored (the task's work, in this process); returns the HTTP statuses."""
        client = Client(HTTP_HOST="localhost")
        statuses = []
        for request in self.webhooks() if requests is None else requests:
            response = client.generic(
                "POST",
                "/stripe/webhook/",
                request.body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=request.headers["Stripe-Signature"],
            )
            statuses.append(response.status_code)
        services.events_process_pending()
        return statuses


@pytest.fixture
def billing(
    stripe_fake: StripeFake, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Billing]:
    settings.STRIPE_SECRET_KEY = "sk_test_billing"
    settings.STRIPE_API_BASE = stripe_fake.url
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 0  # no pacing against the fake
    services.stripe_client_reset()
    # Tasks queued after commit are run by the tests themselves (Billing.deliver).
    monkeypatch.setattr(event_process_task, "delay", lambda **kwargs: None)
    stripe_fake.set_webhook_mode("manual")
    stripe_fake.add_webhook_endpoint("http://localhost/stripe/webhook/", WEBHOOK_SECRET)
    services.catalog_sync()
    yield Billing(fake=stripe_fake, client=services.stripe_client())
    services.stripe_client_reset()
