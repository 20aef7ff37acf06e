"""Klaviyo: create-or-update the profile, then subscribe the channels the shopper agreed to.

What this relies on in Klaviyo's contract (JSON:API, every request carries a ``revision``):

- ``POST /api/profile-import`` creates or updates one profile matched by email (201 or 200), so a
  repeated delivery updates the profile it made the first time. It answers 409
  ``duplicate_profile`` (``meta.duplicate_profile_id``) when the phone number already belongs to
  another profile: a spouse's or a parent's, common at a till. The profile is then imported
  again without ``phone_number`` (the number kept in the properties ``shared_phone_number`` and
  ``shared_phone_profile_id``) and the email subscribed. SMS consent for a number that is someone
  else's profile is only sent when the retailer turned on ``shared_phone_sms``: it then
  subscribes the profile that owns the number, which is a decision about consent only the
  retailer can make. Otherwise the delivery log says SMS was left out and why.
- ``locale`` is a profile attribute (BCP 47); mapped properties go to ``properties`` as JSON:
  lists stay lists, checkboxes booleans, numbers numbers, dates ``YYYY-MM-DD``.
- ``POST /api/profile-subscription-bulk-create-jobs`` subscribes profiles to email and/or SMS
  marketing and adds them to the list. It answers 202 and does the work later, so it reports no
  per-profile results, and one malformed profile fails the whole request with 400.
- ``consented_at`` may only be sent with ``historical_import: true`` (any value without it is an
  error), and must then be in the past. Historical imports skip the list's double opt-in and its
  "Added to list" flows. So a form without double opt-in sends the capture time as
  ``consented_at``, and a double opt-in form sends neither, letting the list ask for confirmation.
  With the destination's ``welcome_flows`` setting, single opt-in sign-ups are live subscriptions
  too (no ``consented_at``, Klaviyo dates the consent on arrival): the list's welcome flows fire,
  and a double opt-in list asks the shopper to confirm. The capture time stays on the profile
  (``email_consent_captured_at``).
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

DEFAULT_BASE_URL = "https://a.klaviyo.com"
#: The API revision we were written against; Klaviyo keeps a revision working for two years.
REVISION = "2025-10-15"
#: Private keys start with pk_; the 6-character public key only works on client endpoints.
PRIVATE_KEY_PREFIX = "pk_"
#: Channels Klaviyo subscribes, by our consent channel names.
CHANNELS = ("email", "sms")
DUPLICATE_PROFILE = "duplicate_profile"

#: Klaviyo's custom properties are JSON: every type but a year-less birthday (which goes as
#: text, MM-DD). The consent evidence is ours and cannot be overwritten by a mapping.
DIALECT = Dialect(
    vendor="Klaviyo",
    types=frozenset(PropertyType) - {PropertyType.BIRTHDAY},
    reserved=frozenset(
        f"{channel}_consent_{part}"
        for channel in CHANNELS
        for part in ("granted", "captured_at", "wording")
    ),
    missing_type_advice={
        PropertyType.BIRTHDAY: "Klaviyo has no date without a year: map the birthday as text "
        "(written MM-DD)."
    },
)


def duplicate_profile_id(response: httpx.Response) -> str | None:
    """The id of the profile a 409 ``duplicate_profile`` says holds our identifier."""
    if response.status_code != 409:
        return None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        if isinstance(error, dict) and error.get("code") == DUPLICATE_PROFILE:
            meta = error.get("meta")
            found = meta.get("duplicate_profile_id") if isinstance(meta, dict) else None
            return str(found) if found else None
    return None


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
    #: Single opt-in sign-ups subscribe live, so the list's "Added to list" flows fire.
    welcome_flows: bool
    #: SMS consent for a number another profile holds subscribes that profile.
    shared_phone_sms: bool


class KlaviyoProvider(Provider):
    settings: KlaviyoSettings
    kind: ClassVar[str] = "klaviyo"
    batch_size: ClassVar[int] = 1
    # 55 % of the 700/min steady limit (385/min); the bucket never holds more than 55 % of the
    # 75/s burst window.
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=700 * 0.55 / 60, burst=40)
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"base_url": UrlRole.API_BASE}
    dialect: ClassVar[Dialect] = DIALECT

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        errors = required_errors(settings, ["list_id"])
        errors.update(required_errors(credentials, ["api_key"]))
        api_key = str(credentials.get("api_key") or "").strip()
        if api_key and not api_key.startswith(PRIVATE_KEY_PREFIX):
            errors["api_key"] = [
                {"code": "invalid", "message": _("A Klaviyo private API key, starting with pk_.")}
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

    def profile(self, contact: Contact, *, phone_owner: str | None = None) -> dict[str, Any]:
        """The profile import; with ``phone_owner``, without the number that profile holds."""
        attributes: dict[str, Any] = {"email": contact.email}
        if contact.first_name:
            attributes["first_name"] = contact.first_name
        if contact.last_name:
            attributes["last_name"] = contact.last_name
        if contact.phone and phone_owner is None:
            attributes["phone_number"] = contact.phone
        if contact.postal_code:
            attributes["location"] = {"zip": contact.postal_code}
        if contact.locale:
            attributes["locale"] = contact.locale
        properties: dict[str, Any] = {}
        if phone_owner is not None:
            properties["shared_phone_number"] = contact.phone
            properties["shared_phone_profile_id"] = phone_owner
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
        # The retailer's field mapping names their own properties, so it wins (but for the
        # consent evidence, which the dialect keeps).
        properties.update(self.mapped(contact).values)
        attributes["properties"] = properties
        return {"data": {"type": "profile", "attributes": attributes}}

    def granted(self, contact: Contact, *, phone_owner: str | None = None) -> list[ConsentEvidence]:
        """The consents to subscribe: SMS needs a number, and one that is the shopper's own
        profile's unless the retailer allows subscribing a shared number."""
        return [
            evidence
            for evidence in contact.consents
            if evidence.granted
            and evidence.channel in CHANNELS
            # SMS consent means nothing without a number to send to.
            and (evidence.channel != "sms" or contact.phone)
            and (
                evidence.channel != "sms"
                or phone_owner is None
                or bool(self.settings.get("shared_phone_sms"))
            )
        ]

    def subscription_job(
        self, contact: Contact, *, phone_owner: str | None = None
    ) -> dict[str, Any] | None:
        """The subscription for the granted channels, or None when there is nothing to subscribe.

        With ``phone_owner`` the number is another profile's: its SMS subscription (if allowed at
        all) is a profile of its own, found by the number, beside the shopper's email one.
        """
        granted = self.granted(contact, phone_owner=phone_owner)
        if not granted:
            return None
        times = {evidence.channel: consent_time(evidence) for evidence in granted}
        # A historical import must date every consent, so an unreadable time falls back to a
        # live subscription (consent dated now) rather than losing the shopper. The retailer
        # may ask for live subscriptions anyway, so the list's welcome flows fire.
        historical = (
            not contact.double_opt_in
            and all(times.values())
            and not self.settings.get("welcome_flows")
        )
        subscriptions: dict[str, Any] = {}
        for evidence in granted:
            marketing: dict[str, Any] = {"consent": "SUBSCRIBED"}
            if historical:
                marketing["consented_at"] = times[evidence.channel]
            subscriptions[evidence.channel] = {"marketing": marketing}
        sms = subscriptions.pop("sms", None) if phone_owner is not None else None
        profiles: list[dict[str, Any]] = []
        attributes: dict[str, Any] = {"email": contact.email, "subscriptions": subscriptions}
        if "sms" in subscriptions:
            attributes["phone_number"] = contact.phone
        if subscriptions:
            profiles.append({"type": "profile", "attributes": attributes})
        if sms is not None:
            shared = {"phone_number": contact.phone, "subscriptions": {"sms": sms}}
            profiles.append({"type": "profile", "attributes": shared})
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
                    "profiles": {"data": profiles},
                },
                "relationships": {
                    "list": {"data": {"type": "list", "id": str(self.settings["list_id"])}}
                },
            }
        }

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return http.send(self.client, "POST", self.url(path), json=body, headers=self.headers())

    def _deliver(self, contact: Contact) -> dict[int, Result]:
        notes = list(self.mapped(contact).notes)
        response = self.post("/api/profile-import", self.profile(contact))
        phone_owner = duplicate_profile_id(response) if contact.phone else None
        if phone_owner is not None:
            # The number is someone else's profile: store the shopper without it rather than
            # lose their email consent.
            response = self.post(
                "/api/profile-import", self.profile(contact, phone_owner=phone_owner)
            )
            notes.append(
                f"phone_number: {contact.phone} belongs to another Klaviyo profile "
                f"({phone_owner}); kept as the property shared_phone_number."
            )
            if contact.granted("sms") and not self.settings.get("shared_phone_sms"):
                notes.append(
                    "SMS consent: not subscribed, the number is another profile's (turn on "
                    "“SMS for shared numbers” to subscribe that profile)."
                )
        imported = outcome(response)
        job = self.subscription_job(contact, phone_owner=phone_owner)
        if imported.verdict is not Verdict.DELIVERED or job is None:
            return {contact.key: with_notes(imported, notes)}
        # A failed subscription is the contact's result: the retry imports the profile again,
        # which only updates it, and then subscribes.
        subscribed = outcome(self.post("/api/profile-subscription-bulk-create-jobs", job))
        return {contact.key: with_notes(subscribed, notes)}

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
