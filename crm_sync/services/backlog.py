"""The backlog a recovered CRM gets at once: what its circuit breaker held back.

While a destination's breaker is open, its deliveries wait in the outbox without spending
attempts (``sending``), each until the breaker may let a probe through; those that failed
before it opened wait on the schedule (5 s, 1 min, 5 min...). Once a probe succeeds, none of
those waits has a reason left: every delivery the outage touched is made due now, and a worker
is woken for them the way a new sign-up wakes one, so the backlog drains in full batches within
seconds of the CRM's return instead of trickling in over the next minutes.
"""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus
from outbox.services import deliveries_announce

from .relay import RELAY_CHUNK

#: Clocks of different workers disagree a little; a row touched this long before the outage
#: began is released too, which at worst sends it a little before its own wait is over.
CLOCK_SKEW = timedelta(seconds=5)


def backlog_release(*, destination_id: int, failing_since: float) -> int:
    """Makes due every pending delivery of the destination that waits since its CRM started
    failing (``failing_since``, epoch seconds), and wakes a worker; returns how many.

    Rows a worker is sending are left to it. Rows that waited for their own reasons before the
    outage (a Retry-After, an earlier failure) keep their wait.
    """
    now = timezone.now()
    since = datetime.fromtimestamp(failing_since, UTC) - CLOCK_SKEW
    waiting = Delivery.objects.filter(
        tenant_id=current_tenant_id(),
        destination_id=destination_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__gt=now,
        updated_at__gte=since,
        lease_token__isnull=True,
    )
    first = list(waiting.order_by("next_attempt_at").values_list("pk", flat=True)[:RELAY_CHUNK])
    released = waiting.update(next_attempt_at=now)
    # The first batch goes to a worker now; the relay hands out the rest within seconds, and the
    # worker that made the probe tops its own batches up from the same backlog.
    deliveries_announce(
        deliveries=[(delivery_id, destination_id, DeliveryStatus.PENDING) for delivery_id in first]
    )
    return released
