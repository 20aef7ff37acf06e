"""Keys: every tenant's CRM credentials re-encrypted under the newest key (after a rotation)."""

from django.db import transaction
from django_tenants.utils import tenant_context

from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from ..crypto import credentials_rotate
from ..models import Destination


def credentials_rotate_all() -> int:
    """Re-encrypts every destination of every tenant under the newest key; returns how many."""
    use_public_schema()
    count = 0
    for tenant in Tenant.objects.filter(ready=True):
        with tenant_context(tenant), transaction.atomic():
            for destination in Destination.objects.select_for_update().exclude(credentials=""):
                destination.credentials = credentials_rotate(destination.credentials)
                destination.save(update_fields=["credentials", "updated_at"])
                count += 1
    return count
