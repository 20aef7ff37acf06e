"""What becomes of a sign-up the server would not take as it came, so that none is ever lost.

The shopper was thanked on the tablet before the server saw the sign-up. So:
- answers the server refuses are *set aside* on the stored sign-up (``Submission.set_aside``);
  a manager fixes and releases them (the sign-up is then sent to the CRMs again) or discards
  them;
- a sign-up refused whole becomes a ``RejectedSubmission`` with the payload as sent, recorded by
  the server as it refuses and uploaded by the tablet too; a manager fixes and releases it (a
  sign-up is then stored and sent) or discards it.
Every one of these decisions writes an audit row.
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.db import transaction
from django.utils import timezone

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import FieldErrors, ServiceError
from customerinfo.core.models import AuditAction
from outbox.services import deliveries_requeue

from ..answers import CleanAnswers, InvalidAnswerError, answer_check, normalise_email, storable
from ..definitions import CUSTOM_TYPES
from ..models import (
    Consent,
    Device,
    FormVersion,
    RejectedSubmission,
    Resolution,
    Submission,
)
from ..selectors import current_version
from .submissions import (
    DeviceRefusedError,
    consent_evidence,
    form_version,
    submission_build,
    submission_create,
    submission_prepare,
)

#: Refusals of a sign-up that sending it again cannot cure: each is recorded as rejected.
#: (401 and 429 are not among them: the tablet keeps those and sends them again.)
REJECTED_CODES = frozenset(
    {"validation_failed", "unknown_form_version", "location_closed", "id_conflict"}
)
#: A rejected payload kept whole up to this size; the API refuses larger uploads.
MAX_PAYLOAD = 256 * 1024


def _payload_email(payload: str) -> str:
    """The sign-up's email as typed, if it can be read, for search, export and erasure."""
    try:
        data = json.loads(payload)
    except ValueError:
        return ""
    answers = data.get("answers") if isinstance(data, dict) else None
    email = answers.get("email") if isinstance(answers, dict) else None
    return storable(normalise_email(email))[:254] if isinstance(email, str) else ""


def rejection_record(
    *,
    device: Device | None,
    submission_id: UUID,
    status_code: int,
    code: str,
    message: str,
    fields: FieldErrors | dict[str, Any],
    payload: str,
    captured_at: datetime | None,
) -> tuple[RejectedSubmission, bool]:
    """Keeps a refused sign-up once per id: (row, created). Whoever comes second stores nothing.

    ``payload`` is JSON text; it is stored with NUL and lone surrogates escaped, the only
    characters PostgreSQL's text cannot hold.
    """
    text = storable(payload[:MAX_PAYLOAD])
    rejection, created = RejectedSubmission.objects.get_or_create(
        id=submission_id,
        defaults={
            "device": device,
            "location_id": device.location_id if device else None,
            "status_code": status_code,
            "code": storable(code)[:60],
            "message": storable(message)[:300],
            "fields": storable(fields) if isinstance(fields, dict) else {},
            "payload": text,
            "email": _payload_email(text),
            "captured_at": captured_at,
        },
    )
    return rejection, created


def submission_receive(
    *,
    device: Device,
    submission_id: UUID,
    payload: Any,
    read_again: Callable[[], Device | None] | None = None,
    **values: Any,
) -> tuple[Submission, bool]:
    """``submission_create``, and a rejected record of what it refuses for good.

    ``payload`` is the request body as parsed; the refusal is recorded before the error goes
    back to the tablet, so it exists even if the tablet never uploads its copy. ``read_again``
    reads the tablet afresh when ``device`` came from a process's memory and the statement
    found it revoked or its store changed (``signup.devices``).
    """
    try:
        try:
            return submission_create(device=device, submission_id=submission_id, **values)
        except DeviceRefusedError:
            fresh = read_again() if read_again else None
            if fresh is None:
                raise
            device = fresh
            return submission_create(device=fresh, submission_id=submission_id, **values)
    except ServiceError as error:
        if error.code in REJECTED_CODES:
            rejection_record(
                device=device,
                submission_id=submission_id,
                status_code=error.status_code,
                code=error.code,
                message=error.message,
                fields=error.fields,
                payload=json.dumps(payload, ensure_ascii=True, default=str),
                captured_at=values.get("captured_at"),
            )
        raise


def submission_check(
    *,
    device: Device,
    form_version_id: int,
    locale: str,
    captured_at: datetime,
    answers: Any,
    consents: Any,
) -> tuple[bool, FieldErrors]:
    """What the server would do with a sign-up, storing nothing: (would store, problems)."""
    try:
        _, clean, _, _ = submission_prepare(
            country=device.location.country,
            form_version_id=form_version_id,
            locale=locale,
            captured_at=captured_at,
            answers=answers,
            consents=consents,
        )
    except ServiceError as error:
        fields = error.fields or {"": [{"code": error.code, "message": error.message}]}
        return False, fields
    return True, clean.problems


# --- set-aside answers -------------------------------------------------------------------------


def _unresolvable(key: str) -> ServiceError:
    return ServiceError(
        "not_releasable",
        "This cannot be released; discard it instead.",
        fields={key: [{"code": "not_releasable", "message": "Discard it instead."}]},
    )


def _answer_apply(*, submission: Submission, key: str, value: Any) -> None:
    """Checks one answer with the rules of the form version the shopper saw and stores it."""
    if key == "consents.sms":
        # The shopper ticked the SMS box; it was kept refused for want of a phone number.
        if not submission.phone:
            raise ServiceError(
                "validation_failed",
                "Release the phone number first.",
                fields={key: [{"code": "phone_required", "message": "Add a phone number."}]},
            )
        Consent.objects.filter(submission=submission, channel="sms").update(granted=True)
        return
    fields = {f["key"]: f for f in submission.form_version.definition["fields"]}
    spec = fields.get(key)
    if spec is None or spec["type"] == "email":
        raise _unresolvable(key)
    clean = CleanAnswers()
    try:
        answer_check(spec=spec, value=value, country=submission.location.country, clean=clean)
    except InvalidAnswerError as invalid:
        raise ServiceError(
            "validation_failed",
            "The corrected answer is still not valid.",
            fields={key: [{"code": invalid.code, "message": invalid.message}]},
        ) from None
    if spec["type"] in CUSTOM_TYPES:
        # An optional answer corrected to nothing is no answer at all.
        if key in clean.custom:
            submission.answers[key] = clean.custom[key]
        else:
            submission.answers.pop(key, None)
    elif spec["type"] == "birthday":
        submission.birthday_month, submission.birthday_day = (
            clean.birthday_month,
            clean.birthday_day,
        )
    else:
        setattr(submission, spec["type"], getattr(clean, spec["type"]))


def set_aside_release(
    *, actor: User | None, submission: Submission, key: str, value: Any
) -> Submission:
    """Applies a manager's correction of a set-aside answer and sends the sign-up again."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        entry = submission.set_aside.get(key)
        if entry is None:
            raise ServiceError(
                "not_found", "Nothing is set aside under this name.", status_code=404
            )
        _answer_apply(submission=submission, key=key, value=value)
        del submission.set_aside[key]
        submission.save()
        audit_record(
            actor=actor,
            action=AuditAction.SUBMISSION_RELEASE_ANSWER,
            target=submission,
            old={key: entry},
            new={key: storable(value)},
        )
        deliveries_requeue(
            submission_id=submission.pk,
            form_id=submission.form_version.form_id,
            location_id=submission.location_id,
            now=timezone.now(),
        )
    return submission


def set_aside_discard(*, actor: User | None, submission: Submission, key: str) -> Submission:
    """Drops a set-aside answer for good: the sign-up stays as it was stored."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission.pk)
        entry = submission.set_aside.pop(key, None)
        if entry is None:
            raise ServiceError(
                "not_found", "Nothing is set aside under this name.", status_code=404
            )
        submission.save(update_fields=["set_aside"])
        audit_record(
            actor=actor,
            action=AuditAction.SUBMISSION_DISCARD_ANSWER,
            target=submission,
            old={key: entry},
        )
    return submission


# --- rejected sign-ups -------------------------------------------------------------------------


def _open(rejection: RejectedSubmission) -> RejectedSubmission:
    locked = RejectedSubmission.objects.select_for_update().get(pk=rejection.pk)
    if locked.resolution:
        raise ServiceError(
            "already_resolved", f"This sign-up was already {locked.get_resolution_display()}."
        )
    return locked


def rejection_release(
    *, actor: User | None, rejection: RejectedSubmission, answers: dict[str, Any]
) -> Submission:
    """Stores a rejected sign-up with a manager's corrections, and sends it to the CRMs.

    ``answers`` override the answers as sent. The checks are the tablet's own, on the form
    version the shopper saw (or the store's current one, if that version is unknown); the
    store being closed or the tablet revoked since does not matter any more: a person decided.
    """
    with transaction.atomic():
        rejection = _open(rejection)
        sent = _payload(rejection)
        location = rejection.location
        if location is None:
            raise ServiceError("not_releasable", "Its store no longer exists; discard it.")
        version = form_version(version_id=_int(sent.get("form_version")))
        version = version or current_version(location=location)
        if version is None:
            raise ServiceError("no_published_form", "Publish a form for this store first.")
        languages = version.definition["languages"]
        sent_locale, sent_answers = sent.get("locale"), sent.get("answers")
        locale = sent_locale if isinstance(sent_locale, str) and sent_locale in languages else ""
        locale = locale or languages[0]
        merged: dict[str, Any] = dict(sent_answers) if isinstance(sent_answers, dict) else {}
        merged.update(answers)
        _, clean, captured_at, set_aside = submission_prepare(
            country=location.country,
            form_version_id=version.pk,
            locale=locale,
            captured_at=rejection.captured_at or rejection.received_at,
            answers=merged,
            consents=sent.get("consents", {}),
        )
        submission = _store(
            rejection=rejection,
            version=version,
            locale=locale,
            clean=clean,
            captured_at=captured_at,
            set_aside=set_aside,
        )
        rejection.resolution, rejection.resolved_at = Resolution.RELEASED, timezone.now()
        rejection.resolved_by, rejection.submission = actor, submission
        rejection.save()
        audit_record(
            actor=actor,
            action=AuditAction.REJECTION_RELEASE,
            target=rejection,
            old={"code": rejection.code},
            new={"submission": str(submission.pk), "corrected": sorted(answers)},
        )
        deliveries_requeue(
            submission_id=submission.pk,
            form_id=version.form_id,
            location_id=location.pk,
            now=timezone.now(),
        )
    return submission


def _payload(rejection: RejectedSubmission) -> dict[str, Any]:
    try:
        data = json.loads(rejection.payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int:
    return value if type(value) is int and 0 < value < 2**63 else 0


def _store(
    *,
    rejection: RejectedSubmission,
    version: FormVersion,
    locale: str,
    clean: CleanAnswers,
    captured_at: datetime,
    set_aside: dict[str, Any],
) -> Submission:
    # The tablet's id, unless a sign-up already has it (an id_conflict): then a new one.
    taken = Submission.objects.filter(pk=rejection.pk).exists()
    location = rejection.location
    assert location is not None  # noqa: S101 - checked by the caller
    submission = submission_build(
        submission_id=uuid4() if taken else rejection.pk,
        version=version,
        location=location,
        device=rejection.device,
        clean=clean,
        set_aside=set_aside,
        locale=locale,
        captured_at=captured_at,
    )
    submission.save(force_insert=True)
    Consent.objects.bulk_create(
        Consent(
            submission=submission,
            channel=row["channel"],
            granted=row["granted"],
            text_id=row["text_id"],
            text_hash=row["text_hash"],
            locale=locale,
            location=location,
            device=rejection.device,
            captured_at=captured_at,
        )
        for row in consent_evidence(
            definition=version.definition, locale=locale, consents=clean.consents
        )
    )
    return submission


def rejection_discard(
    *, actor: User | None, rejection: RejectedSubmission, reason: str = ""
) -> RejectedSubmission:
    with transaction.atomic():
        rejection = _open(rejection)
        rejection.resolution, rejection.resolved_at = Resolution.DISCARDED, timezone.now()
        rejection.resolved_by = actor
        rejection.save(update_fields=["resolution", "resolved_at", "resolved_by"])
        audit_record(
            actor=actor,
            action=AuditAction.REJECTION_DISCARD,
            target=rejection,
            old={"code": rejection.code},
            new={"reason": reason[:300]},
        )
    return rejection
