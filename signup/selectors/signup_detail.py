"""Reads of one sign-up's page: its answers as the form asked them, the evidence of each
consent, and its delivery log.

The delivery log is the outbox's (below signup); destinations are named through crm_sync's
table, as the outbox's routing SQL names it, since signup may not import crm_sync.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils.translation import gettext

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery

from ..definitions import CUSTOM_TYPES, STANDARD_TYPES, text_in_language
from ..models import Consent, Submission
from .access import StoreScope
from .signups import answer_text


def submission_detail(*, submission_id: UUID, scope: StoreScope) -> Submission | None:
    """The sign-up with its store, tablet, form version and consents (with their wording);
    None when there is none of that id in the stores of ``scope``."""
    return (
        scope.narrow(Submission.objects.select_related("location", "device", "form_version__form"))
        .prefetch_related("consents__text")
        .filter(pk=submission_id)
        .first()
    )


@dataclass(frozen=True)
class Answer:
    label: str
    value: str
    custom: bool


def _option_labels(field: dict[str, Any], language: str) -> dict[str, str]:
    return {
        str(option.get("value")): text_in_language(option.get("label"), language)
        or str(option.get("value"))
        for option in field.get("options") or []
        if isinstance(option, dict)
    }


def _standard_value(submission: Submission, kind: str) -> str:
    if kind == "birthday":
        if submission.birthday_month and submission.birthday_day:
            return gettext("%(day)02d/%(month)02d (day/month)") % {
                "day": submission.birthday_day,
                "month": submission.birthday_month,
            }
        return ""
    return str(getattr(submission, kind, "") or "")


def submission_answers(*, submission: Submission, language: str = "en") -> list[Answer]:
    """Every question of the version the shopper saw, with its label there and the answer
    (choices by their labels); then any answer the version no longer names."""
    fields = submission.form_version.definition.get("fields") or []
    answers: dict[str, Any] = submission.answers or {}
    shown: list[Answer] = []
    named: set[str] = set()
    for field in fields:
        if not isinstance(field, dict):
            continue
        kind, key = field.get("type"), str(field.get("key", ""))
        label = text_in_language(field.get("label"), language) or key
        named.add(key)
        if kind in STANDARD_TYPES:
            shown.append(Answer(label, _standard_value(submission, str(kind)), custom=False))
        elif kind in CUSTOM_TYPES:
            value = answers.get(key)
            labels = _option_labels(field, language)
            if isinstance(value, list):
                value = [labels.get(str(item), str(item)) for item in value]
            elif isinstance(value, str) and value in labels:
                value = labels[value]
            shown.append(Answer(label, answer_text(value), custom=True))
    for key, value in sorted(answers.items()):
        if key not in named:
            shown.append(Answer(key, answer_text(value), custom=True))
    return shown


def consents_of(submission: Submission) -> list[Consent]:
    """Its consents, email first (the prefetched rows: no query)."""
    return sorted(submission.consents.all(), key=lambda consent: consent.channel != "email")


@dataclass(frozen=True)
class DeliveryLog:
    delivery: Delivery
    destination: str


def delivery_log(*, submission_id: UUID) -> list[DeliveryLog]:
    """Its deliveries to each CRM, each with its attempts, for this tenant only."""
    deliveries = list(
        Delivery.objects.filter(tenant_id=current_tenant_id(), submission_id=submission_id)
        .prefetch_related("attempt_log")
        .order_by("destination_id")
    )
    if not deliveries:
        return []
    names: dict[int, str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name FROM crm_sync_destination WHERE id = ANY(%s)",
            [[delivery.destination_id for delivery in deliveries]],
        )
        names = dict(cursor.fetchall())
    return [
        DeliveryLog(
            delivery,
            names.get(delivery.destination_id)
            or gettext("Removed destination %(id)s") % {"id": delivery.destination_id},
        )
        for delivery in deliveries
    ]
