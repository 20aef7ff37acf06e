"""A Salesforce org: the OAuth client credentials token endpoint and the Lead REST resources.

Every upsert body is checked against the sObject Collections request as the REST API guide
documents it (``specs/salesforce.json``), and every Lead field has a type and a length, from the
Object Reference or as a test creates it (``field_add``). As Salesforce does, a value of the
wrong JSON type for its field (a string for a checkbox, a list anywhere, a date not YYYY-MM-DD)
refuses the whole request with 400 ``JSON_PARSER_ERROR``; a text too long is the record's
``STRING_TOO_LONG``; a value a restricted picklist or multi-select picklist (``a;b``) does not
list is ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``. With ``duplicate_rule`` set, a new lead whose
Email another lead has is refused ``DUPLICATES_DETECTED`` with the ``duplicateResult`` of a
blocking rule.

It also enforces, as Salesforce documents it: tokens only from ``grant_type=client_credentials``
with the right client id and secret (400 ``invalid_client`` otherwise); every API call with a live
token (401 ``INVALID_SESSION_ID``; tests expire tokens or make the org kill them at once); sObject
Collections upsert from v46.0 on, at most 200 records, each with ``attributes.type``, keyed by an
External ID field (404 when the field is not one); unknown fields refuse the whole request
(400 ``INVALID_FIELD``); per record, LastName and Company required and Email well formed, one
UpsertResult per record in order; ``allOrNone`` rolls everything back on one failure. The org's
API allowance is a window of ``api_requests`` requests answering 403 ``REQUEST_LIMIT_EXCEEDED``
(Salesforce sends no Retry-After).
"""

import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from .schemas import spec
from .server import FakeServer, RateWindow, Reply, Request, bearer

TOKEN_PATH = "/services/oauth2/token"
MAX_RECORDS = 200
#: sObject Collections upsert arrived in API v46.0.
OLDEST_UPSERT_VERSION = 46.0

REQUIRED_FIELDS = ("LastName", "Company")

UPSERT = "PATCH /services/data/{version}/composite/sobjects/Lead/{externalIdField}"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The JSON types Salesforce deserialises each field type from.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "int": (int,),
    "double": (int, float),
    "currency": (int, float),
    "percent": (int, float),
}


@dataclass(frozen=True)
class LeadField:
    name: str
    type: str = "string"
    length: int = 255
    picklist: tuple[str, ...] = ()

    def parser_error(self, value: Any) -> str | None:
        """Salesforce's JSON_PARSER_ERROR when the value's JSON type cannot become this field."""
        if value is None:
            return None
        accepted = _JSON_TYPES.get(self.type, (str,))
        wrong = isinstance(value, bool) and bool not in accepted
        if wrong or not isinstance(value, accepted):
            kind = type(value).__name__
            return (
                f"Cannot deserialize instance of {self.type} from {kind} value {value!r} "
                f"for field {self.name}"
            )
        if self.type == "date" and not _DATE.match(str(value)):
            return f"Cannot deserialize instance of date from VALUE_STRING value {value}"
        if self.type == "datetime":
            try:
                datetime.fromisoformat(str(value))
            except ValueError:
                return f"Cannot deserialize instance of datetime from VALUE_STRING value {value}"
        return None

    def record_error(self, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, str) or self.type in ("date", "datetime"):
            return None
        if len(value) > self.length:
            message = f"{self.name}: data value too large: {value[:20]}… (max length={self.length})"
            return _record_error("STRING_TOO_LONG", message, [self.name])
        if self.type in ("picklist", "multipicklist") and self.picklist:
            chosen = value.split(";") if self.type == "multipicklist" else [value]
            wrong = [item for item in chosen if item not in self.picklist]
            if wrong:
                message = f"{self.name}: bad value for restricted picklist field: {wrong[0]}"
                return _record_error(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [self.name]
                )
        return None


def _standard_fields() -> dict[str, LeadField]:
    described = spec("salesforce").document["lead_fields"]
    fields = {
        name: LeadField(name, entry["type"], int(entry.get("length") or 0))
        for name, entry in described.items()
    }
    fields["Id"] = LeadField("Id", "id", 18)
    fields["CustomerInfo_Id__c"] = LeadField("CustomerInfo_Id__c", "string", 64)
    for channel in ("Email", "Sms"):
        prefix = f"CustomerInfo_{channel}_Consent"
        fields[f"{prefix}__c"] = LeadField(f"{prefix}__c", "boolean")
        fields[f"{prefix}_At__c"] = LeadField(f"{prefix}_At__c", "datetime")
        fields[f"{prefix}_Wording__c"] = LeadField(f"{prefix}_Wording__c", "string", 64)
    return fields


CLIENT_ID = "3MVG9test.client.id"
CLIENT_SECRET = "test-client-secret"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_API_PATH = re.compile(r"/services/data/v(\d+\.\d)(/.*)")


def _errors(status: int, code: str, message: str) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])


def _record_error(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields}


class FakeSalesforce(FakeServer):
    """One org: ``leads`` by external id value, ``creates`` counts new ones."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        api_requests: int = 100_000,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.token_requests = 0
        #: The org kills every session as soon as it is issued (API access removed, say).
        self.kill_sessions = False
        #: Lead's fields by name, with their types (``field_add`` makes custom ones).
        self.fields = _standard_fields()
        #: The name of a duplicate rule that blocks a new lead with another lead's Email.
        self.duplicate_rule = ""
        self.external_id_fields = {"CustomerInfo_Id__c"}
        self.leads: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.updates = 0
        self.api_limit = RateWindow(limit=api_requests, seconds=24 * 3600)
        #: Every answer takes this long (FakeServer's delay), as a real API's round trip does.
        self.delay = latency
        self._next_id = 1

    @property
    def lead_fields(self) -> set[str]:
        return set(self.fields)

    def field_add(self, name: str, type: str = "string", *picklist: str, length: int = 255) -> None:
        with self.lock:
            self.fields[name] = LeadField(name, type, length, picklist)

    def field_remove(self, name: str) -> None:
        with self.lock:
            self.fields.pop(name, None)

    def expire_tokens(self) -> None:
        """Every issued token stops working, as when the session timeout passes."""
        with self.lock:
            self.tokens.clear()

    def revoke_client(self) -> None:
        """The connected app's secret is changed: no more tokens for the old one."""
        with self.lock:
            self.client_secret = secrets.token_hex(16)
            self.tokens.clear()

    def lead(self, external_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.leads[external_id])

    def handle(self, request: Request) -> Reply:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        match = _API_PATH.fullmatch(request.path)
        if match is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        if bearer(request) not in self.tokens:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.api_limit.allow() is not None:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return self._api(request, version=float(match[1]), resource=match[2])

    def _api(self, request: Request, *, version: float, resource: str) -> Reply:
        if resource == "/sobjects/Lead/describe" and request.method == "GET":
            return self._describe()
        upsert = re.fullmatch(r"/composite/sobjects/(\w+)/(\w+)", resource)
        if upsert and request.method == "PATCH" and version >= OLDEST_UPSERT_VERSION:
            return self._upsert(request, sobject=upsert[1], field=upsert[2])
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def _token(self, request: Request) -> Reply:
        form = {name: values[0] for name, values in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if form.get("client_id") != self.client_id:
            return Reply(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if form.get("client_secret") != self.client_secret:
            return Reply(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = f"00D000000000001!{secrets.token_urlsafe(24)}"
        self.token_requests += 1
        if not self.kill_sessions:
            self.tokens.add(token)
        return Reply(
            200,
            {
                "access_token": token,
                "signature": secrets.token_urlsafe(32),
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001/005000000000001",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            },
        )

    def _describe(self) -> Reply:
        fields = [
            {
                "name": name,
                "externalId": name in self.external_id_fields,
                "nillable": name not in REQUIRED_FIELDS,
            }
            for name in sorted(self.fields)
        ]
        return Reply(200, {"name": "Lead", "fields": fields})

    def _record_errors(self, record: dict[str, Any], field: str) -> list[dict[str, Any]]:
        key = record.get(field)
        if not isinstance(key, str) or not key.strip():
            return [_record_error("MISSING_ARGUMENT", f"{field} not specified", [field])]
        existing = self.leads.get(key, {})
        merged = {**existing, **record}
        missing = [name for name in REQUIRED_FIELDS if not str(merged.get(name) or "").strip()]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            return [_record_error("REQUIRED_FIELD_MISSING", message, missing)]
        email = record.get("Email")
        if email and _EMAIL.fullmatch(str(email)) is None:
            message = f"Email: invalid email address: {email}"
            return [_record_error("INVALID_EMAIL_ADDRESS", message, ["Email"])]
        typed = [
            error
            for name, value in record.items()
            if name in self.fields and (error := self.fields[name].record_error(value))
        ]
        if typed:
            return typed[:1]
        if self.duplicate_rule and email and key not in self.leads:
            return self._duplicate_of(str(email))
        return []

    def _duplicate_of(self, email: str) -> list[dict[str, Any]]:
        """DUPLICATES_DETECTED when a blocking rule finds a lead with this Email."""
        matches = [
            lead["Id"]
            for lead in self.leads.values()
            if str(lead.get("Email") or "").casefold() == email.casefold()
        ]
        if not matches:
            return []
        error = _record_error("DUPLICATES_DETECTED", "Use one of these records?", [])
        error["duplicateResult"] = {
            "allowSave": False,
            "duplicateRule": self.duplicate_rule,
            "duplicateRuleEntityType": "Lead",
            "errorMessage": "You're creating a duplicate record. We recommend you use an "
            "existing record instead.",
            "matchResults": [
                {
                    "entityType": "Lead",
                    "matchEngine": "ExactMatchEngine",
                    "rule": "Lead_Email_Match",
                    "size": len(matches),
                    "success": True,
                    "matchRecords": [
                        {"matchConfidence": 100.0, "record": {"Id": lead_id}} for lead_id in matches
                    ],
                }
            ],
        }
        return [error]

    def _request_error(self, body: Any, *, sobject: str, field: str) -> Reply | None:
        """Why the whole request is refused, or None."""
        if sobject != "Lead":
            return _errors(404, "NOT_FOUND", f"sObject type '{sobject}' is not supported.")
        if field not in self.external_id_fields:
            message = f"Provided external ID field does not exist or is not accessible: {field}"
            return _errors(404, "NOT_FOUND", message)
        records = body.get("records") if isinstance(body, dict) else None
        if isinstance(records, list) and len(records) > MAX_RECORDS:
            message = "record limit reached. cannot submit more than 200 records into this call"
            return _errors(400, "EXCEEDED_ID_LIMIT", message)
        schema_errors = spec("salesforce").request_errors(UPSERT, body)
        if schema_errors or not isinstance(records, list):
            return _errors(400, "JSON_PARSER_ERROR", "; ".join(schema_errors))
        return next(filter(None, (self._record_shape_error(record) for record in records)), None)

    def _record_shape_error(self, record: Any) -> Reply | None:
        attributes = record.get("attributes") if isinstance(record, dict) else None
        if not isinstance(attributes, dict) or attributes.get("type") != "Lead":
            return _errors(400, "INVALID_TYPE", "Each record needs attributes.type = Lead")
        unknown = [name for name in record if name not in self.lead_fields | {"attributes"}]
        if unknown:
            # One unknown field refuses the whole request, not just its record.
            message = f"No such column '{unknown[0]}' on sobject of type Lead"
            return _errors(400, "INVALID_FIELD", message)
        for name, value in record.items():
            unreadable = None if name == "attributes" else self.fields[name].parser_error(value)
            if unreadable is not None:
                # A value that cannot be read as its field's type fails the whole request.
                return _errors(400, "JSON_PARSER_ERROR", unreadable)
        return None

    def _checked(self, records: list[dict[str, Any]], field: str) -> list[list[dict[str, Any]]]:
        """Each record's errors, in order; a repeated external id fails its later records."""
        seen: set[str] = set()
        checked: list[list[dict[str, Any]]] = []
        for record in records:
            errors = self._record_errors(record, field)
            key = str(record.get(field))
            if not errors and key in seen:
                message = f"Duplicate external id specified: {key}"
                errors = [_record_error("DUPLICATE_EXTERNAL_ID", message, [field])]
            seen.add(key)
            checked.append(errors)
        return checked

    def _upsert(self, request: Request, *, sobject: str, field: str) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _errors(400, "JSON_PARSER_ERROR", "Unexpected character in the request body")
        refused = self._request_error(body, sobject=sobject, field=field)
        if refused is not None:
            return refused
        records: list[dict[str, Any]] = body["records"]
        checked = self._checked(records, field)
        if body.get("allOrNone") and any(checked):
            rolled_back = _record_error(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header",
                [],
            )
            return Reply(
                200, [{"success": False, "errors": errors or [rolled_back]} for errors in checked]
            )
        answer = [
            {"success": False, "errors": errors} if errors else self._write(record, field)
            for record, errors in zip(records, checked, strict=True)
        ]
        return Reply(200, answer)

    def _write(self, record: dict[str, Any], field: str) -> dict[str, Any]:
        values = {name: value for name, value in record.items() if name != "attributes"}
        key = str(values[field])
        stored = self.leads.get(key)
        created = stored is None
        if stored is None:
            stored = {"Id": f"00Q{self._next_id:015d}"}
            self._next_id += 1
            self.leads[key] = stored
            self.creates += 1
        else:
            self.updates += 1
        stored.update(values)
        return {"id": stored["Id"], "success": True, "errors": [], "created": created}
