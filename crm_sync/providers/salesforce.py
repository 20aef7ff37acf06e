"""Salesforce: one Lead per sign-up, upserted on an external id field holding the submission id.

The contract this follows (developer.salesforce.com, REST API guide):

- OAuth 2.0 client credentials: ``POST {login_url}/services/oauth2/token`` with
  ``grant_type=client_credentials``, ``client_id``, ``client_secret`` answers ``access_token`` and
  ``instance_url`` (no ``expires_in``: the token lives as long as the org's session timeout).
  Salesforce refuses this flow on login.salesforce.com and test.salesforce.com ("request not
  supported on this domain"): the login URL must be the org's My Domain.
- ``PATCH /services/data/vXX.X/composite/sobjects/Lead/<ExternalIdField>`` with
  ``{"allOrNone": false, "records": [...]}``, up to 200 records, each with
  ``attributes.type``. Available from v46.0. A well-formed request answers 200 with one
  UpsertResult per record, in the request's order: ``{"id", "success", "created", "errors":
  [{"statusCode", "message", "fields"}]}``.
- Whole-request errors are a list of ``{"errorCode", "message"}``: 401 ``INVALID_SESSION_ID``
  (renew the token), 403 ``REQUEST_LIMIT_EXCEEDED`` (the org's API allowance is spent: wait; no
  Retry-After is sent), other 403 (permissions), 404 (unknown external id field or version).

- A request Salesforce refuses whole with one 4xx (a malformed value in any record) is marked
  ``whole_batch``: the sender splits the batch to find the lead at fault.

What each lead holds, and how each record's result reads, is in ``salesforce_leads``.
Lead requires LastName and Company. A shopper may leave the last name blank, so it becomes
``[not provided]`` (a visible placeholder, never a name made up from the email address); the
company is the destination's ``default_company`` setting, else the store's name, else the same
placeholder.

The org needs, on Lead: the external id field (default ``CustomerInfo_Id__c``, text, External ID,
Unique) and per consent channel (email, sms) ``CustomerInfo_<Channel>_Consent__c`` (checkbox),
``CustomerInfo_<Channel>_Consent_At__c`` (date/time), ``CustomerInfo_<Channel>_Consent_Wording__c``
(text: the hash of the exact wording). The connection test names any that are missing.
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, ClassVar, Required, TypedDict

import httpx
from django.utils.translation import gettext as _

from customerinfo.core.errors import FieldErrors
from customerinfo.core.redis import redis_client, redis_key

from .. import http
from ..crypto import CredentialsError, credentials_decrypt, credentials_encrypt
from ..endpoints import UrlError, UrlRole, url_host, url_normalise
from ..limits import RateLimit
from .base import Contact, Provider, Result, Verdict, classify, required_errors, with_notes
from .base import retry_after_seconds as header_retry_after
from .mapping import Dialect
from .salesforce_leads import (
    DESTINATION_ERRORS,
    DIALECT,
    PLACEHOLDER,
    consent_field_names,
    lead_record,
    record_result,
)

DEFAULT_API_VERSION = "v61.0"
#: sObject Collections upsert exists from this version on.
OLDEST_API_VERSION = 46.0
DEFAULT_EXTERNAL_ID_FIELD = "CustomerInfo_Id__c"
#: Client credentials tokens carry no expiry. Fifteen minutes is the shortest session timeout an
#: admin can set, so a cached token is almost never stale; a 401 renews it anyway.
TOKEN_CACHE_SECONDS = 15 * 60
#: REQUEST_LIMIT_EXCEEDED comes without Retry-After. The total allowance is a rolling 24 hours,
#: so an hour frees some of it; the concurrent long-request cap clears within a minute.
TOTAL_LIMIT_WAIT_SECONDS = 3600.0
CONCURRENT_LIMIT_WAIT_SECONDS = 60.0

#: login.salesforce.com and test.salesforce.com refuse the client credentials flow.
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})

_VERSION = re.compile(r"v(\d+)\.(\d)")
# The field name goes into the request path, so it must be a plain API name.
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_PROBE = Contact(key=0, submission_id="", email="")


@dataclass(frozen=True)
class Session:
    access_token: str
    instance_url: str


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_error(body: Any) -> tuple[str, str]:
    """(errorCode, message) of a whole-request error list."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("errorCode") or ""), str(body[0].get("message") or "")
    return "", ""


class SalesforceSettings(TypedDict, total=False):
    """A Salesforce destination's settings; the connected app's keys are in its credentials."""

    login_url: Required[str]
    api_version: str
    external_id_field: str
    #: Salesforce wants a company on a lead; the store's name stands in when this is empty.
    default_company: str


class SalesforceProvider(Provider):
    settings: SalesforceSettings
    kind: ClassVar[str] = "salesforce"
    batch_size: ClassVar[int] = 200
    # The published limit is per 24 hours (100,000 plus per-licence extras on Enterprise):
    # 55 % of that is about 0.6 requests a second, up to 120 leads a second in full batches.
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=0.6, burst=10)
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"login_url": UrlRole.API_BASE}
    dialect: ClassVar[Dialect] = DIALECT

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        errors = required_errors(settings, ["login_url"])
        errors.update(required_errors(credentials, ["client_id", "client_secret"]))
        # Whether it is a URL at all is crm_sync.endpoints' to say (url_settings); a URL that
        # is not gives no host here.
        if url_host(str(settings.get("login_url") or "")) in GENERIC_LOGIN_HOSTS:
            errors["login_url"] = [
                {
                    "code": "my_domain_required",
                    "message": _(
                        "Use your My Domain login URL (https://yourdomain.my.salesforce.com): "
                        "Salesforce refuses the client credentials flow on login.salesforce.com "
                        "and test.salesforce.com."
                    ),
                }
            ]
        version = str(settings.get("api_version") or DEFAULT_API_VERSION)
        match = _VERSION.fullmatch(version)
        if match is None or float(f"{match[1]}.{match[2]}") < OLDEST_API_VERSION:
            errors["api_version"] = [
                {"code": "invalid", "message": _("Give a version like v61.0 (v46.0 or later).")}
            ]
        field = str(settings.get("external_id_field") or DEFAULT_EXTERNAL_ID_FIELD)
        if _API_NAME.fullmatch(field) is None:
            errors["external_id_field"] = [
                {
                    "code": "invalid",
                    "message": _("Give the field's API name, like CustomerInfo_Id__c."),
                }
            ]
        return errors

    @property
    def login_url(self) -> str:
        return str(self.settings["login_url"]).rstrip("/")

    @property
    def api_version(self) -> str:
        return str(self.settings.get("api_version") or DEFAULT_API_VERSION)

    @property
    def external_id_field(self) -> str:
        return str(self.settings.get("external_id_field") or DEFAULT_EXTERNAL_ID_FIELD)

    # Sessions -------------------------------------------------------------------------------

    def _token_key(self) -> str:
        # Per login URL and credentials: a changed secret never reuses the old token.
        identity = "\n".join(
            [self.login_url, self.credentials["client_id"], self.credentials["client_secret"]]
        )
        return redis_key("crm", "salesforce-token", hashlib.sha256(identity.encode()).hexdigest())

    def cached_session(self) -> Session | None:
        stored = redis_client().get(self._token_key())
        if not isinstance(stored, bytes):
            return None
        try:
            # Encrypted like the credentials: a token is as good as the secret for 15 minutes.
            value = credentials_decrypt(stored.decode())
        except CredentialsError:
            return None
        return Session(access_token=value["access_token"], instance_url=value["instance_url"])

    def new_session(self) -> Session | Result:
        """A token from the client credentials flow, cached for every worker; or why not."""
        response = http.send(
            self.client,
            "POST",
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
            },
            headers={"Accept": "application/json"},
        )
        body = _body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            return self._token_refused(response, body)
        try:
            session = Session(
                access_token=str(body["access_token"]),
                # Read like a URL the retailer typed: every API call is made under it. Whether
                # its address may be called is the send path's check, as for any other URL.
                instance_url=url_normalise(
                    str(body["instance_url"]), role=UrlRole.API_BASE, block_private=False
                ).rstrip("/"),
            )
        except KeyError:
            return Result(Verdict.RETRY, 200, "Salesforce answered the token request oddly.")
        except UrlError as error:
            return Result(
                Verdict.RETRY, 200, f"Salesforce answered with an unusable instance URL: {error}"
            )
        redis_client().set(
            self._token_key(),
            credentials_encrypt(
                {"access_token": session.access_token, "instance_url": session.instance_url}
            ),
            ex=TOKEN_CACHE_SECONDS,
        )
        return session

    def _token_refused(self, response: httpx.Response, body: Any) -> Result:
        code = response.status_code
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        if error == "rate_limit_exceeded" or code in (408, 429) or code >= 500:
            return Result(Verdict.RETRY, code, f"Salesforce login: {error or code} {description}")
        if 300 <= code < 400:
            return classify(response)
        return Result(
            Verdict.BROKEN,
            code,
            f"Salesforce refused the client credentials: {error or code} {description}".strip(),
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | Result:
        """One API request with the cached session; a session Salesforce rejects is renewed once."""
        cached = self.cached_session()
        session = cached if cached is not None else self.new_session()
        if isinstance(session, Result):
            return session
        response = self._request(session, method, path, **kwargs)
        if response.status_code == 401 and cached is not None:
            # Expired or revoked (INVALID_SESSION_ID); a second 401 means the app lost access.
            session = self.new_session()
            if isinstance(session, Result):
                return session
            response = self._request(session, method, path, **kwargs)
        return response

    def _request(self, session: Session, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {session.access_token}", "Accept": "application/json"}
        return http.send(
            self.client, method, f"{session.instance_url}{path}", headers=headers, **kwargs
        )

    # Leads ----------------------------------------------------------------------------------

    def company(self, contact: Contact) -> str:
        for candidate in (str(self.settings.get("default_company") or ""), contact.location_name):
            if candidate.strip():
                return candidate.strip()
        return PLACEHOLDER

    def record(self, contact: Contact) -> tuple[dict[str, Any], list[str]]:
        """The Lead for this sign-up (``salesforce_leads``), and what was left out of it."""
        return lead_record(
            contact,
            company=self.company(contact),
            external_id_field=self.external_id_field,
            mapped=self.mapped(contact),
        )

    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        return self.guarded(contacts, partial(self._upsert, contacts))

    def _upsert(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        path = f"/services/data/{self.api_version}/composite/sobjects/Lead/{self.external_id_field}"
        records = [self.record(contact) for contact in contacts]
        # allOrNone=false: one bad lead must not hold back the others in its batch.
        body = {"allOrNone": False, "records": [record for record, _ in records]}
        response = self.call("PATCH", path, json=body)
        if isinstance(response, Result):
            return {contact.key: response for contact in contacts}
        answer = _body(response)
        if response.status_code == 200 and isinstance(answer, list):
            results = self._per_record(contacts, answer)
            return {
                contact.key: with_notes(results[contact.key], notes)
                for contact, (_, notes) in zip(contacts, records, strict=True)
            }
        if 200 <= response.status_code < 300:
            # A success without the list of results (a proxy's page, say) proves nothing.
            result = Result(
                Verdict.RETRY, response.status_code, "Salesforce's answer could not be read."
            )
        else:
            result = self.request_result(response)
            if result.verdict is Verdict.PERMANENT and 400 <= response.status_code < 500:
                # One refusal of the whole request that names no lead (a malformed value in
                # any of them, say): the sender splits the batch to find the lead at fault.
                result = replace(result, whole_batch=True)
        return {contact.key: result for contact in contacts}

    def _per_record(self, contacts: Sequence[Contact], answer: list[Any]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        # UpsertResults come back in the order of the records sent.
        for contact, item in zip(contacts, answer, strict=False):
            results[contact.key] = record_result(item)
        for contact in contacts[len(answer) :]:
            results[contact.key] = Result(
                Verdict.RETRY, 200, "Salesforce did not say whether this lead was written."
            )
        return results

    def request_result(self, response: httpx.Response) -> Result:
        """How a whole-request answer reads (anything but 200 with a list of results)."""
        code = response.status_code
        error_code, message = _first_error(_body(response))
        text = f"{error_code}: {message}" if error_code else response.text[:500]
        if error_code == "REQUEST_LIMIT_EXCEEDED":
            # 403, but a spent allowance: wait, the destination is fine.
            wait = header_retry_after(response)
            if wait is None:
                concurrent = "concurrent" in message.lower()
                wait = CONCURRENT_LIMIT_WAIT_SECONDS if concurrent else TOTAL_LIMIT_WAIT_SECONDS
            return Result(Verdict.RETRY, code, text, wait)
        if code == 400 and error_code in DESTINATION_ERRORS:
            # "No such column … on sobject of type Lead": the org lacks a field we write.
            return Result(Verdict.BROKEN, code, text)
        result = classify(response, broken=(401, 403, 404))
        return Result(result.verdict, code, text or result.message, result.retry_after)

    # Connection test -----------------------------------------------------------------------

    def test_connection(self) -> Result:
        return self.guarded([_PROBE], lambda: {_PROBE.key: self._probe()})[_PROBE.key]

    def _probe(self) -> Result:
        """Logs in and describes Lead: proves the credentials and the fields we write exist."""
        response = self.call("GET", f"/services/data/{self.api_version}/sobjects/Lead/describe")
        if isinstance(response, Result):
            return response
        body = _body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            return self.request_result(response)
        fields = {
            str(field.get("name")): field
            for field in body.get("fields") or []
            if isinstance(field, dict)
        }
        key = fields.get(self.external_id_field)
        if key is None or not key.get("externalId"):
            return Result(
                Verdict.BROKEN,
                200,
                f"Lead needs a text field {self.external_id_field} marked External ID and Unique.",
            )
        missing = [name for name in consent_field_names() if name not in fields]
        if missing:
            return Result(
                Verdict.BROKEN, 200, "Create these Lead fields in Salesforce: " + ", ".join(missing)
            )
        return Result(Verdict.DELIVERED, 200)
