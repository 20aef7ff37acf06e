"""What /metrics says of the tablets' unsent sign-ups: from a summary each heartbeat keeps in
Redis, so a scrape reads no retailer's schema."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from signup import services
from signup.metrics import tablet_unsent_record
from tenants.models import Tenant
from tests.customerinfo.metrics_scrape import of_family, scrape
from tests.signup.factories import Kiosk

CaptureOnCommit = Callable[..., AbstractContextManager[Any]]
OLDEST = "customerinfo_tablet_oldest_unsent_timestamp_seconds"
TABLETS = "customerinfo_tablets_with_unsent_signups"
SIGNUPS = "customerinfo_tablet_unsent_signups"
ALICE = (("tenant", "alice"),)


def _heartbeat(client: Client, kiosk: Kiosk, queue_depth: int, oldest: str | None) -> None:
    response = client.post(
        "/api/kiosk/heartbeat",
        {"app_version": "1.0", "queue_depth": queue_depth, "oldest_unsent_at": oldest},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert response.status_code == 200, response.content


def test_a_heartbeat_with_a_queue_shows_per_retailer_and_an_empty_one_clears_it(
    alice_client: Client,
    kiosk: Kiosk,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    oldest = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        _heartbeat(alice_client, kiosk, 3, oldest.isoformat())
    samples = scrape()
    assert of_family(samples, OLDEST) == {ALICE: oldest.timestamp()}
    assert of_family(samples, TABLETS) == {ALICE: 1}
    assert of_family(samples, SIGNUPS) == {ALICE: 3}

    with django_capture_on_commit_callbacks(execute=True):
        _heartbeat(alice_client, kiosk, 0, None)
    samples = scrape()
    assert of_family(samples, OLDEST) == {}
    assert of_family(samples, TABLETS) == {}


def test_figures_add_up_per_retailer_and_keep_the_oldest(
    alice_tenant: Tenant,
    charlie_tenant: Tenant,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    now = timezone.now().replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        tablet_unsent_record(
            tenant_id=alice_tenant.pk, device_id=1, waiting=2, oldest_unsent_at=now
        )
        tablet_unsent_record(
            tenant_id=alice_tenant.pk,
            device_id=2,
            waiting=5,
            oldest_unsent_at=now - timedelta(minutes=90),
        )
        tablet_unsent_record(
            tenant_id=charlie_tenant.pk,
            device_id=1,
            waiting=1,
            oldest_unsent_at=now - timedelta(minutes=5),
        )
        # A retailer since deleted: its line is left out, not reported under a bare id.
        tablet_unsent_record(tenant_id=987654, device_id=1, waiting=4, oldest_unsent_at=now)
    samples = scrape()
    charlie = (("tenant", "charlie"),)
    assert of_family(samples, TABLETS) == {ALICE: 2, charlie: 1}
    assert of_family(samples, SIGNUPS) == {ALICE: 7, charlie: 1}
    assert of_family(samples, OLDEST) == {
        ALICE: (now - timedelta(minutes=90)).timestamp(),
        charlie: (now - timedelta(minutes=5)).timestamp(),
    }


def test_a_new_pairing_that_takes_the_queue_over_clears_the_old_tablet(
    alice_client: Client,
    kiosk: Kiosk,
    alice_tenant: Tenant,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    oldest = timezone.now() - timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True):
        _heartbeat(alice_client, kiosk, 4, oldest.isoformat())
    assert of_family(scrape(), TABLETS) == {ALICE: 1}
    with tenant_context(alice_tenant), django_capture_on_commit_callbacks(execute=True):
        services.device_revoke(actor=None, device=kiosk.device)
        _, code = services.pairing_code_create(
            actor=None, location=kiosk.location, device_name="Till 1 again"
        )
        services.device_pair(code=code, previous_token=kiosk.token)
    assert of_family(scrape(), TABLETS) == {}
