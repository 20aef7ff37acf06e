"""A fake Mailchimp Marketing API 3.0 holding one audience.

Every member PUT is checked against the request type of Mailchimp's official SDK
(``specs/mailchimp.json``): merge field values are strings, numbers or an address, never a list
or a boolean. The audience's merge fields have types, as a real audience's do, and a value its
field's type refuses is answered 400 "Invalid Resource" naming the field: a birthday not in
MM/DD, a date not YYYY-MM-DD, a number field given words, a radio or dropdown value that is not
one of its choices, a US-format phone that is not ten North American digits. Throttling (429) is
answered without Retry-After, as Mailchimp's is.

It also enforces what the provider depends on: basic auth with the API key, members keyed by the MD5
of the lower-cased address (checked against the body's address), ``status_if_new`` applying only
to new members, problem-document errors (404 for an unknown audience, 400 "Invalid Resource" and
"Member In Compliance State"), and the cap of 10 simultaneous connections per account (429).
``rate_window`` adds a request limit when a test wants one. ``latency=0.02`` (FakeServer's
``delay``) makes a 20 ms CRM.
"""

import base64
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .schemas import spec
from .server import FakeServer, RateWindow, Reply, Request

API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "a1b2c3d4e5"
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
ERRORS_URL = "https://mailchimp.com/developer/marketing/docs/errors/"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BIRTHDAY = re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12][0-9]|3[01])$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_US_PHONE = re.compile(r"^\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}$")
UPSERT = "PUT /3.0/lists/{list_id}/members/{subscriber_hash}"
_ADDRESS_PARTS = ("addr1", "city", "state", "zip")
_FIELD_ERRORS = (
    "The resource submitted could not be validated. For field-specific details, see the "
    "'errors' array."
)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error as Mailchimp words them (RFC 7807 problem details)."""
    body: dict[str, Any] = {
        "type": ERRORS_URL,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors:
        body["errors"] = errors
    return Reply(status, body, headers or {})


def _not_found() -> Reply:
    return problem(404, "Resource Not Found", "The requested resource could not be found.")


def invalid(detail: str, *, field: str | None = None, message: str = "") -> Reply:
    errors = [{"field": field, "message": message}] if field else None
    return problem(400, "Invalid Resource", detail, errors=errors)


def _timestamp_valid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


#: The merge fields of a new audience: Mailchimp's defaults, PHONE in international format.
DEFAULT_MERGE_FIELDS: dict[str, dict[str, Any]] = {
    "FNAME": {"type": "text", "options": {}},
    "LNAME": {"type": "text", "options": {}},
    "ADDRESS": {"type": "address", "options": {}},
    "PHONE": {"type": "phone", "options": {"phone_format": "none"}},
    "BIRTHDAY": {"type": "birthday", "options": {"date_format": "MM/DD"}},
}


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    try:
        float(value)
    except ValueError:
        return False
    return True


def _us_phone(value: Any, options: dict[str, Any]) -> bool:
    return options.get("phone_format") != "US" or bool(_US_PHONE.match(str(value)))


#: Per merge field type: whether a value (with the field's options) is taken, and Mailchimp's
#: words when it is not.
_MERGE_CHECKS: dict[str, tuple[Callable[[Any, dict[str, Any]], bool], str]] = {
    # Mailchimp's address field is all or nothing: street, city, state and zip.
    "address": (
        lambda value, _: isinstance(value, dict) and all(value.get(p) for p in _ADDRESS_PARTS),
        "Please enter a complete address",
    ),
    "birthday": (
        lambda value, _: bool(_BIRTHDAY.match(str(value))),
        "Please enter the date in MM/DD format.",
    ),
    "date": (
        lambda value, _: bool(_DATE.match(str(value))),
        "Please enter the date in YYYY-MM-DD format.",
    ),
    "number": (lambda value, _: _is_number(value), "Please enter a number"),
    "radio": (
        lambda value, options: value in (options.get("choices") or []),
        "Please choose one of the listed options.",
    ),
    "dropdown": (
        lambda value, options: value in (options.get("choices") or []),
        "Please choose one of the listed options.",
    ),
    "phone": (_us_phone, "Please enter a valid US phone number (###-###-####)."),
}


def _merge_field_problem(field: dict[str, Any], value: Any) -> str | None:
    """Mailchimp's words for a value this merge field's type refuses, or None."""
    check = _MERGE_CHECKS.get(field["type"])
    if value == "" or check is None or check[0](value, field.get("options") or {}):
        return None
    return check[1]


class FakeMailchimp(FakeServer):
    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        list_id: str = LIST_ID,
        max_connections: int = 10,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        #: Seconds every answer takes (FakeServer's delay), like a real CRM's round trip.
        self.delay = latency
        self.api_key = api_key
        self.list_id = list_id
        self.max_connections = max_connections
        #: Members by subscriber hash.
        self.contacts: dict[str, dict[str, Any]] = {}
        #: Members made by the API (members seeded with ``member_add`` do not count).
        self.creates = 0
        self.updates = 0
        #: Addresses Mailchimp rejects as fake ("looks fake or invalid").
        self.fake_emails: set[str] = set()
        #: Addresses in compliance state (unsubscribed long ago, bounced, under review).
        self.compliance_emails: set[str] = set()
        self.rate_window: RateWindow | None = None
        #: The audience's merge fields by tag: type and options (choices, formats).
        self.merge_fields = {tag: dict(field) for tag, field in DEFAULT_MERGE_FIELDS.items()}
        self.in_flight = 0
        self.peak_connections = 0
        self._connections_lock = threading.Lock()

    def merge_field_add(self, tag: str, kind: str, **options: Any) -> None:
        """A merge field the retailer created in the audience."""
        with self.lock:
            self.merge_fields[tag] = {"type": kind, "options": options}

    def member_add(self, email: str, *, status: str, **merge_fields: str) -> dict[str, Any]:
        """Seeds a member who was in the audience before our first request."""
        with self.lock:
            member = self._member_new(email, status=status, merge_fields=merge_fields)
            self.contacts[member["id"]] = member
            return member

    def member(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            return self.contacts.get(subscriber_hash(email))

    def member_of(self, email: str) -> dict[str, Any]:
        """The member, which the test expects to exist."""
        member = self.member(email)
        assert member is not None, f"{email} is not in the audience"
        return member

    def _dispatch(self, request: Request) -> Reply | None:
        # Mailchimp counts connections before anything else. The base class answers one request
        # at a time under its lock (after its delay), so the count is kept around it.
        with self._connections_lock:
            self.in_flight += 1
            self.peak_connections = max(self.peak_connections, self.in_flight)
            crowded = self.in_flight > self.max_connections
        try:
            if crowded:
                with self.lock:
                    self.requests.append(request)
                return problem(
                    429,
                    "Too Many Requests",
                    f"You have exceeded the limit of {self.max_connections} simultaneous "
                    "connections.",
                )
            return super()._dispatch(request)
        finally:
            with self._connections_lock:
                self.in_flight -= 1

    def _authorised(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        # Any user name; the API key is the password.
        return decoded.partition(":")[2] == self.api_key

    def _refusals(self, request: Request) -> Iterator[Reply]:
        """Why Mailchimp would refuse this request before reading it, if it would."""
        if not self._authorised(request):
            yield problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        wait = self.rate_window.allow() if self.rate_window is not None else None
        if wait is not None:
            # Mailchimp's throttling says nothing of when to come back.
            yield problem(
                429, "Too Many Requests", "You have exceeded the request limit for this account."
            )

    def handle(self, request: Request) -> Reply:
        refusal = next(self._refusals(request), None)
        if refusal is not None:
            return refusal
        parts = request.path.strip("/").split("/")
        if parts[:3] != ["3.0", "lists", self.list_id]:
            return _not_found()
        if len(parts) == 3 and request.method == "GET":
            return Reply(200, self._list())
        if len(parts) == 5 and parts[3] == "members" and request.method in ("GET", "PUT"):
            return self._member_request(request, parts[4])
        return problem(
            405,
            "Method Not Allowed",
            "The requested method and resource are not compatible. See the Allow header for "
            "this resource's available methods.",
        )

    def _member_request(self, request: Request, member_hash: str) -> Reply:
        if request.method == "PUT":
            return self._upsert(request, member_hash)
        member = self.contacts.get(member_hash)
        return _not_found() if member is None else Reply(200, member)

    def _list(self) -> dict[str, Any]:
        return {
            "id": self.list_id,
            "name": "Fake audience",
            "stats": {"member_count": len(self.contacts)},
        }

    def _member_new(
        self, email: str, *, status: str, merge_fields: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": subscriber_hash(email),
            "email_address": email,
            "unique_email_id": uuid.uuid4().hex[:10],
            "status": status,
            "merge_fields": dict(merge_fields),
            "timestamp_signup": "",
            "timestamp_opt": "",
            "list_id": self.list_id,
        }

    def _upsert_errors(self, body: Any, member_hash: str) -> Iterator[Reply]:
        """What Mailchimp would say is wrong with this PUT, most basic first."""
        schema_errors = spec("mailchimp").request_errors(UPSERT, body)
        if schema_errors:
            where, _, message = schema_errors[0].partition(": ")
            field = where.strip("/").replace("/", ".")
            if field.startswith("merge_fields."):
                field = field.removeprefix("merge_fields.")
            yield invalid(_FIELD_ERRORS, field=field or "body", message=message)
            return
        email = body.get("email_address")
        if not isinstance(email, str) or not _EMAIL.match(email):
            yield invalid(
                "Please provide a valid email address.",
                field="email_address",
                message="This value should be a valid email.",
            )
            return
        # Mailchimp files the member under the URL's hash; a hash of another address would
        # make a member no later upsert can find, so the fake refuses it outright.
        if subscriber_hash(email) != member_hash:
            yield invalid(
                "The subscriber hash in the URL is not the MD5 of the lower-cased email_address.",
                field="email_address",
                message="Does not match the subscriber hash.",
            )
        if email.lower() in self.fake_emails:
            yield invalid(f"{email} looks fake or invalid, please enter a real email address.")
        if email.lower() in self.compliance_emails:
            yield problem(
                400,
                "Member In Compliance State",
                f"{email} is already a list member in compliance state due to unsubscribe, "
                "bounce, or compliance review.",
            )
        for field in ("status", "status_if_new"):
            if field in body and body[field] not in STATUSES:
                yield invalid(
                    _FIELD_ERRORS,
                    field=field,
                    message="Data presented is not one of the accepted values: "
                    + ", ".join(STATUSES)
                    + ".",
                )
        for field in ("timestamp_signup", "timestamp_opt"):
            if field in body and not _timestamp_valid(body[field]):
                yield invalid(_FIELD_ERRORS, field=field, message="Expected ISO 8601 time.")
        for tag, value in (body.get("merge_fields") or {}).items():
            definition = self.merge_fields.get(tag)
            refusal = _merge_field_problem(definition, value) if definition else None
            if refusal is not None:
                yield invalid("Your merge fields were invalid.", field=tag, message=refusal)

    def _upsert(self, request: Request, member_hash: str) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return problem(400, "JSON Parse Exception", "We encountered an unspecified JSON error.")
        error = next(self._upsert_errors(body, member_hash), None)
        if error is not None:
            return error
        member = self.contacts.get(member_hash)
        if member is None:
            status = body.get("status") or body.get("status_if_new")
            if not status:
                return invalid(
                    _FIELD_ERRORS,
                    field="status_if_new",
                    message="status_if_new is required when the member is new.",
                )
            member = self._member_new(body["email_address"], status=status, merge_fields={})
            self.contacts[member_hash] = member
            self.creates += 1
        else:
            if body.get("status") == "subscribed" and member["status"] in (
                "unsubscribed",
                "cleaned",
            ):
                return problem(
                    400,
                    "Member In Compliance State",
                    f"{member['email_address']} is already a list member in compliance state "
                    "due to unsubscribe, bounce, or compliance review.",
                )
            # Only an explicit status changes an existing member; status_if_new never does.
            if "status" in body:
                member["status"] = body["status"]
            self.updates += 1
        member["email_address"] = body["email_address"]
        member["merge_fields"].update(body.get("merge_fields") or {})
        for field in ("timestamp_signup", "timestamp_opt"):
            if field in body:
                member[field] = body[field]
        return Reply(200, member)
