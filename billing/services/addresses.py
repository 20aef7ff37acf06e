"""The address of a self-serve shop, when someone took it while the retailer was at Checkout.

``TrialSignup`` holds the address against other sign-ups, but an operator's ``tenant_create``
knows nothing of billing (tenants sits below it) and can take it meanwhile. By then the retailer
has started a subscription: refusing the shop would leave them paying for nothing, and failing
the request would only make every retry fail the same way. So the shop is made under the first
free variant of the address (``bakery-2``), and the owner is told where it is: on the page they
land on, and by email, since the webhook may make the shop while nobody is looking.
"""

import logging
import secrets
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from stripe import StripeError

from customerinfo.core.errors import ServiceError
from tenants.errors import TenantError
from tenants.models import Tenant
from tenants.services import tenant_create

from ..models import TrialSignup, TrialSignupState
from .client import stripe_client

logger = logging.getLogger(__name__)

#: ``bakery-2`` … ``bakery-9`` read as the same shop's address; past those, random suffixes.
NUMBERED_VARIANTS = range(2, 10)
RANDOM_VARIANTS = 5
SLUG_MAX_LENGTH = 40
#: Why an address cannot be used, that another address cures (not: an invalid shop name).
_TAKEN = frozenset({"slug_taken", "reserved_slug"})


def address_variants(slug: str) -> Iterator[str]:
    """The address asked for, then free-looking variants of it, each a valid address."""
    yield slug
    suffixes = [f"-{number}" for number in NUMBERED_VARIANTS]
    suffixes += [f"-{secrets.token_hex(4)}" for _ in range(RANDOM_VARIANTS)]
    for suffix in suffixes:
        yield slug[: SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix


def _held_by_another(slug: str, signup: TrialSignup) -> bool:
    """Whether another retailer is at Checkout with this address (it is theirs to take)."""
    return (
        TrialSignup.objects.filter(slug=slug, state=TrialSignupState.CHECKOUT)
        .exclude(pk=signup.pk)
        .exists()
    )


def shop_make(*, signup: TrialSignup) -> Tenant:
    """Makes (and provisions) the sign-up's shop under its address or the first free variant;
    a variant is recorded on ``signup`` (``slug``, with ``requested_slug`` the one asked for),
    which the caller saves. Runs inside the caller's transaction, each attempt in a savepoint."""
    requested = signup.slug
    for slug in address_variants(requested):
        if slug != requested and _held_by_another(slug, signup):
            continue
        try:
            with transaction.atomic():
                tenant = tenant_create(
                    name=signup.shop_name,
                    slug=slug,
                    owner_email=signup.owner_email,
                    owner_password_hash=signup.owner_password_hash,
                    provision_now=True,
                )
        except TenantError as error:
            if error.code not in _TAKEN:
                raise
            continue
        except (IntegrityError, ValidationError):
            # Taken between the check and the insert, by someone as quick as us: the unique
            # index says so, or django-tenants' own check of the schema name just before it.
            continue
        if slug != requested:
            signup.slug, signup.requested_slug = slug, requested
            logger.warning(
                "self-serve shop made under another address",
                extra={"requested": requested, "slug": slug, "trial_signup": signup.pk},
            )
        return tenant
    # Every variant taken, random ones included: not a race any more. The sign-up stays at
    # Checkout and every retry (the return page, the webhook's task and its sweep) tries again;
    # logged, not mailed, since the sweep retries every few minutes.
    logger.error(
        "self-serve shop not made: every variant of its address is taken",
        extra={"requested": requested, "trial_signup": signup.pk},
    )
    raise ServiceError(
        "address_unavailable",
        _(
            "Your payment is safe, but we could not set up your shop's address. We are on it "
            "and will email you as soon as your shop is ready."
        ),
        status_code=503,
    )


def address_change_tell(*, signup: TrialSignup) -> None:
    """After the shop was made under a variant: the owner, the operator and Stripe's customer
    learn the address. Each is best effort: the shop exists, and the page the owner lands on
    says it too."""
    domain = settings.BASE_DOMAIN
    try:
        # In the language active now: the retailer's own when they come back from Checkout;
        # the site's default when Stripe's webhook makes the shop first.
        values = {
            "address": f"{signup.slug}.{domain}",
            "requested": f"{signup.requested_slug}.{domain}",
            "shop": signup.shop_name,
        }
        body = _(
            "Hello,\n\nYour shop %(shop)s is ready. The address you chose, %(requested)s, was "
            "taken by someone else while you were at Checkout, so your shop's address is:\n\n"
            "    %(address)s\n\nSign in there with the email and password you chose. Nothing "
            "else changes: your trial and your subscription are the same.\n\nCustomerInfo\n"
        )
        send_mail(
            _("Your CustomerInfo shop is at %(address)s") % values,
            body % values,
            None,
            [signup.owner_email],
        )
    except Exception:
        logger.exception("address change not mailed", extra={"trial_signup": signup.pk})
    _operators_mail(
        f"Self-serve sign-up {signup.pk} asked for {signup.requested_slug!r}, which was taken "
        f"while the retailer was at Checkout; the shop was made as {signup.slug!r} and the "
        f"owner ({signup.owner_email}) was told by email."
    )
    if not signup.stripe_customer_id:
        return
    try:
        # The dashboard's search by address must find this customer under its shop's address.
        stripe_client().v1.customers.update(
            signup.stripe_customer_id,
            params={"metadata": {"slug": signup.slug}},
            options={"idempotency_key": f"trial-{signup.nonce}-address-{signup.slug}"},
        )
    except StripeError:
        logger.warning("stripe customer keeps the old address", exc_info=True)


def _operators_mail(message: str) -> None:
    if not settings.OPERATOR_EMAILS:
        return
    try:
        send_mail(
            "CustomerInfo billing: a self-serve shop's address",
            message,
            None,
            settings.OPERATOR_EMAILS,
        )
    except Exception:
        logger.exception("operator not mailed")
