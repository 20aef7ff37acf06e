"""What a suspended retailer keeps, and what it gets back when it pays.

Suspension never deletes anything and never refuses a shopper: tablets keep capturing and every
sign-up is stored with its outbox rows. CRM sending holds a suspended retailer's deliveries
without spending an attempt (``crm_sync.services.sending``); when the account is paid they are
released here, spread out as a destination's resume spreads them, so the CRM is not flooded.
"""

import logging

from django_tenants.utils import tenant_context

from crm_sync.models import Destination, DestinationState
from crm_sync.services.replay import deliveries_reschedule
from outbox.models import DeliveryStatus
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def deliveries_release(*, tenant: Tenant) -> int:
    """Sends again what waited while the retailer was suspended; returns how many deliveries.

    Deliveries held because their destination is paused stay held: resuming the destination is
    the retailer's decision, not the payment's.
    """
    released = 0
    with tenant_context(tenant):
        for destination in Destination.objects.filter(enabled=True, state=DestinationState.ACTIVE):
            released += deliveries_reschedule(
                destination=destination, statuses=[DeliveryStatus.HELD]
            )
    logger.info("held deliveries released", extra={"tenant": tenant.slug, "count": released})
    return released
