"""A fake Klaviyo API: profile import, subscription jobs and lists.

Every request body is first checked against Klaviyo's published OpenAPI schema at the revision the
provider pins (``specs/klaviyo.json``, from klaviyo/openapi ``stable.json``) and refused with 400
``invalid`` naming the pointer. Errors have the schema's ClientError shape; the 409
``duplicate_profile`` carries ``meta.duplicate_profile_id`` as Klaviyo's does. A subscription job
profile that gives only a phone number subscribes the profile that holds that number; one that
gives an email and a number another profile holds is refused 409 (Klaviyo documents no answer
for that case: the fake is stricter than any it might give, so the provider never sends it).

It also enforces what the provider depends on: ``Authorization: Klaviyo-API-Key <private key>``, the
``revision`` header (400 without it), JSON:API request shapes with Klaviyo's error bodies,
profiles keyed by email (so a test can prove one contact makes one profile), a phone number
belonging to one profile only (409), ``consented_at`` only with ``historical_import`` and in the
past, list existence (404), and the 75/s burst and 700/min steady windows of each endpoint (429
with Retry-After). ``latency=0.02`` (FakeServer's ``delay``) makes a 20 ms CRM.

Profiles are keyed by email only: that is the part of the contract this product uses.
"""

import math
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from .klaviyo_errors import (
    consent_time_errors,
    error,
    invalid,
    list_reference,
    resource,
)
from .schemas import spec
from .server import FakeServer, RateWindow, Reply, Request

__all__ = ["API_KEY", "JOB_PROFILES_MAX", "LIST_ID", "SUBSCRIPTION_JOBS", "FakeKlaviyo", "invalid"]

API_KEY = "pk_0123456789abcdef0123456789abcdef01"
LIST_ID = "Y6nRLr"
PROFILE_IMPORT = "profile-import"
SUBSCRIPTION_JOBS = "profile-subscription-bulk-create-jobs"
LISTS = "lists"
#: The attributes a profile accepts; anything else is refused as Klaviyo does.
PROFILE_ATTRIBUTES = {
    "email",
    "phone_number",
    "external_id",
    "anonymous_id",
    "_kx",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
    "location",
    "properties",
}
#: The most profiles one subscription job may carry.
JOB_PROFILES_MAX = 1000
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
#: BCP 47 as Klaviyo's profile ``locale`` takes it: a language, and a region if any.
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
OPERATIONS = {
    PROFILE_IMPORT: "POST /api/profile-import",
    SUBSCRIPTION_JOBS: "POST /api/profile-subscription-bulk-create-jobs",
}


class FakeKlaviyo(FakeServer):
    def __init__(
        self, *, api_key: str = API_KEY, list_id: str = LIST_ID, latency: float = 0.0
    ) -> None:
        super().__init__()
        #: Seconds every answer takes (FakeServer's delay), like a real CRM's round trip.
        self.delay = latency
        self.api_key = api_key
        #: Lists by id: whether they ask for double opt-in, and who is on them.
        self.lists: dict[str, dict[str, Any]] = {
            list_id: {"double_opt_in": False, "members": set()}
        }
        #: Profiles by lower-cased email.
        self.contacts: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.updates = 0
        #: Consent per lower-cased email and channel: consent, consented_at, custom_source.
        self.subscriptions: dict[str, dict[str, dict[str, Any]]] = {}
        #: Every accepted subscription job body, in order.
        self.jobs: list[dict[str, Any]] = []
        #: Per endpoint, the burst and steady windows; tests shrink them to provoke 429.
        self.windows: dict[str, list[RateWindow]] = {
            endpoint: [RateWindow(limit=75, seconds=1), RateWindow(limit=700, seconds=60)]
            for endpoint in (PROFILE_IMPORT, SUBSCRIPTION_JOBS, LISTS)
        }

    def profile(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            return self.contacts.get(email.lower())

    def profile_of(self, email: str) -> dict[str, Any]:
        """The profile, which the test expects to exist."""
        profile = self.profile(email)
        assert profile is not None, f"{email} has no profile"
        return profile

    def _refusals(self, request: Request, endpoint: str) -> Iterator[Reply]:
        """Why Klaviyo would refuse this request before reading it, if it would."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "Klaviyo-API-Key" or key != self.api_key:
            yield error(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                "Missing or invalid private key.",
            )
        if not _REVISION.match(request.headers.get("revision", "")):
            yield error(
                400,
                "invalid",
                "Invalid input.",
                "Missing or invalid 'revision' header (format: YYYY-MM-DD[.suffix]).",
                pointer="/headers/revision",
            )
        if endpoint not in self.windows:
            yield error(404, "not_found", "Not found.", "The requested resource was not found.")
            return
        # Both windows count every request, as Klaviyo's fixed windows do.
        waits = [wait for window in self.windows[endpoint] if (wait := window.allow()) is not None]
        if waits:
            seconds = max(1, math.ceil(max(waits)))
            yield error(
                429,
                "throttled",
                "Request was throttled.",
                f"Request was throttled. Expected available in {seconds} seconds.",
                headers={"Retry-After": str(seconds)},
            )

    def handle(self, request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        endpoint = parts[1] if len(parts) > 1 and parts[0] == "api" else ""
        refusal = next(self._refusals(request, endpoint), None)
        if refusal is not None:
            return refusal
        routes: dict[tuple[str, str, int], Callable[[Request, list[str]], Reply]] = {
            ("POST", PROFILE_IMPORT, 2): self._profile_import,
            ("POST", SUBSCRIPTION_JOBS, 2): self._subscription_job,
            ("GET", LISTS, 3): self._list,
        }
        route = routes.get((request.method, endpoint, len(parts)))
        if route is None:
            return error(405, "method_not_allowed", "Method not allowed.", "Method not allowed.")
        if endpoint in OPERATIONS:
            refused = self._schema_refusal(request, OPERATIONS[endpoint])
            if refused is not None:
                return refused
        return route(request, parts)

    def _schema_refusal(self, request: Request, operation: str) -> Reply | None:
        """400 for a body Klaviyo's published schema refuses, naming the first place."""
        try:
            body = request.json()
        except ValueError:
            return invalid("The payload provided in the request is invalid.", "/data")
        problems = spec("klaviyo").request_errors(operation, body)
        if not problems:
            return None
        pointer, _, detail = problems[0].partition(": ")
        return invalid(detail, pointer)

    def _list(self, request: Request, parts: list[str]) -> Reply:
        list_id = parts[2]
        found = self.lists.get(list_id)
        if found is None:
            return self._list_missing(list_id)
        process = "double_opt_in" if found["double_opt_in"] else "single_opt_in"
        return Reply(
            200,
            {
                "data": {
                    "type": "list",
                    "id": list_id,
                    "attributes": {"name": "Fake list", "opt_in_process": process},
                }
            },
        )

    def _list_missing(self, list_id: str) -> Reply:
        return error(404, "not_found", "Not found.", f"A list with id {list_id} does not exist.")

    def _profile_error(self, attributes: dict[str, Any]) -> Reply | None:
        for name in attributes:
            if name not in PROFILE_ATTRIBUTES:
                return invalid(
                    f"'{name}' is not a valid field for the resource 'profile'.",
                    f"/data/attributes/{name}",
                )
        email = attributes.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email):
            return invalid("Invalid email address.", "/data/attributes/email")
        phone = attributes.get("phone_number")
        if phone is not None and not (isinstance(phone, str) and _E164.match(phone)):
            return invalid(
                "Invalid phone number format (Example of a valid phone number format: "
                "+12345678901)",
                "/data/attributes/phone_number",
            )
        locale = attributes.get("locale")
        if locale is not None and not (isinstance(locale, str) and _LOCALE.match(locale)):
            return invalid("Invalid locale: use an IETF BCP 47 tag.", "/data/attributes/locale")
        return None

    def _profile_upsert(self, attributes: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        email = attributes["email"].lower()
        profile = self.contacts.get(email)
        created = profile is None
        if profile is None:
            profile = {"id": uuid.uuid4().hex[:26].upper(), "properties": {}, "location": {}}
            self.contacts[email] = profile
            self.creates += 1
        else:
            self.updates += 1
        for name, value in attributes.items():
            if name in ("properties", "location"):
                profile[name].update(value)
            else:
                profile[name] = value
        return profile, created

    def _phone_owner(self, phone: str, email: str) -> dict[str, Any] | None:
        return next(
            (
                profile
                for key, profile in self.contacts.items()
                if key != email.lower() and profile.get("phone_number") == phone
            ),
            None,
        )

    def _profile_import(self, request: Request, parts: list[str]) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return invalid("The payload provided in the request is invalid.", "/data")
        attributes, problem = resource(body, "profile")
        if problem is not None or attributes is None:
            return problem or invalid("The payload provided in the request is invalid.")
        problem = self._profile_error(attributes)
        if problem is not None:
            return problem
        phone = attributes.get("phone_number")
        owner = self._phone_owner(phone, attributes["email"]) if phone else None
        if owner is not None:
            reply = error(
                409,
                "duplicate_profile",
                "Conflict.",
                "A profile already exists with one of these identifiers.",
            )
            reply.body["errors"][0]["meta"] = {"duplicate_profile_id": owner["id"]}
            return reply
        profile, created = self._profile_upsert(attributes)
        attributes_out = {name: value for name, value in profile.items() if name != "id"}
        return Reply(
            201 if created else 200,
            {"data": {"type": "profile", "id": profile["id"], "attributes": attributes_out}},
        )

    def _job_profile_errors(
        self, profile: Any, pointer: str, *, historical: bool, now: datetime
    ) -> Iterator[Reply]:
        if not isinstance(profile, dict) or profile.get("type") != "profile":
            yield invalid("Expected a resource of type 'profile'.", f"{pointer}/type")
            return
        attributes = profile.get("attributes")
        if not isinstance(attributes, dict):
            yield invalid("'attributes' must be an object.", f"{pointer}/attributes")
            return
        email, phone = attributes.get("email"), attributes.get("phone_number")
        if not email and not phone:
            yield invalid("An email or phone_number is required.", f"{pointer}/attributes")
        owner = self._phone_owner(phone, email) if phone and email else None
        if owner is not None:
            # The number is another profile's: one profile entry cannot hold both.
            yield error(
                409,
                "duplicate_profile",
                "Conflict.",
                "A profile already exists with one of these identifiers.",
                pointer=f"{pointer}/attributes/phone_number",
            )
        if email and not (isinstance(email, str) and _EMAIL.match(email)):
            yield invalid("Invalid email address.", f"{pointer}/attributes/email")
        if phone and not (isinstance(phone, str) and _E164.match(phone)):
            yield invalid("Invalid phone number format.", f"{pointer}/attributes/phone_number")
        subscriptions = attributes.get("subscriptions")
        if not isinstance(subscriptions, dict) or not subscriptions:
            yield invalid("'subscriptions' is required.", f"{pointer}/attributes/subscriptions")
            return
        for channel, subscription in subscriptions.items():
            where = f"{pointer}/attributes/subscriptions/{channel}"
            if channel not in ("email", "sms"):
                yield invalid(f"'{channel}' is not a subscription channel.", where)
            if channel == "email" and not email:
                yield invalid("An email subscription needs an email.", where)
            if channel == "sms" and not phone:
                yield invalid("An SMS subscription needs a phone_number.", where)
            marketing = subscription.get("marketing") if isinstance(subscription, dict) else None
            if not isinstance(marketing, dict) or marketing.get("consent") != "SUBSCRIBED":
                yield invalid("marketing.consent must be 'SUBSCRIBED'.", f"{where}/marketing")
                return
            yield from consent_time_errors(
                marketing, f"{where}/marketing/consented_at", historical=historical, now=now
            )

    def _job_errors(self, body: Any, now: datetime) -> Iterator[Reply]:
        """What Klaviyo would say is wrong with this job; one bad profile fails it whole."""
        attributes, problem = resource(body, "profile-subscription-bulk-create-job")
        if problem is not None or attributes is None:
            yield problem or invalid("The payload provided in the request is invalid.")
            return
        historical = attributes.get("historical_import", False)
        if not isinstance(historical, bool):
            yield invalid(
                "historical_import must be a boolean.", "/data/attributes/historical_import"
            )
        profiles = (attributes.get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not 1 <= len(profiles) <= JOB_PROFILES_MAX:
            yield invalid(
                f"profiles.data must hold 1 to {JOB_PROFILES_MAX} profiles.",
                "/data/attributes/profiles/data",
            )
            return
        target = list_reference(body)
        if target and (target.get("type") != "list" or not target.get("id")):
            yield invalid("Expected a list relationship.", "/data/relationships/list/data")
        elif target and target["id"] not in self.lists:
            yield self._list_missing(target["id"])
        for index, profile in enumerate(profiles):
            yield from self._job_profile_errors(
                profile,
                f"/data/attributes/profiles/data/{index}",
                historical=bool(historical),
                now=now,
            )

    def _subscription_job(self, request: Request, parts: list[str]) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return invalid("The payload provided in the request is invalid.", "/data")
        now = datetime.now(UTC)
        problem = next(self._job_errors(body, now), None)
        if problem is not None:
            return problem
        attributes = body["data"]["attributes"]
        reference = list_reference(body)
        target = self.lists[reference["id"]] if reference else None
        for profile in attributes["profiles"]["data"]:
            self._subscribe(
                profile["attributes"],
                target=target,
                historical=attributes.get("historical_import", False),
                source=attributes.get("custom_source") or "",
                now=now,
            )
        self.jobs.append(body)
        # Accepted: Klaviyo does the work later and reports nothing per profile.
        return Reply(202)

    def _subscribe(
        self,
        attributes: dict[str, Any],
        *,
        target: dict[str, Any] | None,
        historical: bool,
        source: str,
        now: datetime,
    ) -> None:
        email = str(attributes.get("email") or "").lower()
        if not email:
            # A phone number alone subscribes the profile that holds it (or a new one).
            owner = self._phone_owner(attributes["phone_number"], "")
            email = next(
                (key for key, profile in self.contacts.items() if profile is owner),
                f"phone:{attributes['phone_number']}",
            )
            self.contacts.setdefault(
                email,
                {
                    "id": uuid.uuid4().hex[:26].upper(),
                    "properties": {},
                    "location": {},
                    "phone_number": attributes["phone_number"],
                },
            )
        elif email not in self.contacts:
            # A subscription for an unknown address makes the profile first.
            self._profile_upsert({"email": attributes["email"]})
        # A historical import skips double opt-in; otherwise the list's setting decides.
        confirming = target is not None and target["double_opt_in"] and not historical
        consents = self.subscriptions.setdefault(email, {})
        for channel, subscription in attributes["subscriptions"].items():
            marketing = subscription["marketing"]
            consents[channel] = {
                "consent": "PENDING" if confirming else "SUBSCRIBED",
                "consented_at": marketing.get("consented_at") or now.isoformat(),
                "custom_source": source,
            }
        if target is not None and not confirming:
            target["members"].add(email)
