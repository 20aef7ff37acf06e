"""Retailer alerts: a tablet offline with sign-ups unsent, a CRM destination paused.

Each condition is an ``AlertEpisode``: opened (and mailed, once) when the check first finds it,
closed (with a "back to normal" mail) when it is gone. The open episode's unique key is what
keeps a check every ten minutes, or two checks at once, from mailing the same thing again.
Mail is sent after the episode is committed and outside any transaction, so a slow mail server
holds no lock and a mail failure never undoes the episode.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.i18n import in_language_of
from customerinfo.core.tenancy import current_tenant

from ..models import AlertEpisode, AlertKind, Device, ExportSchedule, NotificationPreference
from ..selectors import notifications as selectors
from ..selectors.access import store_scopes

logger = logging.getLogger(__name__)


def preferences_save(
    *,
    user: User,
    tablet_offline: bool,
    destination_paused: bool,
    weekly_digest: bool,
    export_schedule: str,
    export_filters: dict[str, str],
    portal_origin: str,
) -> NotificationPreference:
    """Stores the user's choices; the origin they used is where their mailed links point."""
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "tablet_offline": tablet_offline,
            "destination_paused": destination_paused,
            "weekly_digest": weekly_digest,
            "export_schedule": ExportSchedule(export_schedule),
            "export_filters": export_filters,
            "portal_origin": portal_origin,
        },
    )
    return preference


def portal_origin(preference: NotificationPreference) -> str:
    """Where the user's links point: the host they saved their choices on, else the shop's."""
    if preference.portal_origin:
        return preference.portal_origin
    tenant: Any = current_tenant()
    return f"https://{tenant.get_primary_domain()}"


def mail_send(
    *, to: str, subject: str, template: str, context: dict[str, Any], html: bool = False
) -> bool:
    """One mail, plain text (and HTML when ``html``); False when the server refused it."""
    message = EmailMultiAlternatives(
        subject, render_to_string(f"{template}.txt", context), settings.DEFAULT_FROM_EMAIL, [to]
    )
    if html:
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    try:
        message.send()
    except Exception:
        # The episode or digest is recorded; one member's unreachable mailbox stops no other.
        logger.exception("notification mail not sent", extra={"template": template})
        return False
    return True


def _unsent_detail(unsent: int, hours: int) -> str:
    return ngettext(
        "%(unsent)s sign-up unsent, the oldest for %(hours)s h",
        "%(unsent)s sign-ups unsent, the oldest for %(hours)s h",
        unsent,
    ) % {"unsent": unsent, "hours": hours}


#: Worded when a mail renders it, in its recipient's language, not the check's.
unsent_detail = lazy(_unsent_detail, str)


@dataclass(frozen=True)
class AlertChange:
    episode: AlertEpisode
    opened: bool
    #: What the mail says of the subject: "4 sign-ups unsent, the oldest for 3 h".
    detail: str


def _choice(kind: str) -> str:
    return "tablet_offline" if kind == AlertKind.TABLET_OFFLINE else "destination_paused"


def _link(kind: str) -> str:
    # The CRM page is crm_sync's; its URL name is all this app knows of it.
    return reverse("portal-devices" if kind == AlertKind.TABLET_OFFLINE else "crm-destinations")


def _open(kind: str, subject_id: int, name: str, now: datetime) -> AlertEpisode | None:
    try:
        with transaction.atomic():
            return AlertEpisode.objects.create(
                kind=kind, subject_id=subject_id, subject_name=name[:200], opened_at=now
            )
    except IntegrityError:
        return None  # another check opened it a moment ago, and mails it


def alerts_check(*, now: datetime | None = None) -> list[AlertChange]:
    """Opens an episode for every condition without one and closes those whose condition is
    gone, then mails the members who chose that alert; returns what changed."""
    now = now or timezone.now()
    conditions: dict[tuple[str, int], tuple[str, str]] = {}
    for device in selectors.tablets_needing_alert(now=now):
        oldest = device.oldest_unsent_at
        hours = int((now - oldest).total_seconds() // 3600) if oldest else 0
        conditions[(AlertKind.TABLET_OFFLINE, device.pk)] = (
            f"{device.name} ({device.location.name})",
            unsent_detail(device.queue_depth, hours),
        )
    for destination_id, name in selectors.destinations_paused():
        conditions[(AlertKind.DESTINATION_PAUSED, destination_id)] = (name, "")
    open_now = selectors.episodes_open()
    changes: list[AlertChange] = []
    for (kind, subject_id), (name, detail) in conditions.items():
        if (kind, subject_id) not in open_now:
            episode = _open(kind, subject_id, name, now)
            if episode is not None:
                changes.append(AlertChange(episode, opened=True, detail=detail))
    for key, episode in open_now.items():
        if key not in conditions:
            closed = AlertEpisode.objects.filter(pk=episode.pk, closed_at__isnull=True).update(
                closed_at=now
            )
            if closed:  # else another check closed it, and mails it
                changes.append(AlertChange(episode, opened=False, detail=""))
    for change in changes:
        sent = _alert_mail(change)
        if change.opened:
            AlertEpisode.objects.filter(pk=change.episode.pk).update(recipients=sent)
    return changes


def _alert_mail(change: AlertChange) -> int:
    episode = change.episode
    kind = episode.kind
    members = selectors.recipients(choice=_choice(kind))
    if kind == AlertKind.DESTINATION_PAUSED and change.opened:
        # crm_sync mails the owners who chose this alert the moment a CRM refuses us; the same
        # news twice is noise.
        members = [(member, choice) for member, choice in members if member.role != Role.OWNER]
    if kind == AlertKind.TABLET_OFFLINE:
        # Staff limited to stores hear only of their stores' tablets.
        store_id = (
            Device.objects.filter(pk=episode.subject_id).values_list("location_id", flat=True)
        ).first()
        scopes = store_scopes(member for member, _ in members)
        members = [pair for pair in members if scopes[pair[0].pk].allows(store_id)]
    shop = str(getattr(current_tenant(), "name", ""))
    name = episode.subject_name
    sent = 0
    for member, preference in members:
        # In the member's own language (their portal's), whoever else gets the same alert.
        with in_language_of(member):
            sent += mail_send(
                to=member.email,
                subject=_alert_subject(kind, opened=change.opened, shop=shop, name=name),
                template="signup/email/alert",
                context={
                    "episode": episode,
                    "opened": change.opened,
                    "tablet": kind == AlertKind.TABLET_OFFLINE,
                    "detail": change.detail,
                    "shop": shop,
                    "link": f"{portal_origin(preference)}{_link(kind)}",
                    "settings_link": (
                        f"{portal_origin(preference)}{reverse('portal-notifications')}"
                    ),
                },
            )
    return sent


def _alert_subject(kind: str, *, opened: bool, shop: str, name: str) -> str:
    """The subject, in the language active now: each member's own."""
    values = {"shop": shop, "name": name}
    if kind == AlertKind.TABLET_OFFLINE:
        if opened:
            return _("%(shop)s: tablet %(name)s is offline with sign-ups unsent") % values
        return _("%(shop)s: tablet %(name)s is back to normal") % values
    if opened:
        return _("%(shop)s: sign-ups to %(name)s are on hold") % values
    return _("%(shop)s: %(name)s is sending again") % values
