"""Billing's answers to what other apps announce."""

import logging
from typing import Any

from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_tenant_id

from .models import BillingAccount

logger = logging.getLogger(__name__)

#: A burst of pairings (a shop setting up five tablets) makes one quantity change.
SEATS_DEBOUNCE_SECONDS = 60


def tablets_changed(sender: Any, **kwargs: Any) -> None:
    """Schedules one seat update for this retailer, a minute after the first change."""
    account_id = (
        BillingAccount.objects.filter(tenant_id=current_tenant_id())
        .values_list("pk", flat=True)
        .first()
    )
    if account_id is None:
        return  # not billed (an operator's shop)
    from .tasks import seats_sync_task  # the services behind it load only when needed

    try:
        if redis_client().set(
            redis_key("billing", "seats", account_id), 1, nx=True, ex=SEATS_DEBOUNCE_SECONDS
        ):
            seats_sync_task.apply_async(
                kwargs={"account_id": account_id}, countdown=SEATS_DEBOUNCE_SECONDS
            )
    except Exception:
        # Pairing must never fail on billing; the hourly sweep makes the change instead.
        logger.warning("seat update not scheduled", exc_info=True)
