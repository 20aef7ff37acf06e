"""Storing a sign-up: checked, sorted, and written with its consents and deliveries at once."""

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.utils import timezone

from customerinfo.core.caches import BoundedCache
from customerinfo.core.db import schema_cursor, schema_statement
from customerinfo.core.errors import ServiceError
from customerinfo.core.tenancy import current_schema, current_tenant
from outbox.services import (
    OUTBOX_CTE,
    ROUTED_SQL,
    outbox_expected,
    outbox_learned,
    outbox_parameters,
)

from ..answers import CleanAnswers, answers_sort
from ..definitions import LANGUAGES
from ..models import (
    Device,
    FormVersion,
    Location,
    Submission,
)

#: A tablet clock may run a little fast; beyond this a capture time is not believable.
CLOCK_SKEW = timedelta(minutes=10)

#: Published versions never change, so each process keeps the ones it has read, the most
#: recently used ``FORM_VERSIONS_KEPT`` of them (a version's definition is a few kB). The key is
#: the tenant row's id, not its schema name: a schema re-created under the same name starts its
#: ids again and must not be served another tenant's form.
FORM_VERSIONS_KEPT = 2_048
_versions: BoundedCache[tuple[int, int], FormVersion] = BoundedCache(max_entries=FORM_VERSIONS_KEPT)


def form_version(*, version_id: int) -> FormVersion | None:
    tenant_id = getattr(current_tenant(), "pk", None)
    version = _versions.get((tenant_id, version_id)) if tenant_id else None
    if version is None:
        version = FormVersion.objects.filter(pk=version_id).first()
        if version is not None and tenant_id:
            _versions.set((tenant_id, version_id), version)
    return version


def form_version_cache_clear() -> None:
    _versions.clear()


DEVICE_REFUSED = "This tablet is not paired or was revoked; pair it again."


class DeviceRefusedError(ServiceError):
    """The tablet was revoked, or its store's country changed, after it was read."""

    def __init__(self) -> None:
        super().__init__("authentication_failed", DEVICE_REFUSED, status_code=401)


class LocationClosedError(ServiceError):
    """The store closed before the sign-up was captured."""

    def __init__(self) -> None:
        super().__init__(
            "location_closed",
            "This store is not taking sign-ups; it was closed before this one was captured.",
            status_code=409,
        )


def submission_prepare(
    *,
    country: str,
    form_version_id: int,
    locale: str,
    captured_at: datetime,
    answers: Any,
    consents: Any,
) -> tuple[FormVersion, CleanAnswers, datetime, dict[str, Any]]:
    """Checks a sign-up without storing it: (version, sorted answers, capture time, set aside).

    Raises ServiceError for what refuses the whole sign-up: an unknown form version, a language
    the form does not speak, no usable email.
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
    clean = answers_sort(definition=definition, answers=answers, consents=consents, country=country)
    if clean.refused:
        raise clean.refusal()
    set_aside = dict(clean.set_aside)
    received_at = timezone.now()
    if captured_at > received_at + CLOCK_SKEW:
        # A tablet with its clock far ahead: the shopper was real, the time is not. Stored with
        # the time it arrived; the tablet's claim is kept apart as evidence.
        set_aside["captured_at"] = {
            "value": captured_at.isoformat(),
            "code": "in_future",
            "message": "The tablet's clock was ahead; stored with the time it arrived.",
        }
        captured_at = received_at
    return version, clean, captured_at, set_aside


def submission_build(
    *,
    submission_id: UUID,
    version: FormVersion,
    location: Location,
    device: Device | None,
    clean: CleanAnswers,
    set_aside: dict[str, Any],
    locale: str,
    captured_at: datetime,
) -> Submission:
    """The sign-up row of sorted answers, not saved: the one place answers become columns."""
    return Submission(
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
        set_aside=set_aside,
        locale=locale,
        captured_at=captured_at,
        received_at=timezone.now(),
    )


def consent_evidence(
    *, definition: dict[str, Any], locale: str, consents: dict[str, bool]
) -> list[dict[str, Any]]:
    """One row per consent offered: the decision and the exact wording it was given against."""
    wording = {channel: definition["consents"][channel]["wording"][locale] for channel in consents}
    return [
        {
            "channel": channel,
            "granted": granted,
            "text_id": wording[channel]["id"],
            "text_hash": wording[channel]["hash"],
        }
        for channel, granted in consents.items()
    ]


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
    shopper saw, even if a newer one has been published since. Answers that fail it are set
    aside on the stored sign-up (``signup.answers``); only a sign-up with no usable email, or
    for a store that had closed before it was captured, is refused.
    """
    version, clean, captured_at, set_aside = submission_prepare(
        country=device.location.country,
        form_version_id=form_version_id,
        locale=locale,
        captured_at=captured_at,
        answers=answers,
        consents=consents,
    )
    definition = version.definition
    location = device.location
    submission = submission_build(
        submission_id=submission_id,
        version=version,
        location=location,
        device=device,
        clean=clean,
        set_aside=set_aside,
        locale=locale,
        captured_at=captured_at,
    )
    consent_rows = consent_evidence(definition=definition, locale=locale, consents=clean.consents)
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
# the answers were checked against, and that the store had not closed before the sign-up was
# captured; if not it stores nothing and says which.
#
# It also counts the sign-up and its opt-ins in the store's day (new_day; the invariant is
# migration 0013's). Every other writer of sign-ups is counted by the row triggers of migration
# 0008; this one tells them it counted its own sign-up (checks sets signup_day.counted to its
# id, for its transaction, and migration 0014's triggers pass over that id): one upsert in the
# statement instead of two trigger calls, each calling the zone function and reading the store
# again: 35 pages touched per sign-up instead of 48 (docs/architecture.md).
#
# The statement names its tenant's schema (customerinfo.core.db) and no SET search_path goes
# before it, whatever shop the connection served last. The zone function it names in that
# schema (TENANT_SQL_FUNCTIONS) and the triggers its insert may fire have their search path
# pinned to their own schema (tenants.schemas.functions_pin_sql), so whatever they read or
# count is this shop's.
_SUBMISSION_CTES = """
WITH checks AS (
    SELECT {routed} AS routed,
        tablet.paired IS NOT NULL AS paired,
        coalesce(tablet.closed_at > %(captured_at)s::timestamptz, true) AS accepting,
        tablet.time_zone,
        set_config('signup_day.counted', %(id)s::uuid::text, true) AS counting
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT true AS paired, location.closed_at, location.time_zone
        FROM signup_device AS device
        JOIN signup_location AS location ON location.id = device.location_id
        WHERE device.id = %(device_id)s AND device.revoked_at IS NULL
            AND location.id = %(location_id)s AND location.country = %(country)s
    ) AS tablet ON true
), new_submission AS (
    INSERT INTO signup_submission (
        id, form_version_id, location_id, device_id, email, first_name, last_name, phone,
        birthday_month, birthday_day, postal_code, answers, set_aside, locale, captured_at,
        received_at
    )
    SELECT %(id)s::uuid, %(form_version_id)s::bigint, %(location_id)s::bigint,
        %(device_id)s::bigint, %(email)s::text, %(first_name)s::text, %(last_name)s::text,
        %(phone)s::text, %(birthday_month)s::smallint, %(birthday_day)s::smallint,
        %(postal_code)s::text, %(answers)s::jsonb, %(set_aside)s::jsonb, %(locale)s::text,
        %(captured_at)s::timestamptz, %(received_at)s::timestamptz
    FROM checks
    -- counting is never NULL: naming it makes the insert wait for the setting to be made.
    WHERE checks.paired AND checks.accepting AND checks.counting IS NOT NULL AND {guard}
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), new_consents AS (
    INSERT INTO signup_consent (
        submission_id, channel, granted, text_id, text_hash, locale, location_id, device_id,
        captured_at, received_at
    )
    SELECT new_submission.id, c.channel, c.granted, c.text_id, c.text_hash,
        %(locale)s::text, %(location_id)s::bigint, %(device_id)s::bigint,
        %(captured_at)s::timestamptz, %(received_at)s::timestamptz
    FROM new_submission
    CROSS JOIN jsonb_to_recordset(%(consents)s::jsonb)
        AS c(channel text, granted boolean, text_id bigint, text_hash text)
), new_day AS (
    INSERT INTO signup_signupday AS counted
        (location_id, day, slot, signups, email_opt_ins, sms_opt_ins)
    SELECT %(location_id)s::bigint,
        (%(captured_at)s::timestamptz AT TIME ZONE signup_day_zone(checks.time_zone))::date,
        get_byte(uuid_send(new_submission.id), 15) %% 16, 1,
        %(email_opt_ins)s::integer, %(sms_opt_ins)s::integer
    FROM new_submission CROSS JOIN checks
    ON CONFLICT (location_id, day, slot) DO UPDATE SET
        signups = counted.signups + 1,
        email_opt_ins = counted.email_opt_ins + excluded.email_opt_ins,
        sms_opt_ins = counted.sms_opt_ins + excluded.sms_opt_ins
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
    checks.paired,
    checks.accepting
FROM checks
"""
)
_WITHOUT_OUTBOX = (
    _SUBMISSION_CTES.format(routed=ROUTED_SQL, guard="NOT checks.routed")  # noqa: S608
    + """
SELECT (SELECT count(*) FROM new_submission), '[]'::json, checks.routed, checks.paired,
    checks.accepting
FROM checks
"""
)
_INSERT_SUBMISSION = {True: _WITH_OUTBOX, False: _WITHOUT_OUTBOX}


def _insert_once(
    submission: Submission, consents: list[dict[str, Any]], form_id: int, country: str
) -> bool:
    """Inserts the submission, its consents and deliveries unless the id exists.

    Returns True if it inserted; its deliveries are then due for the relay. Raises
    DeviceRefusedError if the tablet was revoked or its store changed country meanwhile, and
    LocationClosedError if the store closed before the sign-up was captured.
    """
    schema = current_schema()
    parameters: dict[str, Any] = {
        "id": submission.pk,
        "form_version_id": submission.form_version_id,
        "location_id": submission.location_id,
        "device_id": submission.device_id,
        "country": country,
        "email": submission.email,
        "first_name": submission.first_name,
        "last_name": submission.last_name,
        "phone": submission.phone,
        "birthday_month": submission.birthday_month,
        "birthday_day": submission.birthday_day,
        "postal_code": submission.postal_code,
        "answers": json.dumps(submission.answers),
        "set_aside": json.dumps(submission.set_aside),
        "locale": submission.locale,
        "captured_at": submission.captured_at,
        "received_at": submission.received_at,
        "consents": json.dumps(consents),
        "email_opt_ins": _granted(consents, "email"),
        "sms_opt_ins": _granted(consents, "sms"),
        **outbox_parameters(
            form_id=form_id, location_id=submission.location_id, now=submission.received_at
        ),
    }
    # At most twice: the second time only if a destination was enabled since this process last
    # looked, and then with the outbox, which is always right.
    outbox = outbox_expected()
    while True:
        # Prepared once per connection and tenant: planning this statement costs PostgreSQL
        # more than running it. It names the tenant's schema, so it needs no SET search_path and
        # its plan outlives the connection serving other tenants in between (core.db).
        statement = schema_statement(_INSERT_SUBMISSION[outbox], schema=schema)
        with schema_cursor() as cursor:
            cursor.execute(statement.text, statement.arguments(parameters))
            inserted, _deliveries, routed, paired, accepting = cursor.fetchone()
        outbox_learned(routed=routed)
        if not paired:
            raise DeviceRefusedError
        if not accepting:
            raise LocationClosedError
        if routed and not outbox:
            # The guard stored nothing; the statement with the outbox will.
            outbox = True
            continue
        # Its deliveries, if any, are due: the relay's next run hands them out (outbox.services).
        return bool(inserted)


def _granted(consents: list[dict[str, Any]], channel: str) -> int:
    return sum(1 for row in consents if row["channel"] == channel and row["granted"])


def _same_submission(existing: Submission, device: Device) -> Submission:
    if existing.device_id != device.pk:
        raise ServiceError(
            "id_conflict", "Another tablet already used this submission id.", status_code=409
        )
    return existing
