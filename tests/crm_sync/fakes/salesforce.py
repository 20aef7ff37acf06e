"""A Salesforce org: the OAuth client credentials token endpoint and the Lead REST resources.

What it enforces, as Salesforce documents it: tokens only from ``grant_type=client_credentials``
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
from typing import Any
from urllib.parse import parse_qs

from .server import FakeServer, RateWindow, Reply, Request, bearer

TOKEN_PATH = "/services/oauth2/token"
MAX_RECORDS = 200
#: sObject Collections upsert arrived in API v46.0.
OLDEST_UPSERT_VERSION = 46.0

CUSTOMERINFO_FIELDS = frozenset(
    f"CustomerInfo_{channel}_Consent{suffix}__c"
    for channel in ("Email", "Sms")
    for suffix in ("", "_At", "_Wording")
)
LEAD_FIELDS = frozenset(
    {
        "Id",
        "FirstName",
        "LastName",
        "Company",
        "Email",
        "Phone",
        "MobilePhone",
        "PostalCode",
        "City",
        "Country",
        "LeadSource",
        "Status",
        "Description",
        "HasOptedOutOfEmail",
        "DoNotCall",
        "CustomerInfo_Id__c",
    }
    | CUSTOMERINFO_FIELDS
)
REQUIRED_FIELDS = ("LastName", "Company")

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
        self.lead_fields = set(LEAD_FIELDS)
        self.external_id_fields = {"CustomerInfo_Id__c"}
        self.leads: dict[str, dict[str, Any]] = {}
        self.creates = 0
        self.updates = 0
        self.api_limit = RateWindow(limit=api_requests, seconds=24 * 3600)
        #: Every answer takes this long (FakeServer's delay), as a real API's round trip does.
        self.delay = latency
        self._next_id = 1

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
            for name in sorted(self.lead_fields)
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
        return []

    def _request_error(self, body: Any, *, sobject: str, field: str) -> Reply | None:
        """Why the whole request is refused, or None."""
        if sobject != "Lead":
            return _errors(404, "NOT_FOUND", f"sObject type '{sobject}' is not supported.")
        if field not in self.external_id_fields:
            message = f"Provided external ID field does not exist or is not accessible: {field}"
            return _errors(404, "NOT_FOUND", message)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            return _errors(400, "JSON_PARSER_ERROR", "records: a list of sObjects is required")
        if len(records) > MAX_RECORDS:
            message = "record limit reached. cannot submit more than 200 records into this call"
            return _errors(400, "EXCEEDED_ID_LIMIT", message)
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
