"""A retailer signs itself up: form, Stripe Checkout, its own shop, signed in on its portal.

Each step can be repeated without making a second anything:

- the form carries a nonce; sending it twice (a double click, the back button) finds the same
  ``TrialSignup`` and the same Checkout;
- the Stripe customer and the Checkout session are created with idempotency keys derived from
  the nonce, so a retried request gets the same objects;
- the shop is made by ``trial_signup_complete``, called both when the retailer comes back from
  Checkout and when Stripe's ``checkout.session.completed`` arrives; the row is locked and a
  completed sign-up returns its tenant, so whichever comes second does nothing.

The address is held against other sign-ups while the retailer is at Checkout, but not against an
operator's ``tenant_create``; a retailer who paid always gets a shop, under the first free
variant of the address if it was taken meanwhile, and is told (``addresses``).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customerinfo.core.errors import FieldErrors, ServiceError
from tenants.errors import TenantError
from tenants.models import Tenant
from tenants.services import slug_check

from ..models import SIGNUPS, TABLETS, BillingAccount, CatalogPrice, TrialSignup, TrialSignupState
from .accounts import account_sync
from .addresses import address_change_tell, shop_make
from .client import stripe_client
from .seats import seats_sync

logger = logging.getLogger(__name__)

#: The signed link that signs a new owner in on their shop's host is good for this long, once.
WELCOME_MAX_AGE = 15 * 60
WELCOME_SALT = "billing.welcome"
#: Checkout sessions expire after a day; a sign-up still waiting then frees its address.
ABANDONED_AFTER = timedelta(hours=25)


#: What the sign-up page says of an address tenants refuses, by its stable code, in the
#: reader's language (tenants' own messages are for operators' commands, in English).
SLUG_REFUSALS = {
    "invalid_slug": gettext_lazy(
        "Use 1 to 40 lowercase letters, digits and hyphens, not starting or ending with one."
    ),
    "reserved_slug": gettext_lazy("The address “%(slug)s” is reserved."),
    "slug_taken": gettext_lazy("The address “%(slug)s” is already taken."),
}


def _taken() -> FieldErrors:
    return {"slug": [{"code": "slug_taken", "message": _("This address is taken.")}]}


def slug_available(*, slug: str) -> str:
    """The address if a new shop may take it; raises ServiceError saying why not."""
    try:
        clean = slug_check(slug=slug)
    except TenantError as error:
        words = SLUG_REFUSALS.get(error.code)
        message = str(words) % {"slug": slug.strip().lower()} if words else error.message
        raise ServiceError(
            error.code, message, fields={"slug": [{"code": error.code, "message": message}]}
        ) from error
    if TrialSignup.objects.filter(slug=clean, state=TrialSignupState.CHECKOUT).exists():
        raise ServiceError(
            "slug_taken",
            _("The address “%(slug)s” is being taken by a shop signing up right now.")
            % {"slug": clean},
            fields=_taken(),
        )
    return clean


def _checks(*, shop_name: str, owner_email: str, password: str) -> FieldErrors:
    fields: FieldErrors = {}
    if not shop_name.strip():
        fields["shop_name"] = [{"code": "required", "message": _("Give your shop's name.")}]
    try:
        validate_email(owner_email)
    except ValidationError:
        fields["owner_email"] = [{"code": "invalid", "message": _("Enter a valid email address.")}]
    if len(password) < 10:
        fields["password"] = [
            {"code": "too_short", "message": _("Use at least 10 characters for your password.")}
        ]
    return fields


def trial_signup_start(
    *,
    nonce: str,
    shop_name: str,
    slug: str,
    owner_email: str,
    password: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """Records the sign-up and opens its Checkout; returns the Checkout page's URL."""
    existing = TrialSignup.objects.filter(nonce=nonce).first()
    if existing is None:
        existing = _signup_create(
            nonce=nonce, shop_name=shop_name, slug=slug, owner_email=owner_email, password=password
        )
    if existing.state == TrialSignupState.PROVISIONED:
        raise ServiceError("already_done", _("This shop is already set up; sign in to it."))
    return _checkout(existing, success_url=success_url, cancel_url=cancel_url)


def _signup_create(
    *, nonce: str, shop_name: str, slug: str, owner_email: str, password: str
) -> TrialSignup:
    fields = _checks(shop_name=shop_name, owner_email=owner_email, password=password)
    try:
        clean_slug = slug_available(slug=slug)
    except ServiceError as error:
        fields.update(error.fields)
    if fields:
        raise ServiceError("validation_failed", _("Some fields need another look."), fields=fields)
    try:
        with transaction.atomic():
            return TrialSignup.objects.create(
                nonce=nonce,
                shop_name=shop_name.strip(),
                slug=clean_slug,
                owner_email=owner_email.strip().lower(),
                owner_password_hash=make_password(password),
            )
    except IntegrityError:
        # The same nonce from a parallel click, or the address taken a moment ago.
        found = TrialSignup.objects.filter(nonce=nonce).first()
        if found is not None:
            return found
        raise ServiceError(
            "slug_taken",
            _("This address was just taken; choose another."),
            fields=_taken(),
        ) from None


def _checkout(signup: TrialSignup, *, success_url: str, cancel_url: str) -> str:
    client = stripe_client()
    prices = {price.lookup_key: price for price in CatalogPrice.objects.all()}
    if TABLETS not in prices or SIGNUPS not in prices:
        raise ServiceError(
            "billing_unavailable",
            _("Sign-up is not open right now; please try again later."),
            status_code=503,
        )
    if not signup.stripe_customer_id:
        customer = client.v1.customers.create(
            params={
                "email": signup.owner_email,
                "name": signup.shop_name,
                "metadata": {"trial_signup": str(signup.pk), "slug": signup.slug},
            },
            options={"idempotency_key": f"trial-{signup.nonce}-customer"},
        )
        signup.stripe_customer_id = customer.id
        signup.save(update_fields=["stripe_customer_id"])
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "customer": signup.stripe_customer_id,
            "client_reference_id": str(signup.pk),
            "line_items": [
                {"price": prices[TABLETS].stripe_price_id, "quantity": 1},
                {"price": prices[SIGNUPS].stripe_price_id},
            ],
            "subscription_data": {
                "trial_period_days": settings.BILLING_TRIAL_DAYS,
                # No card needed to try it; a trial that ends without one pauses, and paying
                # later resumes it.
                "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
                "metadata": {"trial_signup": str(signup.pk), "slug": signup.slug},
            },
            "payment_method_collection": "if_required",
            "billing_address_collection": "required",
            "customer_update": {"address": "auto", "name": "auto"},
            "automatic_tax": {"enabled": True},
            "metadata": {"trial_signup": str(signup.pk)},
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
        options={"idempotency_key": f"trial-{signup.nonce}-checkout"},
    )
    if signup.checkout_session_id != session.id:
        signup.checkout_session_id = session.id
        signup.save(update_fields=["checkout_session_id"])
    if not session.url:
        raise ServiceError("billing_unavailable", _("Checkout did not open."), status_code=502)
    return session.url


def trial_signup_complete(*, session_id: str) -> Tenant | None:
    """Makes the shop of a completed Checkout, once; None if the session is not ours or not done."""
    if not session_id:
        return None
    session = stripe_client().v1.checkout.sessions.retrieve(session_id)
    if session.status != "complete":
        return None
    with transaction.atomic():
        signup = (
            TrialSignup.objects.select_for_update().filter(checkout_session_id=session_id).first()
        )
        if signup is None:
            return None
        if signup.tenant_id is not None:
            return signup.tenant
        tenant = shop_make(signup=signup)
        subscription = session.subscription
        account = BillingAccount.objects.create(
            tenant=tenant,
            stripe_customer_id=signup.stripe_customer_id,
            stripe_subscription_id=(
                subscription if isinstance(subscription, str) else getattr(subscription, "id", "")
            )
            or "",
        )
        signup.tenant = tenant
        signup.state = TrialSignupState.PROVISIONED
        signup.owner_password_hash = ""  # the owner's account holds it now
        signup.save(
            update_fields=["tenant", "state", "owner_password_hash", "slug", "requested_slug"]
        )
        if signup.requested_slug:
            transaction.on_commit(lambda: address_change_tell(signup=signup))
    account = account_sync(account=account)
    # Checkout bills one tablet (a licensed line needs a quantity); the new shop has none yet.
    seats_sync(account=account)
    logger.info("self-serve shop created", extra={"tenant": tenant.slug})
    return tenant


def welcome_token(*, tenant: Tenant) -> str:
    """A link for the owner's first visit: signed, short-lived, usable once (``welcome_use``)."""
    return signing.dumps({"tenant": tenant.pk}, salt=WELCOME_SALT)


def welcome_use(*, token: str, tenant: Tenant) -> str:
    """The owner's email if ``token`` is a fresh welcome to ``tenant``; marks it used."""
    try:
        data = signing.loads(token, salt=WELCOME_SALT, max_age=WELCOME_MAX_AGE)
    except signing.BadSignature as error:
        raise ServiceError("invalid_link", _("This link has expired; sign in instead.")) from error
    if data.get("tenant") != tenant.pk:
        raise ServiceError("invalid_link", _("This link is for another shop."))
    used = TrialSignup.objects.filter(
        tenant=tenant, state=TrialSignupState.PROVISIONED, welcomed_at__isnull=True
    ).update(welcomed_at=timezone.now())
    if not used:
        raise ServiceError("invalid_link", _("This link was used already; sign in instead."))
    return tenant.owner_email


def trial_signups_expire(*, now: datetime | None = None) -> int:
    """Frees the addresses of sign-ups that never came back from Checkout."""
    now = now or timezone.now()
    return TrialSignup.objects.filter(
        state=TrialSignupState.CHECKOUT, created_at__lt=now - ABANDONED_AFTER
    ).update(state=TrialSignupState.ABANDONED)
