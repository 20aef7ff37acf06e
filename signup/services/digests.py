"""The weekly digest: Monday morning, each member who chose it gets last week's sign-ups per
store against the week before, opt-in rates, the tablets needing attention and the CRM
deliveries that failed, as plain text and HTML, with links to the portal.

Figures come from SignupDay (kept by triggers), the tablets' own reports and the outbox's
undelivered rows: the digest reads no sign-up. Weeks are Monday to Sunday of each store's own
calendar, as the dashboard counts days. A ``PeriodicMail`` row per member and week, taken
before the mail is sent, makes a repeated run send nothing twice.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_stubs_ext import StrOrPromise

from customerinfo.core.accounts.models import User
from customerinfo.core.i18n import in_language_of
from customerinfo.core.tenancy import current_tenant, current_tenant_id
from outbox.models import Delivery, DeliveryStatus

from ..models import Device, PeriodicMail, PeriodicMailKind, SignupDay
from ..selectors import notifications as selectors
from ..selectors.access import StoreScope, store_scopes
from .notifications import mail_send, portal_origin


@dataclass
class StoreWeek:
    name: StrOrPromise
    signups: int = 0
    previous: int = 0
    email_opt_ins: int = 0
    sms_opt_ins: int = 0

    @property
    def change(self) -> int:
        return self.signups - self.previous

    @property
    def email_rate(self) -> float | None:
        """Share of the week's sign-ups who opted in to email marketing, in percent."""
        return 100 * self.email_opt_ins / self.signups if self.signups else None

    @property
    def sms_rate(self) -> float | None:
        return 100 * self.sms_opt_ins / self.signups if self.signups else None


@dataclass
class Digest:
    period: selectors.Period
    stores: list[StoreWeek]
    total: StoreWeek
    #: "Till 1 (Paris): offline, 4 unsent", worded in each reader's language as it renders.
    tablets: list[str] = field(default_factory=list)
    deliveries_failed: int = 0
    deliveries_held: int = 0
    #: Whether the CRM deliveries are told: they are every store's, so not to staff limited
    #: to some.
    crm: bool = True


def digest_figures(*, now: datetime, scope: StoreScope) -> Digest:
    """Last week's figures of the shop whose schema the connection uses, for the stores of
    ``scope``."""
    period = selectors.last_week(now=now, zone=selectors.shop_zone())
    before = period.first - timedelta(days=7)
    stores = {
        location.pk: StoreWeek(location.name) for location in scope.stores().order_by("name", "pk")
    }
    rows = (
        scope.narrow(SignupDay.objects.filter(day__gte=before, day__lte=period.last))
        .values("location_id", "day")
        .annotate(signups=Sum("signups"), email=Sum("email_opt_ins"), sms=Sum("sms_opt_ins"))
        .order_by()
    )
    for row in rows:
        store = stores.get(row["location_id"])
        if store is None:
            continue
        if row["day"] >= period.first:
            store.signups += row["signups"]
            store.email_opt_ins += row["email"]
            store.sms_opt_ins += row["sms"]
        else:
            store.previous += row["signups"]
    shown = [store for store in stores.values() if store.signups or store.previous]
    # One digest goes to members of several languages: the words wait for each one's mail.
    total = StoreWeek(gettext_lazy("Your stores") if scope.limited else gettext_lazy("All stores"))
    for store in shown:
        total.signups += store.signups
        total.previous += store.previous
        total.email_opt_ins += store.email_opt_ins
        total.sms_opt_ins += store.sms_opt_ins
    tablets = []
    paired = scope.narrow(Device.objects.filter(revoked_at__isnull=True))
    for device in paired.select_related("location"):
        offline = device.last_seen_at is None or (
            now - device.last_seen_at > selectors.OFFLINE_AFTER
        )
        if offline or device.queue_depth:
            tablets.append((device.name, device.location.name, offline, device.queue_depth))
    digest = Digest(
        period=period,
        stores=shown,
        total=total,
        tablets=[tablet_line(*tablet) for tablet in sorted(tablets)],
    )
    if scope.limited:
        digest.crm = False
        return digest
    deliveries = Delivery.objects.filter(tenant_id=current_tenant_id())
    digest.deliveries_failed = deliveries.filter(
        status=DeliveryStatus.DEAD, updated_at__gte=period.start, updated_at__lt=period.end
    ).count()
    digest.deliveries_held = deliveries.filter(status=DeliveryStatus.HELD).count()
    return digest


def _tablet_line(name: str, store: str, offline: bool, unsent: int) -> str:
    words = [_("offline")] if offline else []
    if unsent:
        words.append(ngettext("%(count)s unsent", "%(count)s unsent", unsent) % {"count": unsent})
    return _("%(tablet)s (%(store)s): %(state)s") % {
        "tablet": name,
        "store": store,
        "state": ", ".join(words),
    }


#: Worded when a mail renders it, in its reader's language.
tablet_line = lazy(_tablet_line, str)


def _claim(kind: str, user_id: int, period_start: date) -> PeriodicMail | None:
    try:
        with transaction.atomic():
            return PeriodicMail.objects.create(
                kind=kind, user_id=user_id, period_start=period_start
            )
    except IntegrityError:
        return None


def digests_send(*, now: datetime | None = None) -> int:
    """Mails last week's digest to each member who chose it and has not had it; returns how
    many were sent. Once a member's week is claimed it is not sent again, even if the mail
    server refused it: a digest a day late is worth less than a digest twice."""
    now = now or timezone.now()
    members = selectors.recipients(choice="weekly_digest")
    if not members:
        return 0
    scopes = store_scopes(member for member, _ in members)
    # One digest per set of stores: the whole shop's, and one per distinct staff limit.
    digests: dict[StoreScope, Digest] = {}
    shop = str(getattr(current_tenant(), "name", ""))
    sent = 0
    for member, preference in members:
        scope = scopes[member.pk]
        if scope not in digests:
            digests[scope] = digest_figures(now=now, scope=scope)
        digest = digests[scope]
        if _claim(PeriodicMailKind.DIGEST, member.pk, digest.period.first) is None:
            continue
        origin = portal_origin(preference)
        with in_language_of(member):  # the member's own language, dates and numbers too
            sent += _digest_mail(member=member, digest=digest, shop=shop, origin=origin)
    return sent


def _digest_mail(*, member: User, digest: Digest, shop: str, origin: str) -> bool:
    return mail_send(
        to=member.email,
        subject=_("%(shop)s: your week of %(first)s to %(last)s")
        % {
            "shop": shop,
            "first": date_format(digest.period.first, "MONTH_DAY_FORMAT"),
            "last": date_format(digest.period.last, "MONTH_DAY_FORMAT"),
        },
        template="signup/email/digest",
        html=True,
        context={
            "digest": digest,
            "shop": shop,
            "home_link": f"{origin}{reverse('portal-home')}",
            "tablets_link": f"{origin}{reverse('portal-devices')}",
            "crm_link": f"{origin}{reverse('crm-destinations')}",
            "settings_link": f"{origin}{reverse('portal-notifications')}",
        },
    )
