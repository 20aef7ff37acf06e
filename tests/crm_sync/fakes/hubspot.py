"""A HubSpot account speaking the CRM v3 contacts batch upsert and properties APIs.

Every request body is checked against HubSpot's published schema (``specs/hubspot.json``, from
HubSpot's public API spec collection) and refused with 400 ``VALIDATION_ERROR`` when it breaks
it; every answer has the schema's shape (a test checks). Each property has a type, as in a real
account, and a value that its type refuses is an input error (``INVALID_OPTION``,
``INVALID_DATE``, ``INVALID_BOOLEAN``, ``INVALID_DOUBLE``): a Python list or ``True`` sent as
text is refused as HubSpot would refuse it.

What it also enforces, as HubSpot documents it: Bearer private-app tokens (401
``INVALID_AUTHENTICATION``, 403 ``MISSING_SCOPES`` for a token without the write scope), at most
100 inputs per batch, no email twice in one batch, contacts keyed by email case-insensitively,
empty strings clearing a property, unknown properties and invalid emails refused per input. With
an ``objectWriteTraceId`` on every input the answer is 207 Multi-Status naming the failed inputs
and writing the others; without, one bad input refuses the whole batch with 400. The account's
limit is a window of ``requests_per_window`` requests answering 429 ``RATE_LIMIT``.
"""

import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .schemas import spec
from .server import FakeServer, RateWindow, Reply, Request, bearer

UPSERT = "POST /crm/v3/objects/contacts/batch/upsert"
UPSERT_PATH = "/crm/v3/objects/contacts/batch/upsert"
PROPERTIES_PATH = "/crm/v3/properties/contacts"
MAX_INPUTS = 100

STANDARD_PROPERTIES = frozenset(
    {
        "email",
        "firstname",
        "lastname",
        "phone",
        "mobilephone",
        "zip",
        "city",
        "state",
        "country",
        "address",
        "company",
        "jobtitle",
        "hs_language",
        "lifecyclestage",
        "date_of_birth",
    }
)
#: What the retailer creates once, as the provider's documentation asks.
CUSTOMERINFO_PROPERTIES = frozenset(
    f"customerinfo_{channel}_consent{suffix}"
    for channel in ("email", "sms")
    for suffix in ("", "_at", "_wording")
)

TOKEN = "pat-na1-test-token"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LANGUAGES = ("en", "fr", "es", "de", "it", "nl", "pt-br", "ja")


@dataclass(frozen=True)
class PropertyDefinition:
    """A contact property: HubSpot's ``type`` and ``fieldType``, and its options' values."""

    name: str
    type: str = "string"
    field_type: str = "text"
    options: tuple[str, ...] = ()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name,
            "description": "",
            "groupName": "contactinformation",
            "type": self.type,
            "fieldType": self.field_type,
            "options": [
                {"label": value, "value": value, "displayOrder": order, "hidden": False}
                for order, value in enumerate(self.options)
            ],
        }

    def problem(self, value: str) -> tuple[str, str] | None:
        """(error code, message) when HubSpot would refuse ``value`` for this property."""
        if value == "":
            return None
        if self.type == "enumeration":
            chosen = value.split(";") if self.field_type == "checkbox" else [value]
            wrong = [item for item in chosen if item not in self.options]
            if wrong:
                allowed = ", ".join(self.options)
                return (
                    "INVALID_OPTION",
                    f"{wrong[0]} was not one of the allowed options: [{allowed}]",
                )
            return None
        check = _VALUE_CHECKS.get(self.type)
        if check is None or check[0](value):
            return None
        return check[1], f"{value} {check[2]}"


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _midnight(value: str) -> bool:
    if _DATE.match(value):
        return True
    return value.isdigit() and int(value) % 86_400_000 == 0


def _moment(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


#: Per property type: whether a value is readable, the error code, and HubSpot's words.
_VALUE_CHECKS: dict[str, tuple[Callable[[str], bool], str, str]] = {
    "bool": (lambda value: value in ("true", "false"), "INVALID_BOOLEAN", "is not a valid boolean"),
    "number": (_is_number, "INVALID_DOUBLE", "was not a valid number"),
    "date": (_midnight, "INVALID_DATE", "is not a valid date: use YYYY-MM-DD or midnight UTC"),
    "datetime": (_moment, "INVALID_DATETIME", "is not a valid date and time"),
}


def _standard_properties() -> dict[str, PropertyDefinition]:
    definitions = {name: PropertyDefinition(name) for name in STANDARD_PROPERTIES}
    definitions["phone"] = PropertyDefinition("phone", field_type="phonenumber")
    definitions["mobilephone"] = PropertyDefinition("mobilephone", field_type="phonenumber")
    definitions["hs_language"] = PropertyDefinition(
        "hs_language", "enumeration", "select", LANGUAGES
    )
    definitions["lifecyclestage"] = PropertyDefinition(
        "lifecyclestage", "enumeration", "radio", ("subscriber", "lead", "customer")
    )
    for channel in ("email", "sms"):
        prefix = f"customerinfo_{channel}_consent"
        definitions[prefix] = PropertyDefinition(
            prefix, "bool", "booleancheckbox", ("true", "false")
        )
        definitions[f"{prefix}_at"] = PropertyDefinition(f"{prefix}_at", "datetime", "date")
        definitions[f"{prefix}_wording"] = PropertyDefinition(f"{prefix}_wording")
    return definitions


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, category: str, message: str, **extra: Any) -> Reply:
    body: dict[str, Any] = {"status": "error", "message": message}
    body["correlationId"] = str(uuid.uuid4())
    body.update(category=category, **extra)
    return Reply(status, body)


def _invalid_property(name: str, code: str, message: str) -> dict[str, Any]:
    """One input's validation error, worded as HubSpot words it."""
    detail = {"isValid": False, "message": message, "error": code, "name": name}
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": f"Property values were not valid: {json.dumps([detail])}",
        "errors": [{"message": message, "code": code, "context": {"propertyName": [name]}}],
    }


def _input_shape_error(item: dict[str, Any]) -> str | None:
    """Beyond the schema: this account identifies contacts by email only."""
    if item.get("idProperty") != "email":
        return "idProperty: only email identifies contacts here"
    return None


class FakeHubSpot(FakeServer):
    """One HubSpot account: ``contacts`` by lower-cased email, ``creates`` counts new ones."""

    def __init__(
        self,
        *,
        token: str = TOKEN,
        requests_per_window: int = 100,
        window_seconds: float = 10.0,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.tokens = {token}
        #: Tokens of a private app without ``crm.objects.contacts.write``.
        self.read_only_tokens: set[str] = set()
        #: The account's contact properties by name, with their types.
        self.definitions = _standard_properties()
        self.contacts: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.updates = 0
        self.rate = RateWindow(limit=requests_per_window, seconds=window_seconds)
        #: HubSpot does not always say how long to wait; switch off to test the fallback.
        self.send_retry_after = True
        #: Every answer takes this long (FakeServer's delay), as a real API's round trip does.
        self.delay = latency
        self._next_id = 1001

    @property
    def properties(self) -> set[str]:
        return set(self.definitions)

    def property_add(
        self, name: str, type: str = "string", field_type: str = "text", *options: str
    ) -> None:
        """A property the retailer created in the account."""
        with self.lock:
            self.definitions[name] = PropertyDefinition(name, type, field_type, options)

    def property_remove(self, name: str) -> None:
        with self.lock:
            self.definitions.pop(name, None)

    def contact(self, email: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.contacts[email.casefold()]["properties"])

    def handle(self, request: Request) -> Reply:
        token = bearer(request)
        if token not in self.tokens and token not in self.read_only_tokens:
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication.",
            )
        wait = self.rate.allow()
        if wait is not None:
            headers = {"Retry-After": str(math.ceil(wait))} if self.send_retry_after else {}
            reply = _error(
                429,
                "RATE_LIMITS",
                "You have reached your ten_secondly_rolling limit.",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
            )
            return Reply(429, reply.body, headers)
        if request.path == PROPERTIES_PATH and request.method == "GET":
            return self._properties()
        if request.path == UPSERT_PATH and request.method == "POST":
            if token in self.read_only_tokens:
                return _error(
                    403,
                    "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call.",
                    errors=[
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
                        }
                    ],
                )
            return self._upsert(request)
        return _error(404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}")

    def _properties(self) -> Reply:
        results = [self.definitions[name].describe() for name in sorted(self.definitions)]
        return Reply(200, {"results": results})

    def _shape_error(self, inputs: Any) -> str | None:
        """Why the request is malformed as a whole, or None."""
        if not isinstance(inputs, list) or not inputs:
            return "inputs: must contain at least one input"
        if len(inputs) > MAX_INPUTS:
            return f"Batch input has {len(inputs)} inputs; the limit is {MAX_INPUTS}."
        for number, item in enumerate(inputs):
            problem = _input_shape_error(item)
            if problem is not None:
                return f"inputs[{number}].{problem}"
        emails = [item["id"].casefold() for item in inputs]
        repeated = sorted({email for email in emails if emails.count(email) > 1})
        if repeated:
            return f"Duplicate IDs found in batch input: {repeated}"
        return None

    def _input_error(self, item: dict[str, Any]) -> dict[str, Any] | None:
        email = item["id"]
        if _EMAIL.fullmatch(email) is None:
            return _invalid_property("email", "INVALID_EMAIL", f"Email address {email} is invalid")
        for name, value in item["properties"].items():
            definition = self.definitions.get(name)
            if definition is None:
                return _invalid_property(
                    name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                )
            problem = definition.problem(value)
            if problem is not None:
                return _invalid_property(name, *problem)
        return None

    def _write(self, item: dict[str, Any]) -> dict[str, Any]:
        email = item["id"]
        stored = self.contacts.get(email.casefold())
        created = stored is None
        if stored is None:
            stored = {"id": str(self._next_id), "createdAt": _now(), "properties": {}}
            self._next_id += 1
            self.contacts[email.casefold()] = stored
            self.creates += 1
        else:
            self.updates += 1
        stored["properties"]["email"] = stored["properties"].get("email", email)
        for name, value in item["properties"].items():
            if value in ("", None):
                # HubSpot: an empty string clears the property.
                stored["properties"].pop(name, None)
            elif name != "email":
                stored["properties"][name] = value
        stored["updatedAt"] = _now()
        result = {
            "id": stored["id"],
            "properties": dict(stored["properties"]),
            "createdAt": stored["createdAt"],
            "updatedAt": stored["updatedAt"],
            "archived": False,
            "new": created,
        }
        if item.get("objectWriteTraceId"):
            result["objectWriteTraceId"] = item["objectWriteTraceId"]
        return result

    def _upsert(self, request: Request) -> Reply:
        started = _now()
        try:
            body = request.json()
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1")
        schema_errors = spec("hubspot").request_errors(UPSERT, body)
        if schema_errors:
            return _error(
                400, "VALIDATION_ERROR", "Invalid input JSON: " + "; ".join(schema_errors)
            )
        inputs = body.get("inputs") if isinstance(body, dict) else None
        problem = self._shape_error(inputs)
        if problem is not None:
            return _error(400, "VALIDATION_ERROR", problem)
        assert isinstance(inputs, list)
        traces = [item.get("objectWriteTraceId") for item in inputs]
        multi_status = all(isinstance(trace, str) and trace for trace in traces) and len(
            set(traces)
        ) == len(traces)
        failures = [(item, self._input_error(item)) for item in inputs]
        errors = [(item, error) for item, error in failures if error is not None]
        if errors and not multi_status:
            # Without trace ids HubSpot cannot say which input failed: the batch is refused.
            first = errors[0][1]
            return _error(400, "VALIDATION_ERROR", first["message"], errors=first["errors"])
        results = [self._write(item) for item, error in failures if error is None]
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now(),
        }
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = [
                {
                    **error,
                    "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]},
                    "links": {},
                }
                for item, error in errors
            ]
            return Reply(207, answer)
        return Reply(200, answer)
