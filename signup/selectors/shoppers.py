"""Which shops hold one shopper: the operator's first step in a privacy request.

One read per shop, in that shop's schema. A request comes a few times a month, so a thousand
short queries are fine here, where a hot path would batch them.
"""

from dataclasses import dataclass

from django.db.models import Q
from django_tenants.utils import tenant_context

from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from ..answers import normalise_email
from ..models import RejectedSubmission, Submission


@dataclass(frozen=True)
class ShopHolding:
    slug: str
    name: str
    signups: int
    refused: int


def shops_holding_shopper(*, email: str = "", phone: str = "") -> list[ShopHolding]:
    """Every shop with a sign-up (or a refused one) of ``email``, or of ``phone`` as stored
    (international form, ``+33612345678``); at least one of the two must be given."""
    email, phone = normalise_email(email), phone.strip()
    if not email and not phone:
        raise ValueError("Give an email address or a phone number.")
    signups = Q(email=email) if email else Q()
    if phone:
        signups = (signups | Q(phone=phone)) if email else Q(phone=phone)
    found: list[ShopHolding] = []
    use_public_schema()
    for tenant in Tenant.objects.filter(ready=True).order_by("slug"):
        with tenant_context(tenant):
            count = Submission.objects.filter(signups).count()
            # Refused sign-ups are kept by address only: their phone may be the invalid part.
            refused = RejectedSubmission.objects.filter(email=email).count() if email else 0
        if count or refused:
            found.append(ShopHolding(tenant.slug, tenant.name, count, refused))
    return found
