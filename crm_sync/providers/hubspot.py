"""HubSpot: contacts upserted by email through the CRM v3 batch API.

The contract this follows (developers.hubspot.com, "Using Object APIs" and "Error handling"):

- ``POST /crm/v3/objects/contacts/batch/upsert`` with ``{"inputs": [{"id": <email>,
  "idProperty": "email", "properties": {...}, "objectWriteTraceId": ...}]}``, at most 100 inputs.
  The same email twice in one call is refused, so repeats of an email go in a later call.
- A unique ``objectWriteTraceId`` on every input turns on multi-status answers: 207 whose
  ``errors[].context.objectWriteTraceId`` names the inputs that failed; the others were written.
  We use the delivery key as the trace id.
- An empty string clears a property, so blank fields are left out rather than sent.
- Every value is a string in its property type's form: multi-selects ``a;b`` (option values),
  checkboxes ``true``/``false``, numbers as digits, dates ``YYYY-MM-DD`` (``providers.mapping``).
- A 400 for the whole call that names no input is marked ``whole_batch``: the sender splits it.
- 429 carries ``errorType: RATE_LIMIT`` and a ``policyName`` (a rolling ten-second window, or
  DAILY, which resets at midnight in the account's time zone); 423 Locked asks for at least 2 s.
- A private-app token goes in ``Authorization: Bearer``; 401 is a bad token, 403 a missing scope.

The private app needs the scopes ``crm.objects.contacts.write`` and ``crm.schemas.contacts.read``,
and the account needs these contact properties (the retailer creates them once; the connection
test names any that are missing):

- ``customerinfo_email_consent`` (checkbox), ``customerinfo_email_consent_at`` (date and time),
  ``customerinfo_email_consent_wording`` (single-line text: the hash of the exact wording);
- the same three for ``sms``.
"""

import json
import re
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, TypedDict

import httpx

from customerinfo.core.errors import FieldErrors

from .. import http
from ..endpoints import UrlRole
from ..limits import RateLimit
from .base import (
    Contact,
    Provider,
    Result,
    Verdict,
    classify,
    required_errors,
    retry_after_seconds,
    utc_timestamp,
    with_notes,
)
from .mapping import Dialect, PropertyType

DEFAULT_BASE_URL = "https://api.hubapi.com"
UPSERT_PATH = "/crm/v3/objects/contacts/batch/upsert"
PROPERTIES_PATH = "/crm/v3/properties/contacts"

CONSENT_CHANNELS = ("email", "sms")
#: Declined consents that still travel. A declined email box is the shopper's latest word on
#: email marketing; a declined SMS box is only the absence of an opt-in, and writing "false"
#: would erase an SMS opt-in the shopper gave the retailer elsewhere.
DECLINES_SENT = frozenset({"email"})

#: HubSpot's burst limit is a rolling ten-second window; when it names no wait, that is the wait.
ROLLING_WINDOW_SECONDS = 10.0
#: The daily limit resets at midnight in the account's time zone, which we do not know: an hour
#: between tries costs one request each while the quota stays spent.
DAILY_LIMIT_WAIT_SECONDS = 3600.0
#: 423 Locked: HubSpot asks for "a delay of at least 2 seconds" between requests.
LOCKED_WAIT_SECONDS = 2.0

_PROBE = Contact(key=0, submission_id="", email="")


def consent_property_names() -> list[str]:
    return [
        f"customerinfo_{channel}_consent{suffix}"
        for channel in CONSENT_CHANNELS
        for suffix in ("", "_at", "_wording")
    ]


def _checkbox(value: bool) -> str:
    # HubSpot takes every property value as a string; checkboxes are "true" / "false".
    return "true" if value else "false"


_TYPE = PropertyType
#: HubSpot's property types (Properties API: string, number, date, datetime, enumeration, bool;
#: a multi-select is an enumeration whose value is ``a;b``), and its standard contact properties.
DIALECT = Dialect(
    vendor="HubSpot",
    types=frozenset(PropertyType) - {PropertyType.BIRTHDAY},
    known={
        "firstname": _TYPE.TEXT,
        "lastname": _TYPE.TEXT,
        "phone": _TYPE.PHONE,
        "mobilephone": _TYPE.PHONE,
        "zip": _TYPE.TEXT,
        "city": _TYPE.TEXT,
        "state": _TYPE.TEXT,
        "country": _TYPE.TEXT,
        "address": _TYPE.TEXT,
        "company": _TYPE.TEXT,
        "jobtitle": _TYPE.TEXT,
        # A single-line text property in HubSpot, not a date.
        "date_of_birth": _TYPE.TEXT,
        "hs_language": _TYPE.ENUMERATION,
        "lifecyclestage": _TYPE.ENUMERATION,
    },
    reserved=frozenset({"email", *consent_property_names()}),
    strings_only=True,
    multi_separator=";",
    json_booleans=False,
    missing_type_advice={
        PropertyType.BIRTHDAY: "HubSpot dates need a year: map the birthday to a text property "
        "(written MM-DD)."
    },
    case_insensitive=True,
)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(error: Any) -> str:
    """The most precise words HubSpot gave: the detailed ``errors[].message`` when present."""
    if not isinstance(error, dict):
        return ""
    details = [
        str(detail["message"])
        for detail in error.get("errors") or []
        if isinstance(detail, dict) and detail.get("message")
    ]
    return "; ".join(details) or str(error.get("message") or "")


def _mentions(text: str, email: str) -> bool:
    """Whether HubSpot's message names this address (and not a longer one containing it)."""
    if not email:
        return False
    pattern = rf"(?<![\w.+-]){re.escape(email)}(?![\w-]|\.\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def _rounds(contacts: Sequence[Contact]) -> list[list[Contact]]:
    """Contacts split so no call repeats an email; later sign-ups go later and win."""
    rounds: list[list[Contact]] = []
    seen: dict[str, int] = {}
    for contact in contacts:
        email = contact.email.casefold()
        index = seen.get(email, 0)
        seen[email] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(contact)
    return rounds


class HubSpotSettings(TypedDict, total=False):
    """A HubSpot destination's settings; the token is in its credentials."""

    #: Another API host (HubSpot's EU data centre, or a test server).
    base_url: str


class HubSpotProvider(Provider):
    settings: HubSpotSettings
    kind: ClassVar[str] = "hubspot"
    batch_size: ClassVar[int] = 100
    # About 55 % of the smallest published limit (100 requests per 10 s per account).
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=5.5, burst=10)
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"base_url": UrlRole.API_BASE}
    dialect: ClassVar[Dialect] = DIALECT

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        return required_errors(credentials, ["access_token"])

    @property
    def base_url(self) -> str:
        return str(self.settings.get("base_url") or DEFAULT_BASE_URL).rstrip("/")

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.credentials['access_token']}",
            "Accept": "application/json",
        }

    def properties(self, contact: Contact) -> dict[str, str]:
        standard = {
            "firstname": contact.first_name,
            "lastname": contact.last_name,
            "phone": contact.phone,
            "zip": contact.postal_code,
            "hs_language": contact.locale.lower(),
        }
        properties = {name: value.strip() for name, value in standard.items() if value.strip()}
        for evidence in contact.consents:
            if evidence.channel not in CONSENT_CHANNELS:
                continue
            if not evidence.granted and evidence.channel not in DECLINES_SENT:
                continue
            prefix = f"customerinfo_{evidence.channel}_consent"
            properties[prefix] = _checkbox(evidence.granted)
            if evidence.captured_at:
                properties[f"{prefix}_at"] = utc_timestamp(evidence.captured_at)
            properties[f"{prefix}_wording"] = evidence.wording_hash
        # The email is the upsert key and the consent properties are ours: the dialect refuses
        # mapped properties that would contradict them.
        properties.update(self.mapped(contact).values)
        return properties

    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        rounds = _rounds(contacts)
        for number, batch in enumerate(rounds):
            outcome = self.guarded(batch, partial(self._upsert, batch))
            results.update(outcome)
            failure = next(
                (r for r in outcome.values() if r.verdict in (Verdict.RETRY, Verdict.BROKEN)),
                None,
            )
            if failure is not None:
                # Later sign-ups of the same emails must not overtake the one that failed.
                later = [contact for waiting in rounds[number + 1 :] for contact in waiting]
                results.update({contact.key: failure for contact in later})
                break
        return results

    def _upsert(self, batch: Sequence[Contact]) -> dict[int, Result]:
        inputs = [
            {
                "id": contact.email,
                "idProperty": "email",
                "objectWriteTraceId": str(contact.key),
                "properties": self.properties(contact),
            }
            for contact in batch
        ]
        response = http.send(
            self.client,
            "POST",
            self.base_url + UPSERT_PATH,
            json={"inputs": inputs},
            headers=self.headers(),
        )
        results = self.read_upsert(batch, response)
        return {
            contact.key: with_notes(results[contact.key], self.mapped(contact).notes)
            for contact in batch
        }

    def read_upsert(self, batch: Sequence[Contact], response: httpx.Response) -> dict[int, Result]:
        code = response.status_code
        body = _body(response)
        if 200 <= code < 300:
            if isinstance(body, dict):
                return self._per_input(batch, code, body)
            # A success without HubSpot's JSON (a proxy's page, say) proves nothing was written.
            result = Result(Verdict.RETRY, code, "HubSpot's answer could not be read.")
            return {contact.key: result for contact in batch}
        if code == 400:
            return self._refused_batch(batch, body)
        if code == 429:
            result = Result(Verdict.RETRY, code, _error_message(body), self._rate_wait(response))
        elif code == 423:
            wait = max(retry_after_seconds(response) or 0.0, LOCKED_WAIT_SECONDS)
            result = Result(Verdict.RETRY, code, _error_message(body), wait)
        else:
            # 404: the base URL leads nowhere HubSpot-like; the destination needs fixing.
            result = classify(response, broken=(401, 403, 404))
        return {contact.key: result for contact in batch}

    def _rate_wait(self, response: httpx.Response) -> float:
        waited = retry_after_seconds(response)
        if waited is not None:
            return waited
        body = _body(response)
        policy = str(body.get("policyName") or "") if isinstance(body, dict) else ""
        return DAILY_LIMIT_WAIT_SECONDS if policy == "DAILY" else ROLLING_WINDOW_SECONDS

    def _input_error(self, code: int, error: Any) -> Result:
        message = _error_message(error) or "HubSpot refused this contact."
        if "PROPERTY_DOESNT_EXIST" in json.dumps(error):
            # Not this contact's fault: the account lacks a property every contact carries.
            return Result(Verdict.BROKEN, code, f"Create the missing HubSpot property: {message}")
        return Result(Verdict.PERMANENT, code, message)

    def _per_input(
        self, batch: Sequence[Contact], code: int, body: dict[str, Any]
    ) -> dict[int, Result]:
        by_trace = {str(contact.key): contact for contact in batch}
        by_email = {contact.email.casefold(): contact for contact in batch}
        results: dict[int, Result] = {}
        unnamed_errors = 0
        for error in body.get("errors") or []:
            context = error.get("context") if isinstance(error, dict) else None
            traces = (context.get("objectWriteTraceId") or []) if isinstance(context, dict) else []
            named = [by_trace[str(trace)] for trace in traces if str(trace) in by_trace]
            for contact in named:
                results[contact.key] = self._input_error(code, error)
            unnamed_errors += not named
        reported: set[int] = set()
        for item in body.get("results") or []:
            if not isinstance(item, dict):
                continue
            email = str((item.get("properties") or {}).get("email") or "").casefold()
            echoed = by_trace.get(str(item.get("objectWriteTraceId"))) or by_email.get(email)
            if echoed is not None:
                reported.add(echoed.key)
        # Every error named its input: the rest were written. Otherwise only the inputs HubSpot
        # echoed back are known to be written; the others go again (the upsert makes that safe).
        for contact in batch:
            if contact.key in results:
                continue
            if unnamed_errors == 0 or contact.key in reported:
                results[contact.key] = Result(Verdict.DELIVERED, code)
            else:
                results[contact.key] = Result(
                    Verdict.RETRY, code, "HubSpot did not say whether this contact was written."
                )
        return results

    def _refused_batch(self, batch: Sequence[Contact], body: Any) -> dict[int, Result]:
        """400 for the whole call: nothing was written. Blame the contacts HubSpot names."""
        text = json.dumps(body) if body is not None else ""
        message = _error_message(body) or "HubSpot refused the batch."
        if "PROPERTY_DOESNT_EXIST" in text:
            result = Result(Verdict.BROKEN, 400, f"Create the missing HubSpot property: {message}")
            return {contact.key: result for contact in batch}
        contexts = [body] if isinstance(body, dict) else []
        if isinstance(body, dict):
            contexts += [error for error in body.get("errors") or [] if isinstance(error, dict)]
        traces = {
            str(trace)
            for error in contexts
            if isinstance(error.get("context"), dict)
            for trace in error["context"].get("objectWriteTraceId") or []
        }
        named = {
            contact.key
            for contact in batch
            if str(contact.key) in traces or _mentions(text, contact.email)
        }
        if not named:
            # One refusal for the whole call that names no contact: the sender splits the batch
            # to find the one HubSpot means, rather than killing all of them.
            result = Result(Verdict.PERMANENT, 400, message, whole_batch=True)
            return {contact.key: result for contact in batch}
        innocent = Result(
            Verdict.RETRY, 400, "HubSpot refused the batch for another contact; sent again."
        )
        return {
            contact.key: Result(Verdict.PERMANENT, 400, message)
            if contact.key in named
            else innocent
            for contact in batch
        }

    def test_connection(self) -> Result:
        return self.guarded([_PROBE], lambda: {_PROBE.key: self._probe()})[_PROBE.key]

    def _probe(self) -> Result:
        """Reads the account's contact properties: proves the token and our properties exist."""
        response = http.send(
            self.client, "GET", self.base_url + PROPERTIES_PATH, headers=self.headers()
        )
        if response.status_code != 200:
            return self.read_upsert([_PROBE], response)[_PROBE.key]
        body = _body(response)
        results = body.get("results") if isinstance(body, dict) else None
        names = {str(item.get("name")) for item in results or [] if isinstance(item, dict)}
        missing = [name for name in consent_property_names() if name not in names]
        if missing:
            return Result(
                Verdict.BROKEN,
                200,
                "Create these contact properties in HubSpot: " + ", ".join(missing) + ".",
            )
        return Result(Verdict.DELIVERED, 200)
