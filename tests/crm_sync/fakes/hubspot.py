"""A HubSpot account speaking the CRM v3 contacts batch upsert and properties APIs.

What it enforces, as HubSpot documents it: Bearer private-app tokens (401
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
from datetime import UTC, datetime
from typing import Any

from .server import FakeServer, RateWindow, Reply, Request, bearer

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


def _input_shape_error(item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return "id: must be a string"
    if item.get("idProperty") != "email":
        return "idProperty: only email identifies contacts here"
    properties = item.get("properties")
    if not isinstance(properties, dict) or not all(
        isinstance(value, str | None) for value in properties.values()
    ):
        return "properties: must map names to strings"
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
        self.properties = set(STANDARD_PROPERTIES | CUSTOMERINFO_PROPERTIES)
        self.contacts: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.updates = 0
        self.rate = RateWindow(limit=requests_per_window, seconds=window_seconds)
        #: HubSpot does not always say how long to wait; switch off to test the fallback.
        self.send_retry_after = True
        #: Every answer takes this long (FakeServer's delay), as a real API's round trip does.
        self.delay = latency
        self._next_id = 1001

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
        results = [
            {"name": name, "label": name, "type": "string", "fieldType": "text"}
            for name in sorted(self.properties)
        ]
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
        for name in item["properties"]:
            if name not in self.properties:
                return _invalid_property(
                    name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                )
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
                {**error, "context": {"objectWriteTraceId": [item["objectWriteTraceId"]]}}
                for item, error in errors
            ]
            return Reply(207, answer)
        return Reply(200, answer)
