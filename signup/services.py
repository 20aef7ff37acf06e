"""Writes of the sign-up app: forms, stores, tablets, submissions, privacy. Keyword-only."""

import hashlib
import json
import secrets
from copy import deepcopy
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Model
from django.utils import timezone

from crm_sync.outbox.services import (
    OUTBOX_CTE,
    ROUTED_SQL,
    deliveries_announce,
    outbox_expected,
    outbox_learned,
    outbox_parameters,
)
from customerinfo.accounts.models import User
from customerinfo.db import prepared_cursor
from customerinfo.errors import ServiceError

from .answers import answers_clean, normalise_email
from .definitions import LANGUAGES, default_definition, definition_validate
from .devices import device_forget
from .models import (
    AuditEntry,
    ConsentText,
    Device,
    Form,
    FormVersion,
    Location,
    PairingCode,
    RetailerSettings,
    Submission,
)

PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen
PAIRING_LOOKUP_LENGTH, PAIRING_SECRET_LENGTH = 4, 6
PAIRING_TTL = timedelta(minutes=15)
PAIRING_MAX_ATTEMPTS = 5
#: A tablet clock may run a little fast; beyond this a capture time is not believable.
CLOCK_SKEW = timedelta(minutes=10)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- audit -------------------------------------------------------------------------------------


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Model,
    old: Any = None,
    new: Any = None,
    actor_label: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=actor_label,
        action=action,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        old=old,
        new=new,
    )


# --- locations ---------------------------------------------------------------------------------


def _location_check(*, name: str, code: str, country: str, time_zone: str) -> None:
    fields: dict[str, list[dict[str, str]]] = {}
    if not name.strip():
        fields["name"] = [{"code": "required", "message": "A store needs a name."}]
    if len(country) != 2 or not country.isalpha():
        fields["country"] = [{"code": "invalid", "message": "Use a two-letter country code."}]
    if time_zone not in available_timezones():
        fields["time_zone"] = [{"code": "invalid", "message": "Unknown time zone."}]
    if not code or not code.replace("-", "").isalnum():
        fields["code"] = [{"code": "invalid", "message": "Letters, digits and hyphens only."}]
    if fields:
        raise ServiceError("validation_failed", "The store has mistakes.", fields=fields)


def location_create(
    *,
    actor: User | None,
    name: str,
    code: str,
    country: str,
    time_zone: str,
    form: Form | None = None,
) -> Location:
    code, country = code.strip().lower(), country.strip().upper()
    _location_check(name=name, code=code, country=country, time_zone=time_zone)
    if Location.objects.filter(code=code).exists():
        raise ServiceError(
            "duplicate",
            "Another store has this code.",
            fields={"code": [{"code": "duplicate", "message": "Already used."}]},
        )
    location = Location.objects.create(
        name=name.strip(), code=code, country=country, time_zone=time_zone, form=form
    )
    audit_record(
        actor=actor, action="location.create", target=location, new=_location_state(location)
    )
    return location


def _location_state(location: Location) -> dict[str, Any]:
    return {
        "name": location.name,
        "code": location.code,
        "country": location.country,
        "time_zone": location.time_zone,
        "form": location.form_id,
        "overrides": location.overrides,
        "is_active": location.is_active,
    }


def location_update(
    *,
    actor: User | None,
    location: Location,
    name: str,
    country: str,
    time_zone: str,
    form: Form | None,
    overrides: dict[str, Any] | None = None,
    is_active: bool = True,
) -> Location:
    country = country.strip().upper()
    _location_check(name=name, code=location.code, country=country, time_zone=time_zone)
    old = _location_state(location)
    location.name, location.country, location.time_zone = name.strip(), country, time_zone
    location.form, location.is_active = form, is_active
    if overrides is not None:
        location.overrides = overrides
    # Tablets remembered with the old country are refused by the sign-up statement and read
    # again (signup.devices): nothing to forget here.
    location.save()
    audit_record(
        actor=actor,
        action="location.update",
        target=location,
        old=old,
        new=_location_state(location),
    )
    return location


# --- forms -------------------------------------------------------------------------------------


def form_create(
    *,
    actor: User | None,
    name: str,
    is_default: bool = False,
    definition: dict[str, Any] | None = None,
) -> Form:
    if not name.strip():
        raise ServiceError("validation_failed", "A form needs a name.")
    draft = definition_validate(definition if definition is not None else default_definition())
    with transaction.atomic():
        if is_default:
            Form.objects.filter(is_default=True).update(is_default=False)
        form = Form.objects.create(name=name.strip(), draft=draft, is_default=is_default)
        audit_record(actor=actor, action="form.create", target=form, new={"name": form.name})
    return form


def form_update(*, actor: User | None, form: Form, name: str, is_default: bool) -> Form:
    """Renames a form and makes it (or stops it being) the brand form every store falls back to."""
    if not name.strip():
        raise ServiceError("validation_failed", "A form needs a name.")
    with transaction.atomic():
        old = {"name": form.name, "is_default": form.is_default}
        if is_default and not form.is_default:
            Form.objects.filter(is_default=True).update(is_default=False)
        form.name, form.is_default = name.strip(), is_default
        form.save(update_fields=["name", "is_default", "updated_at"])
        audit_record(
            actor=actor,
            action="form.update",
            target=form,
            old=old,
            new={"name": form.name, "is_default": form.is_default},
        )
    return form


def form_draft_update(*, actor: User | None, form: Form, definition: Any) -> Form:
    draft = definition_validate(definition)
    old = form.draft
    form.draft = draft
    form.save(update_fields=["draft", "updated_at"])
    audit_record(actor=actor, action="form.draft_update", target=form, old=old, new=draft)
    return form


def _consent_text(*, channel: str, locale: str, text: str) -> ConsentText:
    text_hash = sha256(text)
    consent_text, _ = ConsentText.objects.get_or_create(
        channel=channel, locale=locale, text_hash=text_hash, defaults={"text": text}
    )
    return consent_text


def form_publish(*, actor: User | None, form: Form) -> FormVersion:
    """Freezes the draft as the next version; tablets pick it up on their next heartbeat.

    The frozen definition names, for each consent and language, the ConsentText row and hash
    of its wording, so a consent can be tied to its exact words without reading the form again.
    """
    definition = deepcopy(definition_validate(form.draft))
    with transaction.atomic():
        Form.objects.select_for_update().filter(pk=form.pk).first()
        for channel, consent in definition.get("consents", {}).items():
            if not consent.get("enabled"):
                continue
            references = {}
            for locale in definition["languages"]:
                text = consent["text"][locale]
                if channel == "sms":
                    # The disclosure is part of what the shopper agreed to.
                    text = f"{text}\n{consent['disclosure'][locale]}"
                stored = _consent_text(channel=channel, locale=locale, text=text)
                references[locale] = {"id": stored.pk, "hash": stored.text_hash}
            consent["wording"] = references
        number = (form.versions.aggregate(highest=Max("number"))["highest"] or 0) + 1
        version = FormVersion.objects.create(
            form=form, number=number, definition=definition, published_by=actor
        )
        form.current_version = version
        form.save(update_fields=["current_version", "updated_at"])
        audit_record(
            actor=actor,
            action="form.publish",
            target=form,
            old={"version": number - 1},
            new={"version": number},
        )
    return version


# --- tablets -----------------------------------------------------------------------------------


def _random_code(length: int) -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(length))


def pairing_code_create(
    *, actor: User | None, location: Location, device_name: str
) -> tuple[PairingCode, str]:
    """Returns the row and the code to show once, as ``ABCD-EFGHJK``."""
    if not device_name.strip():
        raise ServiceError(
            "validation_failed",
            "Name the tablet.",
            fields={"device_name": [{"code": "required", "message": "Name the tablet."}]},
        )
    now = timezone.now()
    PairingCode.objects.filter(expires_at__lt=now).delete()
    for _ in range(10):
        lookup, secret = _random_code(PAIRING_LOOKUP_LENGTH), _random_code(PAIRING_SECRET_LENGTH)
        try:
            with transaction.atomic():
                pairing = PairingCode.objects.create(
                    location=location,
                    device_name=device_name.strip(),
                    lookup=lookup,
                    secret_hash=sha256(secret),
                    expires_at=now + PAIRING_TTL,
                    created_by=actor,
                )
        except IntegrityError:
            continue  # that lookup is in use by another live code; draw again
        audit_record(
            actor=actor,
            action="device.pairing_code",
            target=location,
            new={"device_name": pairing.device_name, "expires_at": pairing.expires_at.isoformat()},
        )
        return pairing, f"{lookup}-{secret}"
    raise ServiceError("unavailable", "Could not make a pairing code; try again.", status_code=503)


def device_pair(*, code: str) -> tuple[Device, str]:
    """Exchanges a pairing code for a device token (returned once, stored only hashed)."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    lookup, secret = cleaned[:PAIRING_LOOKUP_LENGTH], cleaned[PAIRING_LOOKUP_LENGTH:]
    invalid = ServiceError("invalid_pairing_code", "This pairing code is not valid.")
    with transaction.atomic():
        pairing = PairingCode.objects.select_for_update().filter(lookup=lookup).first()
        if pairing is None:
            raise invalid
        if pairing.used_at or pairing.expires_at < timezone.now():
            raise ServiceError(
                "pairing_code_expired",
                "This pairing code was used or has expired; ask for a new one.",
            )
        if pairing.attempts >= PAIRING_MAX_ATTEMPTS:
            raise ServiceError(
                "pairing_code_locked", "Too many wrong tries; ask for a new pairing code."
            )
        if not secrets.compare_digest(pairing.secret_hash, sha256(secret)):
            pairing.attempts += 1
            pairing.save(update_fields=["attempts"])
            # Raised after the block, so the count commits: that is what makes it a limit.
            wrong = True
        else:
            wrong = False
            token = secrets.token_urlsafe(32)
            device = Device.objects.create(
                location=pairing.location,
                name=pairing.device_name,
                token_hash=sha256(token),
                token_prefix=token[:8],
            )
            pairing.used_at = timezone.now()
            pairing.save(update_fields=["used_at"])
            audit_record(
                actor=pairing.created_by,
                actor_label=f"device:{device.pk}",
                action="device.pair",
                target=device,
                new={"name": device.name, "location": device.location_id},
            )
    if wrong:
        raise invalid
    return device, token


def device_for_token(*, token: str) -> Device | None:
    # get(), not first(): first() would add the model's ordering, a join and a sort, to a
    # lookup by a unique key that every kiosk request makes.
    try:
        return Device.objects.select_related("location").get(
            token_hash=sha256(token), revoked_at__isnull=True
        )
    except Device.DoesNotExist:
        return None


def device_revoke(*, actor: User | None, device: Device) -> Device:
    if device.revoked_at is None:
        # Processes that remember the tablet find it revoked in the sign-up statement itself
        # (signup.devices); this process forgets it at once all the same.
        device_forget(token_hash=device.token_hash)
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="device.revoke",
            target=device,
            old={"revoked": False},
            new={"revoked": True},
        )
    return device


def device_heartbeat(
    *,
    device: Device,
    app_version: str,
    queue_depth: int,
    oldest_unsent_at: datetime | None,
) -> Device:
    device.last_seen_at = timezone.now()
    device.app_version = app_version[:40]
    device.queue_depth = max(queue_depth, 0)
    device.oldest_unsent_at = oldest_unsent_at if queue_depth > 0 else None
    device.save(update_fields=["last_seen_at", "app_version", "queue_depth", "oldest_unsent_at"])
    return device


# --- submissions -------------------------------------------------------------------------------

#: Published versions never change, so each process keeps the ones it has read. The key is the
#: tenant row's id, not its schema name: a schema re-created under the same name starts its ids
#: again and must not be served another tenant's form.
_versions: dict[tuple[int, int], FormVersion] = {}


def form_version(*, version_id: int) -> FormVersion | None:
    tenant_id = getattr(connection.tenant, "pk", None)  # type: ignore[attr-defined]
    version = _versions.get((tenant_id, version_id)) if tenant_id else None
    if version is None:
        version = FormVersion.objects.filter(pk=version_id).first()
        if version is not None and tenant_id:
            _versions[(tenant_id, version_id)] = version
    return version


def form_version_cache_clear() -> None:
    _versions.clear()


DEVICE_REFUSED = "This tablet is not paired or was revoked; pair it again."


class DeviceRefusedError(ServiceError):
    """The tablet was revoked, or its store's country changed, after it was read."""

    def __init__(self) -> None:
        super().__init__("authentication_failed", DEVICE_REFUSED, status_code=401)


def submission_create(
    *,
    device: Device,
    submission_id: UUID,
    form_version_id: int,
    locale: str,
    captured_at: datetime,
    answers: Any,
    consents: Any,
) -> tuple[Submission, bool]:
    """Stores a sign-up once. Returns (submission, created); a repeated id stores nothing.

    The tablet retries until it hears back, so the same id arriving twice is normal: the first
    is kept and every repeat gets the same answer. The check runs against the form version the
    shopper saw, even if a newer one has been published since.
    """
    version = form_version(version_id=form_version_id)
    if version is None:
        raise ServiceError(
            "unknown_form_version", "This form version does not exist; reload the form."
        )
    definition = version.definition
    if locale not in definition["languages"]:
        raise ServiceError(
            "validation_failed",
            "Unsupported language.",
            fields={"locale": [{"code": "invalid", "message": f"One of {', '.join(LANGUAGES)}."}]},
        )
    received_at = timezone.now()
    if captured_at > received_at + CLOCK_SKEW:
        raise ServiceError(
            "validation_failed",
            "The capture time is in the future.",
            fields={"captured_at": [{"code": "in_future", "message": "Check the tablet's clock."}]},
        )
    location = device.location
    clean = answers_clean(
        definition=definition, answers=answers, consents=consents, country=location.country
    )
    submission = Submission(
        id=submission_id,
        form_version=version,
        location=location,
        device=device,
        email=clean.email,
        first_name=clean.first_name,
        last_name=clean.last_name,
        phone=clean.phone,
        birthday_month=clean.birthday_month,
        birthday_day=clean.birthday_day,
        postal_code=clean.postal_code,
        answers=clean.custom,
        locale=locale,
        captured_at=captured_at,
        received_at=received_at,
    )
    wording = {
        channel: definition["consents"][channel]["wording"][locale] for channel in clean.consents
    }
    consent_rows = [
        {
            "channel": channel,
            "granted": granted,
            "text_id": wording[channel]["id"],
            "text_hash": wording[channel]["hash"],
        }
        for channel, granted in clean.consents.items()
    ]
    if not _insert_once(submission, consent_rows, version.form_id, location.country):
        existing = Submission.objects.get(pk=submission_id)
        return _same_submission(existing, device), False
    return submission, True


# The sign-up, its consents and its CRM deliveries go in with one statement: one round trip and
# one implicit transaction instead of a look-up, BEGIN, three INSERTs and COMMIT. ON CONFLICT
# makes a repeated id (a tablet retrying, possibly in parallel) insert nothing, and the consents
# and deliveries are inserted from the submission row the statement created, so they exist only
# if it does: a committed sign-up always has its outbox rows.
#
# Most shops have no CRM destination, and an INSERT into the outbox costs PostgreSQL about as
# much as the sign-up's own even when it inserts nothing (it opens the table and its indexes).
# Those shops get the statement without it, guarded: it stores nothing if an enabled destination
# exists in its snapshot, and says so, and the sign-up is then written with the outbox. The
# guard and the outbox read the same snapshot as the insert, so no sign-up committed after a
# destination is enabled can miss its delivery, whatever the process believed beforehand.
# Only constant SQL text is joined here; every value is a parameter.
#
# The tablet may come from a process's memory (signup.devices), so the statement also checks, in
# the same snapshot, that it is still paired to the store, and the store in the country, that
# the answers were checked against; if not it stores nothing and says so.
_SUBMISSION_CTES = """
WITH checks AS (
    SELECT {routed} AS routed,
        EXISTS (
            SELECT 1 FROM signup_device AS device
            JOIN signup_location AS location ON location.id = device.location_id
            WHERE device.id = %s AND device.revoked_at IS NULL
                AND location.id = %s AND location.country = %s
        ) AS paired
), new_submission AS (
    INSERT INTO signup_submission (
        id, form_version_id, location_id, device_id, email, first_name, last_name, phone,
        birthday_month, birthday_day, postal_code, answers, locale, captured_at, received_at
    )
    SELECT %s::uuid, %s::bigint, %s::bigint, %s::bigint, %s::text, %s::text, %s::text,
        %s::text, %s::smallint, %s::smallint, %s::text, %s::jsonb, %s::text, %s::timestamptz,
        %s::timestamptz
    FROM checks
    WHERE checks.paired AND {guard}
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), new_consents AS (
    INSERT INTO signup_consent (
        submission_id, channel, granted, text_id, text_hash, locale, location_id, device_id,
        captured_at, received_at
    )
    SELECT new_submission.id, c.channel, c.granted, c.text_id, c.text_hash, %s, %s, %s, %s, %s
    FROM new_submission
    CROSS JOIN jsonb_to_recordset(%s::jsonb)
        AS c(channel text, granted boolean, text_id bigint, text_hash text)
)"""
_WITH_OUTBOX = (
    _SUBMISSION_CTES.format(routed=ROUTED_SQL, guard="true")  # noqa: S608 - constants only
    + ","
    + OUTBOX_CTE
    + """
SELECT
    (SELECT count(*) FROM new_submission),
    (SELECT coalesce(json_agg(json_build_array(id, destination_id, status)), '[]'::json)
     FROM new_deliveries),
    checks.routed,
    checks.paired
FROM checks
"""
)
_WITHOUT_OUTBOX = (
    _SUBMISSION_CTES.format(routed=ROUTED_SQL, guard="NOT checks.routed")  # noqa: S608
    + """
SELECT (SELECT count(*) FROM new_submission), '[]'::json, checks.routed, checks.paired
FROM checks
"""
)
_INSERT_SUBMISSION = {True: _WITH_OUTBOX, False: _WITHOUT_OUTBOX}


def _insert_once(
    submission: Submission, consents: list[dict[str, Any]], form_id: int, country: str
) -> bool:
    """Inserts the submission, its consents and deliveries unless the id exists.

    Returns True if it inserted; the new deliveries are then announced to the workers. Raises
    DeviceRefusedError if the tablet was revoked or its store changed country meanwhile.
    """
    outbox = outbox_expected()
    parameters: list[Any] = [
        submission.device_id,
        submission.location_id,
        country,
        submission.pk,
        submission.form_version_id,
        submission.location_id,
        submission.device_id,
        submission.email,
        submission.first_name,
        submission.last_name,
        submission.phone,
        submission.birthday_month,
        submission.birthday_day,
        submission.postal_code,
        json.dumps(submission.answers),
        submission.locale,
        submission.captured_at,
        submission.received_at,
        submission.locale,
        submission.location_id,
        submission.device_id,
        submission.captured_at,
        submission.received_at,
        json.dumps(consents),
    ]
    if outbox:
        parameters += outbox_parameters(
            form_id=form_id, location_id=submission.location_id, now=submission.received_at
        )
    # Prepared once per connection: planning this statement costs PostgreSQL more than running it.
    with prepared_cursor() as cursor:
        cursor.execute(_INSERT_SUBMISSION[outbox], parameters)
        inserted, deliveries, routed, paired = cursor.fetchone()
    outbox_learned(routed=routed)
    if not paired:
        raise DeviceRefusedError
    if routed and not outbox:
        # A destination was enabled since this process last looked: the guard stored nothing.
        return _insert_once(submission, consents, form_id, country)
    if inserted:
        deliveries_announce(deliveries=[tuple(row) for row in deliveries])
    return bool(inserted)


def _same_submission(existing: Submission, device: Device) -> Submission:
    if existing.device_id != device.pk:
        raise ServiceError(
            "id_conflict", "Another tablet already used this submission id.", status_code=409
        )
    return existing


# --- privacy -----------------------------------------------------------------------------------


def retailer_settings() -> RetailerSettings:
    settings_row, _ = RetailerSettings.objects.get_or_create(pk=1)
    return settings_row


def retention_update(*, actor: User | None, days: int) -> RetailerSettings:
    if not 30 <= days <= 3650:
        raise ServiceError(
            "validation_failed",
            "Keep sign-ups between 30 days and 10 years.",
            fields={"retention_days": [{"code": "out_of_range", "message": "30 to 3650 days."}]},
        )
    row = retailer_settings()
    old = row.retention_days
    row.retention_days = days
    row.save(update_fields=["retention_days", "updated_at"])
    audit_record(
        actor=actor,
        action="settings.retention",
        target=row,
        old={"retention_days": old},
        new={"retention_days": days},
    )
    return row


def retention_purge(*, now: datetime | None = None) -> int:
    """Deletes sign-ups older than the retailer's retention period; returns how many."""
    row = retailer_settings()
    cutoff = (now or timezone.now()) - timedelta(days=row.retention_days)
    deleted = (
        Submission.objects.filter(received_at__lt=cutoff).delete()[1].get("signup.Submission", 0)
    )
    if deleted:
        audit_record(
            actor=None,
            actor_label="system:retention",
            action="submission.purge",
            target=row,
            new={"deleted": deleted, "before": cutoff.isoformat()},
        )
    return deleted


def shopper_export(*, email: str) -> dict[str, Any]:
    """Everything we hold about one email address (a data subject access request)."""
    email = normalise_email(email)
    submissions = Submission.objects.filter(email=email).prefetch_related("consents__text")
    return {
        "email": email,
        "submissions": [
            {
                "id": str(s.pk),
                "received_at": s.received_at.isoformat(),
                "captured_at": s.captured_at.isoformat(),
                "location": s.location_id,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "phone": s.phone,
                "birthday": (
                    {"month": s.birthday_month, "day": s.birthday_day} if s.birthday_month else None
                ),
                "postal_code": s.postal_code,
                "answers": s.answers,
                "locale": s.locale,
                "consents": [
                    {
                        "channel": c.channel,
                        "granted": c.granted,
                        "wording": c.text.text,
                        "wording_hash": c.text_hash,
                        "captured_at": c.captured_at.isoformat(),
                    }
                    for c in s.consents.all()
                ],
            }
            for s in submissions
        ],
    }


def shopper_erase(*, actor: User | None, email: str) -> int:
    """Erases every sign-up of one email address; the audit log keeps only a hash of it."""
    email = normalise_email(email)
    deleted = Submission.objects.filter(email=email).delete()[1].get("signup.Submission", 0)
    settings_row = retailer_settings()
    audit_record(
        actor=actor,
        action="shopper.erase",
        target=settings_row,
        new={"email_sha256": sha256(email), "submissions_deleted": deleted},
    )
    return deleted
