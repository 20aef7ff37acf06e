"""Salesforce Leads: the record we write for a sign-up, and how each record's result reads.

Split from ``salesforce.py`` (sessions, requests, the connection test), which uses these.

Field types follow the Lead object reference: text fields have a length beyond which Salesforce
refuses the whole lead (STRING_TOO_LONG), checkboxes are JSON booleans, dates ``YYYY-MM-DD``,
numbers JSON numbers, picklists their value and multi-select picklists ``a;b``
(``providers.mapping``).

An email longer than the Lead Email field's 80 characters is left out rather than cut: a cut
address is another person's, or nobody's. The lead is still written, with the reason recorded.

``DUPLICATES_DETECTED`` (an org's duplicate rule set to Block matched an existing Lead or
Contact) is a permanent refusal with the rule and the matched records named, not a delivery:
nothing of this sign-up, consent included, was written, and saying "delivered" would hide a
consent answer Salesforce never got. The retailer can set the rule to Allow (with an alert) for
the integration user and replay.
"""

from typing import Any

from .base import Contact, Result, Verdict, utc_timestamp
from .mapping import Dialect, Mapped, PropertyType

PLACEHOLDER = "[not provided]"

CONSENT_CHANNELS = ("email", "sms")
#: As for HubSpot: a declined SMS box is no opt-in and is not written; a declined email box is.
DECLINES_SENT = frozenset({"email"})

#: Lead text field lengths; longer values would make Salesforce refuse the whole lead.
FIELD_LENGTHS = {"FirstName": 40, "LastName": 80, "Company": 255, "Phone": 40, "PostalCode": 20}
EMAIL_LENGTH = 80

#: Per-record errors that a later try can clear.
TRANSIENT_RECORD_ERRORS = frozenset(
    {"UNABLE_TO_LOCK_ROW", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUEST_LIMIT_EXCEEDED"}
)
#: Errors that no lead can get past until the retailer fixes the org (fields, permissions).
DESTINATION_ERRORS = frozenset(
    {
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        "API_DISABLED_FOR_ORG",
        "NOT_FOUND",
    }
)
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"


def consent_field_names() -> list[str]:
    return [
        f"CustomerInfo_{channel.capitalize()}_Consent{suffix}__c"
        for channel in CONSENT_CHANNELS
        for suffix in ("", "_At", "_Wording")
    ]


_TYPE = PropertyType
#: Lead's standard fields by type (Object Reference, Lead); custom fields are declared on the
#: mapping screen or take the answer's natural type.
DIALECT = Dialect(
    vendor="Salesforce",
    types=frozenset(PropertyType) - {PropertyType.BIRTHDAY},
    known={
        "FirstName": _TYPE.TEXT,
        "LastName": _TYPE.TEXT,
        "Company": _TYPE.TEXT,
        "Title": _TYPE.TEXT,
        "Street": _TYPE.TEXT,
        "City": _TYPE.TEXT,
        "State": _TYPE.TEXT,
        "PostalCode": _TYPE.TEXT,
        "Country": _TYPE.TEXT,
        "Description": _TYPE.TEXT,
        "Website": _TYPE.TEXT,
        "Phone": _TYPE.PHONE,
        "MobilePhone": _TYPE.PHONE,
        "LeadSource": _TYPE.ENUMERATION,
        "Industry": _TYPE.ENUMERATION,
        "Rating": _TYPE.ENUMERATION,
        "Status": _TYPE.ENUMERATION,
        "DoNotCall": _TYPE.BOOLEAN,
        "NumberOfEmployees": _TYPE.NUMBER,
        "AnnualRevenue": _TYPE.NUMBER,
    },
    reserved=frozenset({"Email", "HasOptedOutOfEmail", "attributes", *consent_field_names()}),
    multi_separator=";",
    missing_type_advice={
        PropertyType.BIRTHDAY: "Salesforce dates need a year: map the birthday to a text field "
        "(written MM-DD)."
    },
)


def lead_record(
    contact: Contact, *, company: str, external_id_field: str, mapped: Mapped
) -> tuple[dict[str, Any], list[str]]:
    """The Lead for this sign-up, and what had to be left out of it."""
    notes = list(mapped.notes)
    email = contact.email.strip()
    if len(email) > EMAIL_LENGTH:
        notes.append(f"Email: longer than Salesforce's {EMAIL_LENGTH} characters.")
        email = ""
    text = {
        "FirstName": contact.first_name.strip(),
        "LastName": contact.last_name.strip() or PLACEHOLDER,
        "Company": company,
        "Email": email,
        "Phone": contact.phone.strip(),
        "PostalCode": contact.postal_code.strip(),
    }
    fields: dict[str, Any] = {
        name: value[: FIELD_LENGTHS.get(name, len(value))] for name, value in text.items() if value
    }
    consent = contact.consent("email")
    if consent is not None:
        # The standard opt-out is what Salesforce's own email tools honour.
        fields["HasOptedOutOfEmail"] = not consent.granted
    for evidence in contact.consents:
        if evidence.channel not in CONSENT_CHANNELS:
            continue
        if not evidence.granted and evidence.channel not in DECLINES_SENT:
            continue
        prefix = f"CustomerInfo_{evidence.channel.capitalize()}_Consent"
        fields[f"{prefix}__c"] = evidence.granted
        if evidence.captured_at:
            fields[f"{prefix}_At__c"] = utc_timestamp(evidence.captured_at)
        fields[f"{prefix}_Wording__c"] = evidence.wording_hash
    fields.update(mapped.values)
    # The key and the type come last so no mapped property can overwrite them.
    fields[external_id_field] = contact.submission_id
    fields["attributes"] = {"type": "Lead"}
    return fields, notes


def _duplicates_message(error: dict[str, Any]) -> str:
    duplicate = error.get("duplicateResult")
    rule = matched = ""
    if isinstance(duplicate, dict):
        rule = str(duplicate.get("duplicateRule") or "")
        ids = [
            str((match.get("record") or {}).get("Id"))
            for result in duplicate.get("matchResults") or []
            if isinstance(result, dict)
            for match in result.get("matchRecords") or []
            if isinstance(match, dict) and isinstance(match.get("record"), dict)
        ]
        matched = ", ".join(ids)
    return (
        f"{DUPLICATES_DETECTED}: Salesforce's duplicate rule {rule or '(unnamed)'} blocked this "
        f"lead{f'; it matches {matched}' if matched else ''}. Nothing was written. Set the rule "
        "to Allow (with an alert) for the integration user, then replay."
    )


def record_result(item: Any) -> Result:
    """One UpsertResult as a verdict."""
    if isinstance(item, dict) and item.get("success") is True:
        return Result(Verdict.DELIVERED, 200, "created" if item.get("created") else "updated")
    errors = item.get("errors") if isinstance(item, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else {}
    status = str(first.get("statusCode") or "") if isinstance(first, dict) else ""
    message = str(first.get("message") or "") if isinstance(first, dict) else ""
    text = f"{status}: {message}" if status else "Salesforce refused this lead."
    if status in TRANSIENT_RECORD_ERRORS:
        return Result(Verdict.RETRY, 200, text)
    if status in DESTINATION_ERRORS:
        return Result(Verdict.BROKEN, 200, text)
    if status == DUPLICATES_DETECTED and isinstance(first, dict):
        return Result(Verdict.PERMANENT, 200, _duplicates_message(first))
    return Result(Verdict.PERMANENT, 200, text)
