"""The one Stripe client of a process, and a pace for jobs that call Stripe for every retailer."""

import threading
import time
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from stripe import StripeClient

#: Network errors, 409s and 429s are retried by the SDK itself (with backoff, honouring
#: Retry-After), always with the same idempotency key, so a retried write is applied once.
NETWORK_RETRIES = 3


@lru_cache(maxsize=1)
def stripe_client() -> StripeClient:
    base = settings.STRIPE_API_BASE or None
    return StripeClient(
        settings.STRIPE_SECRET_KEY or "sk_test_unset",
        stripe_version=settings.STRIPE_API_VERSION,
        base_addresses={"api": base, "meter_events": base} if base else None,
        max_network_retries=NETWORK_RETRIES,
    )


def stripe_client_reset() -> None:
    """Forgets the client, so the next one reads the settings again (tests, ``make run``)."""
    stripe_client.cache_clear()


def stripe_time(epoch: int | None) -> datetime | None:
    """A Stripe timestamp (seconds since the epoch, or null) as an aware datetime."""
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


class Pace:
    """At most ``per_second`` calls a second from this process: the month-end close and the
    usage job call Stripe once per retailer, and must leave room under Stripe's rate limit."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            time.sleep(delay)
