"""Klaviyo: create-or-update the profile, then subscribe the channels the shopper agreed to.

What this relies on in Klaviyo's contract (JSON:API, every request carries a ``revision``):

- ``POST /api/profile-import`` creates or updates one profile matched by email (201 or 200), so a
  repeated delivery updates the profile it made the first time. It answers 409 when the phone
  number already belongs to another profile: that contact cannot be stored as sent.
- ``POST /api/profile-subscription-bulk-create-jobs`` subscribes profiles to email and/or SMS
  marketing and adds them to the list. It answers 202 and does the work later, so it reports no
  per-profile results, and one malformed profile fails the whole request with 400.
- ``consented_at`` may only be sent with ``historical_import: true`` (any value without it is an
  error), and must then be in the past. Historical imports skip the list's double opt-in and its
  "Added to list" flows. So a form without double opt-in sends the capture time as
  ``consented_at``, and a double opt-in form sends neither, letting the list ask for confirmation.
- ``custom_source`` is stored on the consent records; it carries the wording reference.
- 75/s burst and 700/min steady per account for these endpoints, 429 with Retry-After beyond.
- Errors are ``{"errors": [{"code", "title", "detail", "source": {"pointer"}}]}``.

Batching: the import takes one profile, so the import endpoint sees one request per contact
whatever we do; grouping subscriptions would save only subscription calls while making a 400
impossible to pin on one contact. So ``batch_size = 1``: each send makes at most one request to
each endpoint.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Required, TypedDict

import httpx

from customerinfo.core.errors import FieldErrors

from .. import http
from ..endpoints import UrlRole
from ..limits import RateLimit
from .base import ConsentEvidence, Contact, Provider, Result, Verdict, classify, required_errors

DEFAULT_BASE_URL = "https://a.klaviyo.com"
#: The API revision we were written against; Klaviyo keeps a revision working for two years.
REVISION = "2025-10-15"
#: Private keys start with pk_; the 6-character public key only works on client endpoints.
PRIVATE_KEY_PREFIX = "pk_"
#: Channels Klaviyo subscribes, by our consent channel names.
CHANNELS = ("email", "sms")


def consent_time(evidence: ConsentEvidence) -> str | None:
    """The capture time for ``consented_at``, never later than now, or None when unreadable."""
    try:
        moment = datetime.fromisoformat(evidence.captured_at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Klaviyo refuses a consent time in the future; a tablet whose clock runs ahead must not
    # cost the shopper their subscription.
    return min(moment.astimezone(UTC), datetime.now(UTC)).isoformat()


def error_message(response: httpx.Response) -> str:
    """Klaviyo's JSON:API errors as one line: title, detail and where in the request."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:500]
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return response.text[:500]
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        text = " ".join(str(error[name]) for name in ("title", "detail") if error.get(name))
        pointer = (error.get("source") or {}).get("pointer")
        parts.append(f"{text} ({pointer})" if pointer else text)
    return "; ".join(parts)[:500]


def outcome(response: httpx.Response) -> Result:
    code = response.status_code
    if 200 <= code < 300:
        return Result(Verdict.DELIVERED, code)
    if 300 <= code < 400:
        return classify(response)
    message = error_message(response) or f"Klaviyo answered {code}."
    # 404: the list (or, with a wrong base URL, the API itself) is not there: the destination is
    # broken, not the contact.
    return replace(classify(response, broken=(401, 403, 404)), message=message)


class KlaviyoSettings(TypedDict, total=False):
    """A Klaviyo destination's settings; the private key is in its credentials."""

    list_id: Required[str]
    base_url: str


class KlaviyoProvider(Provider):
    settings: KlaviyoSettings
    kind: ClassVar[str] = "klaviyo"
    batch_size: ClassVar[int] = 1
    # 55 % of the 700/min steady limit (385/min); the bucket never holds more than 55 % of the
    # 75/s burst window.
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=700 * 0.55 / 60, burst=40)
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"base_url": UrlRole.API_BASE}

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        errors = required_errors(settings, ["list_id"])
        errors.update(required_errors(credentials, ["api_key"]))
        api_key = str(credentials.get("api_key") or "").strip()
        if api_key and not api_key.startswith(PRIVATE_KEY_PREFIX):
            errors["api_key"] = [
                {"code": "invalid", "message": "A Klaviyo private API key, starting with pk_."}
            ]
        return errors

    def url(self, path: str) -> str:
        return str(self.settings.get("base_url") or DEFAULT_BASE_URL).rstrip("/") + path

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Klaviyo-API-Key {str(self.credentials['api_key']).strip()}",
            "revision": REVISION,
            "accept": "application/vnd.api+json",
            "content-type": "application/vnd.api+json",
        }

    def profile(self, contact: Contact) -> dict[str, Any]:
        attributes: dict[str, Any] = {"email": contact.email}
        if contact.first_name:
            attributes["first_name"] = contact.first_name
        if contact.last_name:
            attributes["last_name"] = contact.last_name
        if contact.phone:
            attributes["phone_number"] = contact.phone
        if contact.postal_code:
            attributes["location"] = {"zip": contact.postal_code}
        properties: dict[str, Any] = {"locale": contact.locale}
        if contact.birthday_month and contact.birthday_day:
            # Klaviyo has no birthday attribute; without the year, month and day stay numbers.
            properties["birthday_month"] = contact.birthday_month
            properties["birthday_day"] = contact.birthday_day
        if contact.location_name:
            properties["signup_location"] = contact.location_name
        # Every answer to a consent question, granted or not, with the words it answered.
        for evidence in contact.consents:
            properties[f"{evidence.channel}_consent_granted"] = evidence.granted
            properties[f"{evidence.channel}_consent_captured_at"] = evidence.captured_at
            properties[f"{evidence.channel}_consent_wording"] = (
                f"#{evidence.wording_id} {evidence.wording_hash} ({evidence.locale})"
            )
        # The retailer's field mapping names their own properties, so it wins.
        properties.update(contact.properties)
        attributes["properties"] = properties
        return {"data": {"type": "profile", "attributes": attributes}}

    def subscription_job(self, contact: Contact) -> dict[str, Any] | None:
        """The subscription for the granted channels, or None when there is nothing to subscribe."""
        granted = [
            evidence
            for evidence in contact.consents
            if evidence.granted
            and evidence.channel in CHANNELS
            # SMS consent means nothing without a number to send to.
            and (evidence.channel != "sms" or contact.phone)
        ]
        if not granted:
            return None
        times = {evidence.channel: consent_time(evidence) for evidence in granted}
        # A historical import must date every consent, so an unreadable time falls back to a
        # live subscription (consent dated now) rather than losing the shopper.
        historical = not contact.double_opt_in and all(times.values())
        subscriptions: dict[str, Any] = {}
        for evidence in granted:
            marketing: dict[str, Any] = {"consent": "SUBSCRIBED"}
            if historical:
                marketing["consented_at"] = times[evidence.channel]
            subscriptions[evidence.channel] = {"marketing": marketing}
        attributes: dict[str, Any] = {"email": contact.email, "subscriptions": subscriptions}
        if "sms" in subscriptions:
            attributes["phone_number"] = contact.phone
        wording = ", ".join(
            f"{evidence.channel} wording #{evidence.wording_id} {evidence.wording_hash[:12]}"
            for evidence in granted
        )
        source = f"CustomerInfo {contact.location_name or 'sign-up'}: {wording}"
        return {
            "data": {
                "type": "profile-subscription-bulk-create-job",
                "attributes": {
                    "custom_source": source[:255],
                    "historical_import": historical,
                    "profiles": {"data": [{"type": "profile", "attributes": attributes}]},
                },
                "relationships": {
                    "list": {"data": {"type": "list", "id": str(self.settings["list_id"])}}
                },
            }
        }

    def post(self, path: str, body: dict[str, Any]) -> Result:
        response = http.send(self.client, "POST", self.url(path), json=body, headers=self.headers())
        return outcome(response)

    def _deliver(self, contact: Contact) -> dict[int, Result]:
        imported = self.post("/api/profile-import", self.profile(contact))
        job = self.subscription_job(contact)
        if imported.verdict is not Verdict.DELIVERED or job is None:
            return {contact.key: imported}
        # A failed subscription is the contact's result: the retry imports the profile again,
        # which only updates it, and then subscribes.
        return {contact.key: self.post("/api/profile-subscription-bulk-create-jobs", job)}

    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        for contact in contacts:
            results.update(self.guarded([contact], partial(self._deliver, contact)))
        return results

    def test_connection(self) -> Result:
        def read_list() -> dict[int, Result]:
            response = http.send(
                self.client,
                "GET",
                self.url(f"/api/lists/{self.settings['list_id']}"),
                headers=self.headers(),
            )
            return {0: outcome(response)}

        return self.guarded([Contact(key=0, submission_id="", email="")], read_list)[0]
