"""A sign-up as providers see it: the ``Contact`` built from a stored submission.

Runs inside ``failures.contacts_send``: a sign-up whose contact cannot be built (an answer of an
unexpected shape, say) is a failed attempt of that delivery alone, never a crashed round.

Mapped values keep their kind for the provider to write in its vendor's format
(``providers.mapping``): a multiple choice is a list, a checkbox a bool, the birthday a
``Birthday``, the sign-up date a ``date``; everything else is text.
"""

from typing import Any
from zoneinfo import ZoneInfo

from signup.models import Submission

from .providers import ConsentEvidence, Contact
from .providers.mapping import SIGNUP_DATE, Birthday


def _value(submission: Submission, key: str) -> Any:
    if key == "birthday":
        if submission.birthday_month and submission.birthday_day:
            return Birthday(submission.birthday_month, submission.birthday_day)
        return None
    if key == SIGNUP_DATE:
        # The day in the store, which is the day the shopper would name.
        return submission.captured_at.astimezone(ZoneInfo(submission.location.time_zone)).date()
    if key in {"email", "first_name", "last_name", "phone", "postal_code"}:
        return getattr(submission, key)
    return submission.answers.get(key)


def contact_build(*, key: int, submission: Submission, field_mapping: dict[str, str]) -> Contact:
    definition = submission.form_version.definition
    properties = {
        crm_property: value
        for form_field, crm_property in field_mapping.items()
        if (value := _value(submission, form_field)) not in (None, "", [])
    }
    return Contact(
        key=key,
        submission_id=str(submission.pk),
        email=submission.email,
        first_name=submission.first_name,
        last_name=submission.last_name,
        phone=submission.phone,
        birthday_month=submission.birthday_month,
        birthday_day=submission.birthday_day,
        postal_code=submission.postal_code,
        locale=submission.locale,
        location_code=submission.location.code,
        location_name=submission.location.name,
        captured_at=submission.captured_at.isoformat(),
        double_opt_in=bool(definition.get("double_opt_in")),
        answers=dict(submission.answers),
        consents=tuple(
            ConsentEvidence(
                channel=consent.channel,
                granted=consent.granted,
                captured_at=consent.captured_at.isoformat(),
                wording_hash=consent.text_hash,
                wording_id=consent.text_id,
                locale=consent.locale,
            )
            for consent in submission.consents.all()
        ),
        properties=properties,
    )
