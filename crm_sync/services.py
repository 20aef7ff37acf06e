"""Writes of CRM sync: destinations, the outbox, sending, relay and replay. Keyword-only.

The database is the record and Celery messages are only hints. A sign-up's deliveries are
written by the same statement as the sign-up (``OUTBOX_CTE``); after commit a fast-path task is
enqueued, and the relay hands out every due row whose lease has run out, so a lost message, a
flushed Redis or a killed worker delays a delivery but never loses it.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_tenant_id, use_public_schema
from signup.models import Form, Location, Submission
from tenants.models import Tenant

from . import limits
from .contacts import contact_build
from .crypto import credentials_decrypt, credentials_encrypt
from .endpoints import settings_normalise
from .failures import contacts_send, probe
from .http import http_client
from .models import Destination, DestinationKind, DestinationState
from .outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from .outbox.services import lease_until, wake_clear
from .providers import PROVIDERS, Provider, Result, Verdict, provider_class
from .providers.webhook import secret_generate
from .schedule import MAX_ATTEMPTS, retry_delay

logger = logging.getLogger(__name__)

#: A worker sleeps for the rate limit only this long; a longer wait goes back to the outbox.
MAX_RATE_WAIT_SECONDS = 1.0
#: How many rows the relay hands out per run, and per task.
RELAY_BATCH = 2000
RELAY_CHUNK = 100
#: A replay or a resume spreads its deliveries at this share of the provider's rate limit.
REPLAY_SHARE = 0.5
REPLAY_THROTTLE_SECONDS = 30
#: How long the previous webhook secret keeps signing after a rotation.
SECRET_ROTATION_GRACE = timedelta(hours=24)
SYSTEM = "system:crm"


def _scope(destination: Destination) -> str:
    """Redis scope of one destination's rate limit, breaker and cooldown."""
    tenant_id = current_tenant_id()
    return limits.destination_scope(tenant_id=tenant_id, destination_id=destination.pk)


# --- destinations ------------------------------------------------------------------------------


def _destination_check(
    *, kind: str, name: str, settings_: dict[str, Any], credentials: dict[str, Any]
) -> dict[str, Any]:
    """The settings to store (every URL normalised), or ServiceError naming each bad field."""
    if kind not in DestinationKind.values or kind not in PROVIDERS:
        raise ServiceError(
            "validation_failed",
            "Unknown kind of destination.",
            fields={"kind": [{"code": "invalid", "message": "Choose one of the listed CRMs."}]},
        )
    cls = provider_class(kind)
    settings_, url_errors = settings_normalise(settings_, cls.url_settings)
    errors = cls.configuration_errors(settings=settings_, credentials=credentials)
    errors.update(url_errors)
    if not name.strip():
        errors["name"] = [{"code": "required", "message": "Give the destination a name."}]
    if errors:
        raise ServiceError("validation_failed", "The destination is not complete.", fields=errors)
    return settings_


def destination_view(destination: Destination) -> dict[str, Any]:
    """What the audit log keeps of a destination: everything but its secrets."""
    return {
        "name": destination.name,
        "kind": destination.kind,
        "settings": destination.settings,
        "field_mapping": destination.field_mapping,
        "enabled": destination.enabled,
        "state": destination.state,
        "forms": sorted(destination.forms.values_list("pk", flat=True)),
        "locations": sorted(destination.locations.values_list("pk", flat=True)),
    }


def _mapping_check(field_mapping: dict[str, Any]) -> None:
    bad = [
        key
        for key, value in field_mapping.items()
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip()
    ]
    if bad:
        raise ServiceError(
            "validation_failed",
            "Each mapped form field needs a CRM property name.",
            fields={"field_mapping": [{"code": "invalid", "message": ", ".join(map(str, bad))}]},
        )


@transaction.atomic
def destination_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    settings: dict[str, Any],
    credentials: dict[str, Any],
    field_mapping: dict[str, str] | None = None,
    forms: Iterable[Form] = (),
    locations: Iterable[Location] = (),
    enabled: bool = True,
) -> Destination:
    field_mapping = field_mapping or {}
    settings = _destination_check(kind=kind, name=name, settings_=settings, credentials=credentials)
    _mapping_check(field_mapping)
    destination = Destination.objects.create(
        name=name.strip(),
        kind=kind,
        settings=settings,
        credentials=credentials_encrypt(credentials),
        field_mapping=field_mapping,
        enabled=enabled,
    )
    destination.forms.set(forms)
    destination.locations.set(locations)
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_CREATE,
        target=destination,
        new=destination_view(destination),
    )
    return destination


@transaction.atomic
def destination_update(
    *,
    actor: User | None,
    destination: Destination,
    name: str,
    settings: dict[str, Any],
    credentials: dict[str, Any],
    field_mapping: dict[str, str],
    forms: Iterable[Form],
    locations: Iterable[Location],
    enabled: bool,
) -> Destination:
    """Credentials left empty keep their stored value: secrets are never shown back to edit."""
    old = destination_view(destination)
    stored = credentials_decrypt(destination.credentials)
    merged = {**stored, **{key: value for key, value in credentials.items() if value}}
    settings = _destination_check(
        kind=destination.kind, name=name, settings_=settings, credentials=merged
    )
    _mapping_check(field_mapping)
    destination.name = name.strip()
    destination.settings = settings
    destination.credentials = credentials_encrypt(merged)
    destination.field_mapping = field_mapping
    destination.enabled = enabled
    destination.save()
    destination.forms.set(forms)
    destination.locations.set(locations)
    new = destination_view(destination)
    if merged != stored:
        new["credentials"] = "changed"
    audit_record(
        actor=actor, action=AuditAction.DESTINATION_UPDATE, target=destination, old=old, new=new
    )
    return destination


def destination_provider(*, destination: Destination, client: Any = None) -> Provider:
    cls = provider_class(destination.kind)
    return cls(
        settings=destination.settings,
        credentials=credentials_decrypt(destination.credentials),
        client=client or http_client(),
    )


def destination_test(*, actor: User | None, destination: Destination) -> Result:
    """The portal's "test connection": one harmless authenticated call, its answer shown as is.

    Whatever the destination holds (a URL saved before URLs were checked, say), the answer is a
    Result with a reason, never an exception: ``probe`` is the same boundary deliveries use.
    """
    with http_client() as client:
        result = probe(
            lambda: destination_provider(destination=destination, client=client).test_connection()
        )
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_TEST,
        target=destination,
        new={"verdict": result.verdict.value, "status_code": result.status_code},
    )
    return result


@transaction.atomic
def webhook_secret_rotate(*, actor: User | None, destination: Destination) -> str:
    """A new signing secret; the old one keeps signing too for a day, so receivers can switch."""
    if destination.kind != DestinationKind.WEBHOOK:
        raise ServiceError("not_a_webhook", "Only webhook destinations have a signing secret.")
    credentials = credentials_decrypt(destination.credentials)
    secret = secret_generate()
    credentials["previous_secret"] = credentials.get("secret", "")
    credentials["previous_valid_until"] = time.time() + SECRET_ROTATION_GRACE.total_seconds()
    credentials["secret"] = secret
    destination.credentials = credentials_encrypt(credentials)
    destination.save(update_fields=["credentials", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_ROTATE_SECRET,
        target=destination,
        new={"rotated": True},
    )
    return secret


def _owners_alert(*, destination: Destination, reason: str) -> None:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    recipients = list(
        User.objects.filter(role=Role.OWNER, is_active=True).values_list("email", flat=True)
    )
    if not recipients:
        return
    subject = f"CustomerInfo: sign-ups to {destination.name} are on hold"
    body = (
        f"Sign-ups of {tenant.name} can no longer be delivered to {destination.name} "
        f"({destination.get_kind_display()}), so we paused it and are keeping every sign-up "
        f"safe until it is fixed.\n\nWhat the CRM said: {reason}\n\n"
        "Fix the credentials or the list in the CRM settings of your portal, then press Resume: "
        "the held sign-ups will be sent again, gradually."
    )

    def deliver_mail() -> None:
        try:
            send_mail(subject, body, None, recipients)
        except Exception:
            # The pause is already recorded and shown in the portal; a mail failure must not
            # undo it or make the worker retry the delivery.
            logger.exception("could not send the paused-destination alert")

    transaction.on_commit(deliver_mail)


@transaction.atomic
def destination_pause(
    *, destination: Destination, reason: str, disable: bool = False, actor: User | None = None
) -> None:
    """Stops sending and holds the destination's deliveries without spending their attempts."""
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    if destination.state == DestinationState.PAUSED and not disable:
        return
    old = {"state": destination.state, "enabled": destination.enabled}
    destination.state = DestinationState.PAUSED
    destination.paused_reason = reason
    destination.paused_at = timezone.now()
    if disable:
        destination.enabled = False
    destination.save()
    Delivery.objects.filter(
        tenant_id=current_tenant_id(),
        destination_id=destination.pk,
        status=DeliveryStatus.PENDING,
    ).update(status=DeliveryStatus.HELD, lease_expires_at=None, updated_at=timezone.now())
    audit_record(
        actor=actor,
        actor_label="" if actor else SYSTEM,
        action=AuditAction.DESTINATION_PAUSE,
        target=destination,
        old=old,
        new={"state": destination.state, "enabled": destination.enabled, "reason": reason},
    )
    if actor is None:
        _owners_alert(destination=destination, reason=reason)


@transaction.atomic
def destination_resume(*, actor: User | None, destination: Destination) -> int:
    """Active again; its held deliveries are replayed gradually. Returns how many."""
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    old = {"state": destination.state, "enabled": destination.enabled}
    destination.state = DestinationState.ACTIVE
    destination.paused_reason = ""
    destination.paused_at = None
    destination.enabled = True
    destination.save()
    limits.breaker_record(scope=_scope(destination), success=True)
    count = _replay(destination=destination, statuses=[DeliveryStatus.HELD])
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_RESUME,
        target=destination,
        old=old,
        new={"state": destination.state, "replayed": count},
    )
    return count


# --- sending -----------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What one run of ``deliveries_send`` did, by outcome."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, outcome: str, count: int = 1) -> None:
        self.counts[outcome] += count

    def troubles(self) -> int:
        """Rows that did not go through: retried, skipped by the breaker, or deferred."""
        return sum(
            self.counts.get(outcome, 0)
            for outcome in (AttemptOutcome.RETRY, AttemptOutcome.SKIPPED, "deferred")
        )


def _settle(
    *,
    row: Delivery,
    outcome: str,
    result: Result,
    now: datetime,
    started: datetime,
    duration_ms: int,
) -> DeliveryAttempt:
    """Moves one delivery on after an attempt and returns the attempt's log row."""
    spends_attempt = outcome != AttemptOutcome.BROKEN
    number = row.attempts + 1
    if spends_attempt:
        row.attempts = number
    row.last_status_code = result.status_code
    row.last_error = result.message[:2000]
    row.lease_expires_at = None
    row.updated_at = now
    if outcome == AttemptOutcome.DELIVERED:
        row.status = DeliveryStatus.DELIVERED
        row.delivered_at = now
        row.last_error = ""
    elif outcome == AttemptOutcome.PERMANENT:
        row.status = DeliveryStatus.DEAD
    elif outcome == AttemptOutcome.BROKEN:
        row.status = DeliveryStatus.HELD
    else:
        delay = retry_delay(attempts=row.attempts, retry_after=result.retry_after)
        if delay is None:
            row.status = DeliveryStatus.DEAD
            row.last_error = f"Gave up after {MAX_ATTEMPTS} attempts. Last: {result.message}"[:2000]
        else:
            row.next_attempt_at = now + delay
    return DeliveryAttempt(
        delivery=row,
        number=number,
        started_at=started,
        duration_ms=duration_ms,
        outcome=outcome,
        status_code=result.status_code,
        error=result.message[:2000],
    )


def _defer(rows: Sequence[Delivery], *, seconds: float, now: datetime) -> None:
    """Back to the outbox without spending an attempt (rate limit, cooldown, busy vendor)."""
    for row in rows:
        row.next_attempt_at = now + timedelta(seconds=seconds)
        row.lease_expires_at = None
        row.updated_at = now
    Delivery.objects.bulk_update(rows, ["next_attempt_at", "lease_expires_at", "updated_at"])


def _claim(*, destination_id: int, ids: Sequence[int], top_up_to: int) -> list[Delivery]:
    """Locks the pending rows among ``ids``; with room left, also other due rows of the same
    destination (a backlog goes out in full batches). Rows another worker holds are skipped."""
    tenant_id = current_tenant_id()
    pending = Delivery.objects.filter(
        tenant_id=tenant_id, destination_id=destination_id, status=DeliveryStatus.PENDING
    )
    rows = list(pending.filter(pk__in=list(ids)).select_for_update(skip_locked=True).order_by("pk"))
    if len(rows) < top_up_to:
        now = timezone.now()
        # Leased rows are taken too: a lease only keeps the relay from re-sending, and the row
        # lock stops two workers sending one row, so whichever task comes first sends it.
        extra = (
            pending.filter(next_attempt_at__lte=now)
            .exclude(pk__in=[row.pk for row in rows])
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at")[: top_up_to - len(rows)]
        )
        rows.extend(extra)
    return rows


def deliveries_send(
    *, destination_id: int, ids: Sequence[int], client: Any = None, max_rounds: int = 20
) -> SendReport:
    """Sends the given deliveries of one destination (in the current tenant), then whatever
    else of that destination is due, a batch per round, until nothing is left.

    The rows of a round stay locked while the CRM is called: a second worker given the same ids
    skips them, and a delivered row is never sent again. A worker killed mid-request rolls back,
    the lease runs out, and the relay sends the row again; the CRM write is an upsert, so that
    second send does not duplicate the contact.

    Whatever raises in contact building or provider code is an attempt with its reason
    (``failures.contacts_send``); only our own database or Redis failing ends a round early,
    and then its rows come back with the lease, like a killed worker's.
    """
    report = SendReport()
    # From here on a new sign-up wakes another task: this one may already be past its last look.
    wake_clear(destination_id=destination_id)
    destination = Destination.objects.filter(pk=destination_id).first()
    # A kind whose code is gone (a rollback) still has its rows claimed and tried: making its
    # provider fails inside the boundary, which records each try with the reason.
    cls = PROVIDERS.get(destination.kind, Provider) if destination else None
    own_client = client is None
    client = client or http_client()
    broken: Result | None = None
    try:
        wanted = list(ids)
        for _ in range(max_rounds):
            before = report.troubles()
            with transaction.atomic():
                rows = _claim(
                    destination_id=destination_id,
                    ids=wanted,
                    top_up_to=cls.batch_size if cls else 0,
                )
                wanted = []
                if not rows:
                    break
                if destination is None or cls is None:
                    _bury(rows, reason="The destination was deleted.", report=report)
                    break
                if destination.state == DestinationState.PAUSED or not destination.enabled:
                    _hold(rows, report=report)
                    break
                # Made on first use, inside the boundary: decrypting credentials can fail too.
                provider = cache(
                    partial(destination_provider, destination=destination, client=client)
                )
                for start in range(0, len(rows), cls.batch_size):
                    batch = rows[start : start + cls.batch_size]
                    if broken is not None:
                        _hold(batch, report=report)
                        continue
                    broken = _send_batch(
                        destination=destination,
                        cls=cls,
                        provider=provider,
                        batch=batch,
                        report=report,
                    )
            if broken is not None or report.troubles() > before:
                # Broken: pause below. Failing, or asking us to wait: the rest of the backlog
                # stays in the outbox for its own turn rather than hammering a struggling CRM.
                break
    finally:
        if own_client:
            client.close()
    if broken is not None and destination is not None:
        destination_pause(
            destination=destination,
            reason=broken.message or f"The CRM answered {broken.status_code}.",
            disable=broken.status_code == 410,
        )
    return report


def _bury(rows: Sequence[Delivery], *, reason: str, report: SendReport) -> None:
    now = timezone.now()
    for row in rows:
        row.status, row.last_error, row.updated_at = DeliveryStatus.DEAD, reason, now
    Delivery.objects.bulk_update(rows, ["status", "last_error", "updated_at"])
    report.add(DeliveryStatus.DEAD, len(rows))


def _hold(rows: Sequence[Delivery], *, report: SendReport) -> None:
    now = timezone.now()
    for row in rows:
        row.status, row.lease_expires_at, row.updated_at = DeliveryStatus.HELD, None, now
    Delivery.objects.bulk_update(rows, ["status", "lease_expires_at", "updated_at"])
    report.add(DeliveryStatus.HELD, len(rows))


def _send_batch(
    *,
    destination: Destination,
    cls: type[Provider],
    provider: Callable[[], Provider],
    batch: list[Delivery],
    report: SendReport,
) -> Result | None:
    """One call to the CRM for a batch; returns the result that says the destination is broken."""
    scope = _scope(destination)
    now = timezone.now()
    cooldown = limits.cooldown_remaining(scope=scope)
    if cooldown > 0:
        _defer(batch, seconds=cooldown, now=now)
        report.add("deferred", len(batch))
        return None
    if not limits.breaker_allows(scope=scope):
        result = Result(
            Verdict.RETRY, message="Not sent: the CRM failed several times in a row (circuit open)."
        )
        attempts = [
            _settle(
                row=row,
                outcome=AttemptOutcome.SKIPPED,
                result=result,
                now=now,
                started=now,
                duration_ms=0,
            )
            for row in batch
        ]
        _save(batch, attempts)
        report.add(AttemptOutcome.SKIPPED, len(batch))
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit)
    if wait > MAX_RATE_WAIT_SECONDS:
        _defer(batch, seconds=wait, now=now)
        report.add("deferred", len(batch))
        return None
    if wait > 0:
        time.sleep(wait)
    with limits.concurrency_slot(scope=scope, limit=cls.max_connections) as free:
        if not free:
            _defer(batch, seconds=1, now=now)
            report.add("deferred", len(batch))
            return None
        return _call(destination=destination, provider=provider, batch=batch, report=report)


def _call(
    *,
    destination: Destination,
    provider: Callable[[], Provider],
    batch: list[Delivery],
    report: SendReport,
) -> Result | None:
    scope = _scope(destination)
    submissions = {
        submission.pk: submission
        for submission in Submission.objects.filter(pk__in=[row.submission_id for row in batch])
        .select_related("location", "form_version")
        .prefetch_related("consents")
    }
    now = timezone.now()
    erased = [row for row in batch if row.submission_id not in submissions]
    attempts: list[DeliveryAttempt] = []
    gone = Result(Verdict.PERMANENT, message="The sign-up was erased before it was delivered.")
    for row in erased:
        attempts.append(
            _settle(
                row=row,
                outcome=AttemptOutcome.PERMANENT,
                result=gone,
                now=now,
                started=now,
                duration_ms=0,
            )
        )
    live = {row.pk: row for row in batch if row.submission_id in submissions}
    started = timezone.now()
    clock = time.monotonic()
    # The one boundary (failures.py): whatever raises while building contacts or in provider
    # code comes back as a result with its reason, so every row below gets its attempt.
    results = (
        contacts_send(
            keys=list(live),
            contact=lambda key: contact_build(
                key=key,
                submission=submissions[live[key].submission_id],
                field_mapping=destination.field_mapping,
            ),
            provider=provider,
        )
        if live
        else {}
    )
    duration_ms = int((time.monotonic() - clock) * 1000)
    finished = timezone.now()
    broken: Result | None = None
    answered = False
    missing = Result(Verdict.RETRY, message="The provider gave no result for this contact.")
    for row in live.values():
        result = results.get(row.pk, missing)
        outcome = AttemptOutcome(result.verdict.value)
        if result.verdict == Verdict.BROKEN:
            broken = result
        if result.verdict != Verdict.RETRY:
            answered = True
        if result.verdict == Verdict.RETRY and result.retry_after:
            limits.cooldown_start(scope=scope, seconds=result.retry_after)
        attempts.append(
            _settle(
                row=row,
                outcome=outcome,
                result=result,
                now=finished,
                started=started,
                duration_ms=duration_ms,
            )
        )
        report.add(outcome)
    _save(batch, attempts)
    if live:
        limits.breaker_record(scope=scope, success=answered)
    return broken


def _save(rows: Sequence[Delivery], attempts: list[DeliveryAttempt]) -> None:
    Delivery.objects.bulk_update(
        rows,
        [
            "status",
            "attempts",
            "next_attempt_at",
            "lease_expires_at",
            "last_status_code",
            "last_error",
            "updated_at",
            "delivered_at",
        ],
    )
    DeliveryAttempt.objects.bulk_create(attempts)


# --- relay -------------------------------------------------------------------------------------

_RELAY_CLAIM = """
UPDATE public.crm_outbox_delivery AS delivery SET lease_expires_at = %s
FROM (
    SELECT id FROM public.crm_outbox_delivery
    WHERE status = 'pending' AND next_attempt_at <= %s
      AND (lease_expires_at IS NULL OR lease_expires_at <= %s)
    ORDER BY next_attempt_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
) AS due
WHERE delivery.id = due.id
RETURNING delivery.id, delivery.tenant_id, delivery.destination_id
"""


def deliveries_relay(*, limit: int = RELAY_BATCH) -> int:
    """Claims due rows of every tenant with one query and hands them to workers by destination.

    A claimed row carries a lease; if its task is lost, the lease runs out and the next run
    hands it out again. Returns how many rows were handed out.
    """
    from .tasks import deliver

    now = timezone.now()
    with schema_context(get_public_schema_name()):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_RELAY_CLAIM, [lease_until(now), now, now, limit])
            claimed = cursor.fetchall()
        if not claimed:
            return 0
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for delivery_id, tenant_id, destination_id in claimed:
            groups[(tenant_id, destination_id)].append(delivery_id)
        schemas = dict(
            Tenant.objects.filter(pk__in={tenant_id for tenant_id, _ in groups}).values_list(
                "pk", "schema_name"
            )
        )
    for (tenant_id, destination_id), ids in groups.items():
        for start in range(0, len(ids), RELAY_CHUNK):
            deliver.delay(
                schema_name=schemas[tenant_id],
                destination_id=destination_id,
                ids=ids[start : start + RELAY_CHUNK],
            )
    return len(claimed)


# --- replay ------------------------------------------------------------------------------------


def _replay(
    *,
    destination: Destination,
    statuses: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_id: int | None = None,
) -> int:
    """Back to pending with a fresh schedule, spread out so a big replay does not flood the CRM."""
    rate = provider_class(destination.kind).rate_limit.per_second * REPLAY_SHARE
    spacing_ms = max(1, int(1000 * provider_class(destination.kind).batch_size / rate))
    conditions = ["tenant_id = %s", "destination_id = %s", "status = ANY(%s)"]
    parameters: list[Any] = [
        current_tenant_id(),
        destination.pk,
        list(statuses),
    ]
    if since is not None:
        conditions.append("created_at >= %s")
        parameters.append(since)
    if until is not None:
        conditions.append("created_at < %s")
        parameters.append(until)
    if delivery_id is not None:
        conditions.append("id = %s")
        parameters.append(delivery_id)
    now = timezone.now()
    # One batch's worth of rows shares each slot, so the replay goes at about half the rate
    # the provider allows and new sign-ups still get through beside it.
    statement = f"""
        UPDATE public.crm_outbox_delivery AS delivery
        SET status = 'pending', attempts = 0, lease_expires_at = NULL, updated_at = %s,
            next_attempt_at = %s + make_interval(
                secs => ((ordered.position - 1) / %s) * %s / 1000.0)
        FROM (
            SELECT id, row_number() OVER (ORDER BY created_at, id) AS position
            FROM public.crm_outbox_delivery
            WHERE {" AND ".join(conditions)}
        ) AS ordered
        WHERE delivery.id = ordered.id
    """  # noqa: S608 - only fixed condition strings are joined; values are parameters
    batch_size = provider_class(destination.kind).batch_size
    with connection.cursor() as cursor:
        cursor.execute(statement, [now, now, batch_size, spacing_ms, *parameters])
        count: int = cursor.rowcount
    return count


def deliveries_replay(
    *,
    actor: User | None,
    destination: Destination,
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_id: int | None = None,
) -> int:
    """Replays dead and held deliveries (one, or those created in a time range). Throttled."""
    if delivery_id is None:
        key = redis_key("crm", "replay", _scope(destination))
        if not redis_client().set(key, 1, nx=True, ex=REPLAY_THROTTLE_SECONDS):
            raise ServiceError(
                "replay_throttled",
                f"A replay of this destination started less than {REPLAY_THROTTLE_SECONDS} s "
                "ago; wait a moment.",
                status_code=429,
            )
    with transaction.atomic():
        count = _replay(
            destination=destination,
            statuses=[DeliveryStatus.DEAD, DeliveryStatus.HELD],
            since=since,
            until=until,
            delivery_id=delivery_id,
        )
        audit_record(
            actor=actor,
            action=AuditAction.DELIVERY_REPLAY,
            target=destination,
            new={
                "count": count,
                "delivery": delivery_id,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
    return count


# --- keys --------------------------------------------------------------------------------------


def credentials_rotate_all() -> int:
    """Re-encrypts every destination of every tenant under the newest key; returns how many."""
    from django_tenants.utils import tenant_context

    from .crypto import credentials_rotate

    use_public_schema()
    count = 0
    for tenant in Tenant.objects.filter(ready=True):
        with tenant_context(tenant), transaction.atomic():
            for destination in Destination.objects.select_for_update().exclude(credentials=""):
                destination.credentials = credentials_rotate(destination.credentials)
                destination.save(update_fields=["credentials", "updated_at"])
                count += 1
    return count
