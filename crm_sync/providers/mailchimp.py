"""Mailchimp Marketing API 3.0: one idempotent PUT per contact.

What this relies on in Mailchimp's contract:

- A member lives at ``/lists/{list_id}/members/{md5 of the lower-cased address}``, so a PUT there
  is an upsert: a repeated delivery finds the member it made the first time.
- ``status_if_new`` only applies when the PUT creates the member. The first PUT never sends
  ``status``, which would change an existing member: a subscribed member is not pushed back to
  pending by a double opt-in form, and a sign-up without consent lowers nobody. When the
  member's status (in the answer) is below what this sign-up's consent grants, a second PUT
  raises it: transactional to subscribed (pending for double opt-in), pending to subscribed
  for a single opt-in form, unsubscribed to pending (the shopper confirms by email). Cleaned
  and archived members are left alone.
- Merge fields are strings or numbers (the SDK's ``merge_fields`` type): birthdays ``MM/DD``,
  dates ``YYYY-MM-DD``, checkboxes and multiple choices as words (``providers.mapping``). A 400
  that names only merge fields we sent is answered by sending the member again without them,
  the reason recorded on the delivery.
- Errors are problem documents (``title``, ``detail``, and on 400 an ``errors`` list of field
  messages); a 404 on a member PUT can only mean the audience is gone.
- At most 10 simultaneous connections per account, answered with 429 beyond that (without
  Retry-After: the retry schedule decides); Mailchimp publishes no request rate.
- The API key ends in the account's datacenter (``…-us21``), which names the API host.

Batching: the batch subscribe endpoint (``POST /lists/{list_id}``) takes a ``status`` per member
and, with ``update_existing``, overwrites existing members' status; its per-member errors only
say ``ERROR_CONTACT_EXISTS`` or ``ERROR_GENERIC``. It can neither keep an existing member's status
nor tell a permanent refusal from a passing one, so every contact gets its own PUT
(``batch_size = 1``) and the 10 connections carry the throughput.

Consent evidence goes where Mailchimp keeps it natively: ``timestamp_signup`` is the capture time
and, for a direct opt-in, ``timestamp_opt`` the moment the box was ticked (for double opt-in
Mailchimp sets it when the shopper confirms). Tags and notes would need extra calls (and notes are
not idempotent), so the wording reference travels as a text merge field that the retailer names in
``consent_merge_field``: merge fields are per-audience, and a tag we invent might not exist.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Required, TypedDict

import httpx
from django.utils.translation import gettext as _

from customerinfo.core.errors import FieldErrors

from .. import http
from ..endpoints import UrlRole
from ..limits import RateLimit
from .base import (
    ConsentEvidence,
    Contact,
    Provider,
    Result,
    Verdict,
    classify,
    required_errors,
    with_notes,
)
from .mapping import Dialect, PropertyType

#: A Mailchimp API key: 32 hex digits, a dash, the datacenter.
_API_KEY = re.compile(r"^[0-9a-f]{32}-(?P<datacenter>[a-z]+[0-9]+)$")
#: Merge tags are upper-case letters, digits and underscores, at most 10 characters.
_MERGE_TAG = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")
#: Text merge fields hold at most 255 characters.
_TEXT_FIELD_LENGTH = 255
#: Mailchimp's anti-abuse throttle for an address that joined many lists lately. It lifts after
#: minutes to days, so it is worth retrying rather than a verdict on the contact.
_SIGNUP_THROTTLE = "not allowing more signups for now"


#: A North American number in E.164: +1 and ten digits.
_NANP = re.compile(r"^\+1(\d{3})(\d{3})(\d{4})$")
#: Statuses by how much marketing they allow; a later sign-up with consent only ever raises one.
#: "cleaned" (the address bounced) and "archived" are never touched.
_UPGRADES = {
    # A member who unsubscribed and ticks the box again confirms by email, as Mailchimp asks of
    # anyone re-subscribed.
    "unsubscribed": {"subscribed": "pending", "pending": "pending"},
    "transactional": {"subscribed": "subscribed", "pending": "pending"},
    "pending": {"subscribed": "subscribed"},
}


def phone_text(phone: str) -> str:
    """A phone number as the PHONE merge field takes it.

    A US-format field refuses anything but ten North American digits; an international one takes
    any text. ``212-555-0123`` suits both, so North American numbers go that way and others in
    E.164 (a US-format field refuses those: the PUT is made again without PHONE, with the reason
    recorded).
    """
    match = _NANP.match(phone)
    return f"{match[1]}-{match[2]}-{match[3]}" if match else phone


_TYPE = PropertyType
#: Mailchimp's merge field types (text, number, phone, date, radio/dropdown, birthday, address,
#: zip, url): no checkbox and no multi-select, which go as words to a text field.
DIALECT = Dialect(
    vendor="Mailchimp",
    types=frozenset(
        {_TYPE.TEXT, _TYPE.NUMBER, _TYPE.DATE, _TYPE.ENUMERATION, _TYPE.PHONE, _TYPE.BIRTHDAY}
    ),
    known={
        "FNAME": _TYPE.TEXT,
        "LNAME": _TYPE.TEXT,
        "PHONE": _TYPE.PHONE,
        "BIRTHDAY": _TYPE.BIRTHDAY,
        "COMPANY": _TYPE.TEXT,
    },
    refused={"ADDRESS": "Mailchimp's ADDRESS needs street, city, state and zip together."},
    missing_type_advice={
        _TYPE.BOOLEAN: "Mailchimp merge fields hold no checkbox: map it to a text field "
        "(written Yes or No).",
        _TYPE.MULTI_SELECT: "Mailchimp merge fields hold no multi-select: map it to a text field "
        "(answers joined by commas).",
    },
    case_insensitive=True,
    phone_format=phone_text,
)


def subscriber_hash(email: str) -> str:
    """The member's id in Mailchimp URLs: MD5 of the lower-cased address (an id, not security)."""
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def datacenter(api_key: str) -> str | None:
    match = _API_KEY.match(api_key.strip())
    return match["datacenter"] if match else None


def status_if_new(contact: Contact) -> str:
    """A new member's status: marketing only with consent, pending while it awaits confirmation."""
    if not contact.granted("email"):
        # Transactional members exist in the audience but receive no marketing.
        return "transactional"
    return "pending" if contact.double_opt_in else "subscribed"


def mailchimp_time(value: str) -> str | None:
    """An ISO 8601 capture time in UTC to the second, or None when it cannot be read."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def consent_reference(evidence: ConsentEvidence) -> str:
    """One line that ties a member to the exact words the shopper saw, and when."""
    answer = "granted" if evidence.granted else "not granted"
    line = (
        f"{evidence.channel} {answer} {evidence.captured_at}; wording #{evidence.wording_id} "
        f"{evidence.wording_hash[:16]} ({evidence.locale})"
    )
    return line[:_TEXT_FIELD_LENGTH]


def problem_message(response: httpx.Response) -> str:
    """Mailchimp's problem document as one line: title, detail and any field messages."""
    try:
        problem = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500]
    if not isinstance(problem, dict):
        return response.text[:500]
    message = ": ".join(str(problem[part]) for part in ("title", "detail") if problem.get(part))
    fields = [
        f"{error.get('field')}: {error.get('message')}"
        for error in problem.get("errors") or []
        if isinstance(error, dict)
    ]
    if fields:
        message += f" ({'; '.join(fields)})"
    return message[:500]


def refused_merge_fields(response: httpx.Response, sent: Mapping[str, Any]) -> list[str]:
    """The merge fields a 400 names as refused, when every field it names is one we sent."""
    if response.status_code != 400:
        return []
    try:
        problem = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    errors = problem.get("errors") if isinstance(problem, dict) else None
    named = [
        str(error.get("field") or "").removeprefix("merge_fields.")
        for error in errors or []
        if isinstance(error, dict)
    ]
    return named if named and all(tag in sent for tag in named) else []


def outcome(response: httpx.Response, *, list_id: str) -> Result:
    code = response.status_code
    if 200 <= code < 300:
        return Result(Verdict.DELIVERED, code)
    if 300 <= code < 400:
        return classify(response)
    message = problem_message(response)
    if code == 404:
        return Result(
            Verdict.BROKEN,
            code,
            f"The Mailchimp audience {list_id!r} was not found; it may have been deleted, or the "
            f"API key belongs to another account. ({message})",
        )
    if code == 400 and _SIGNUP_THROTTLE in message:
        return Result(Verdict.RETRY, code, message)
    return replace(classify(response), message=message or f"Mailchimp answered {code}.")


class MailchimpSettings(TypedDict, total=False):
    """A Mailchimp destination's settings; the API key (and its data centre) is in its
    credentials."""

    list_id: Required[str]
    base_url: str
    #: Merge fields of the audience that take the postal code and the consent wording, if any.
    postal_code_merge_field: str
    consent_merge_field: str


class MailchimpProvider(Provider):
    settings: MailchimpSettings
    kind: ClassVar[str] = "mailchimp"
    batch_size: ClassVar[int] = 1
    # Mailchimp publishes no request rate, only the connection cap below; this is a polite ceiling
    # that leaves most of what 10 connections can carry to the retailer's other tools.
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=20, burst=20)
    max_connections: ClassVar[int | None] = 10
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"base_url": UrlRole.API_BASE}
    dialect: ClassVar[Dialect] = DIALECT

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        errors = required_errors(settings, ["list_id"])
        errors.update(required_errors(credentials, ["api_key"]))
        api_key = str(credentials.get("api_key") or "").strip()
        if api_key and datacenter(api_key) is None:
            errors["api_key"] = [
                {
                    "code": "invalid",
                    "message": _("A Mailchimp API key ends in its datacenter, like …-us21."),
                }
            ]
        for name in ("consent_merge_field", "postal_code_merge_field"):
            tag = settings.get(name)
            if tag and not _MERGE_TAG.match(str(tag)):
                errors[name] = [
                    {
                        "code": "invalid",
                        "message": _(
                            "A merge tag: capital letters, digits, underscores, 10 at most."
                        ),
                    }
                ]
        return errors

    def base_url(self) -> str | None:
        """The API host: the settings' override (tests, proxies) or the key's datacenter."""
        if self.settings.get("base_url"):
            return str(self.settings["base_url"]).rstrip("/")
        center = datacenter(str(self.credentials.get("api_key") or ""))
        return f"https://{center}.api.mailchimp.com" if center else None

    def list_url(self, base_url: str) -> str:
        return f"{base_url}/3.0/lists/{self.settings['list_id']}"

    def auth(self) -> httpx.BasicAuth:
        # Basic auth with any user name and the API key as the password.
        return httpx.BasicAuth("customerinfo", str(self.credentials["api_key"]).strip())

    def merge_fields(self, contact: Contact) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if contact.first_name:
            fields["FNAME"] = contact.first_name
        if contact.last_name:
            fields["LNAME"] = contact.last_name
        if contact.phone:
            fields["PHONE"] = phone_text(contact.phone)
        if contact.birthday_month and contact.birthday_day:
            fields["BIRTHDAY"] = f"{contact.birthday_month:02d}/{contact.birthday_day:02d}"
        # The default ADDRESS field refuses anything short of street, city, state and zip, so a
        # lone postal code goes to the zip field the retailer names, if any.
        postal_code_field = self.settings.get("postal_code_merge_field")
        if postal_code_field and contact.postal_code:
            fields[str(postal_code_field)] = contact.postal_code
        consent_field = self.settings.get("consent_merge_field")
        evidence = contact.consent("email")
        if consent_field and evidence is not None:
            fields[str(consent_field)] = consent_reference(evidence)
        # The retailer's mapping names the audience's fields as they really are, so it wins.
        fields.update(self.mapped(contact).values)
        return fields

    def member(self, contact: Contact) -> dict[str, Any]:
        body: dict[str, Any] = {
            "email_address": contact.email,
            "status_if_new": status_if_new(contact),
        }
        merge_fields = self.merge_fields(contact)
        if merge_fields:
            body["merge_fields"] = merge_fields
        signed_up = mailchimp_time(contact.captured_at)
        if signed_up:
            body["timestamp_signup"] = signed_up
        evidence = contact.consent("email")
        if body["status_if_new"] == "subscribed" and evidence is not None:
            opted_in = mailchimp_time(evidence.captured_at)
            if opted_in:
                body["timestamp_opt"] = opted_in
        return body

    def _put(self, base_url: str, contact: Contact, body: dict[str, Any]) -> httpx.Response:
        return http.send(
            self.client,
            "PUT",
            f"{self.list_url(base_url)}/members/{subscriber_hash(contact.email)}",
            json=body,
            auth=self.auth(),
        )

    def _upsert(self, base_url: str, contact: Contact) -> dict[int, Result]:
        list_id = str(self.settings["list_id"])
        body = self.member(contact)
        notes = list(self.mapped(contact).notes)
        response = self._put(base_url, contact, body)
        refused = refused_merge_fields(response, body.get("merge_fields") or {})
        if refused:
            # A merge field the audience will not take (a US-format PHONE given a French number,
            # a dropdown without that option) must not cost the shopper the sign-up: send the
            # rest and say what was left out and why.
            notes += [f"{tag}: {problem_message(response)}" for tag in refused]
            body["merge_fields"] = {
                tag: value for tag, value in body["merge_fields"].items() if tag not in refused
            }
            response = self._put(base_url, contact, body)
        result = outcome(response, list_id=list_id)
        if result.verdict is Verdict.DELIVERED:
            result = self._raise_status(base_url, contact, response, result)
        return {contact.key: with_notes(result, notes)}

    def _raise_status(
        self, base_url: str, contact: Contact, response: httpx.Response, result: Result
    ) -> Result:
        """Raises an existing member's status when this sign-up grants more than it has.

        ``status_if_new`` only applies to new members, so a shopper who first signed up without
        consent and ticks the box on a later visit would stay transactional.
        """
        try:
            current = str(response.json().get("status") or "")
        except (ValueError, AttributeError):
            return result
        wanted = status_if_new(contact) if contact.granted("email") else ""
        raised = _UPGRADES.get(current, {}).get(wanted)
        if raised is None:
            return result
        body: dict[str, Any] = {"email_address": contact.email, "status": raised}
        evidence = contact.consent("email")
        opted_in = mailchimp_time(evidence.captured_at) if evidence is not None else None
        if raised == "subscribed" and opted_in:
            body["timestamp_opt"] = opted_in
        upgrade = outcome(self._put(base_url, contact, body), list_id=str(self.settings["list_id"]))
        if upgrade.verdict is Verdict.PERMANENT:
            # The member and its fields are written; only the status change was refused.
            return replace(result, message=f"Status not raised from {current}: {upgrade.message}")
        if upgrade.verdict is Verdict.DELIVERED:
            return replace(result, message=f"Status raised from {current} to {raised}.")
        return upgrade

    def _no_host(self) -> Result:
        return Result(
            Verdict.BROKEN, message="The Mailchimp API key does not end in a datacenter (…-us21)."
        )

    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        base_url = self.base_url()
        if base_url is None:
            return {contact.key: self._no_host() for contact in contacts}
        results: dict[int, Result] = {}
        for contact in contacts:
            results.update(self.guarded([contact], partial(self._upsert, base_url, contact)))
        return results

    def test_connection(self) -> Result:
        base_url = self.base_url()
        if base_url is None:
            return self._no_host()

        def read_list() -> dict[int, Result]:
            response = http.send(
                self.client,
                "GET",
                self.list_url(base_url),
                params={"fields": "id,name"},
                auth=self.auth(),
            )
            return {0: outcome(response, list_id=str(self.settings["list_id"]))}

        return self.guarded([Contact(key=0, submission_id="", email="")], read_list)[0]
