"""What every provider is: one small class that upserts contacts and says how each went."""

import email.utils
import enum
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from django.utils.translation import gettext as _

from customerinfo.core.errors import FieldErrors

from ..endpoints import UrlRole
from ..http import BlockedAddressError
from ..limits import RateLimit
from .mapping import Dialect, Mapped, PropertyType, convert_all, json_value


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    #: Try again later: network trouble, timeouts, 408, 429, 5xx.
    RETRY = "retry"
    #: This contact will never be accepted (400, 422): dead with the CRM's reason.
    PERMANENT = "permanent"
    #: The destination itself is broken (401, 403, list gone): pause it, hold its deliveries.
    BROKEN = "broken"


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    status_code: int | None = None
    message: str = ""
    #: Seconds the CRM asked us to wait (Retry-After), when it said.
    retry_after: float | None = None
    #: The CRM refused the whole call for one reason without saying which contact caused it
    #: (one 400 for a batch): the sender splits the batch to find the contact instead of
    #: killing every contact in it.
    whole_batch: bool = False


@dataclass(frozen=True)
class ConsentEvidence:
    channel: str
    granted: bool
    captured_at: str
    wording_hash: str
    wording_id: int
    locale: str


@dataclass(frozen=True)
class Contact:
    """One sign-up as providers see it. ``key`` is the delivery id that the result maps back to."""

    key: int
    submission_id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    birthday_month: int | None = None
    birthday_day: int | None = None
    postal_code: str = ""
    locale: str = "en"
    location_code: str = ""
    location_name: str = ""
    captured_at: str = ""
    double_opt_in: bool = False
    answers: dict[str, Any] = field(default_factory=dict)
    consents: tuple[ConsentEvidence, ...] = ()
    #: Extra CRM properties from the destination's field mapping (CRM property -> value), as
    #: ``crm_sync.contacts`` types them: str, list (several choices), bool (a checkbox),
    #: ``mapping.Birthday`` or ``date``. Each provider writes them in its vendor's format.
    properties: dict[str, Any] = field(default_factory=dict)

    def consent(self, channel: str) -> ConsentEvidence | None:
        return next((c for c in self.consents if c.channel == channel), None)

    def granted(self, channel: str) -> bool:
        evidence = self.consent(channel)
        return evidence is not None and evidence.granted

    def payload(self) -> dict[str, Any]:
        """The sign-up as plain JSON (the generic webhook's body)."""
        return {
            "submission_id": self.submission_id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "phone": self.phone,
            "birthday": (
                {"month": self.birthday_month, "day": self.birthday_day}
                if self.birthday_month
                else None
            ),
            "postal_code": self.postal_code,
            "locale": self.locale,
            "location": {"code": self.location_code, "name": self.location_name},
            "captured_at": self.captured_at,
            "double_opt_in": self.double_opt_in,
            "answers": self.answers,
            "properties": {name: json_value(value) for name, value in self.properties.items()},
            "consents": [
                {
                    "channel": c.channel,
                    "granted": c.granted,
                    "captured_at": c.captured_at,
                    "wording_hash": c.wording_hash,
                    "wording_id": c.wording_id,
                    "locale": c.locale,
                }
                for c in self.consents
            ],
        }


class Provider(ABC):
    """One CRM. Subclasses set the class attributes and implement the three methods."""

    kind: ClassVar[str]
    #: How many contacts one call can carry; the worker groups a backlog in batches this big.
    batch_size: ClassVar[int] = 1
    #: How many calls one claim makes, one after the other (``services.sending``): a vendor
    #: taking one contact a call would otherwise cost a claim (two transactions and a read of the
    #: sign-ups) per contact, more than the call itself.
    calls_per_claim: ClassVar[int] = 1
    #: About half the vendor's published limit: the retailer's other tools share that quota.
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=10, burst=10)
    #: Connections the vendor allows at once per account, when it says.
    max_connections: ClassVar[int | None] = None
    #: The settings that hold a URL the retailer types, and how each is used. They are read and
    #: normalised by ``crm_sync.endpoints`` when a destination is saved, by the form and again by
    #: the service, so ``configuration_errors`` never sees a URL it has to parse itself.
    url_settings: ClassVar[Mapping[str, UrlRole]] = {}

    #: How this CRM writes each type of mapped property (``providers.mapping``).
    dialect: ClassVar[Dialect] = Dialect(vendor="The CRM", types=frozenset(PropertyType))

    #: The destination's settings, checked by ``configuration_errors`` when it was saved. Each
    #: provider narrows this to its own TypedDict (``HubSpotSettings``, ...).
    settings: Mapping[str, object]

    def __init__(
        self, *, settings: Mapping[str, Any], credentials: dict[str, Any], client: httpx.Client
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.client = client

    @classmethod
    @abstractmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        """What is missing or malformed in a destination's settings and credentials."""

    @abstractmethod
    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        """Upserts the contacts; answers every contact's key."""

    @abstractmethod
    def test_connection(self) -> Result:
        """A harmless authenticated call that proves the settings work."""

    def mapped(self, contact: Contact) -> Mapped:
        """The contact's mapped properties in this CRM's format; the types the retailer declared
        on the mapping screen are in the settings (``property_types``)."""
        declared = self.settings.get("property_types")
        return convert_all(
            self.dialect, contact.properties, declared if isinstance(declared, dict) else None
        )

    def guarded(
        self, contacts: Sequence[Contact], call: Callable[[], dict[int, Result]]
    ) -> dict[int, Result]:
        """Runs one HTTP call for these contacts and turns failures into results for all of them."""
        try:
            return call()
        except httpx.TimeoutException:
            result = Result(Verdict.RETRY, message="The CRM did not answer in time.")
        except BlockedAddressError as error:
            result = Result(Verdict.BROKEN, message=str(error))
        except httpx.TransportError as error:
            result = Result(Verdict.RETRY, message=f"Could not reach the CRM: {error}")
        return {contact.key: result for contact in contacts}


def with_notes(result: Result, notes: Sequence[str]) -> Result:
    """A delivered result that says what was left out of the contact, for the delivery log."""
    if result.verdict is not Verdict.DELIVERED or not notes:
        return result
    said = "Delivered, leaving out " + " ".join(notes)
    return replace(result, message=f"{result.message} {said}".strip()[:2000])


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds, from either of its two forms."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" are floats too; neither is a wait (the schedule caps long ones).
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def classify(response: httpx.Response, *, broken: Sequence[int] = (401, 403)) -> Result:
    """The common reading of an HTTP answer; providers adjust what is vendor-specific."""
    code = response.status_code
    message = response.text[:500]
    if 200 <= code < 300:
        return Result(Verdict.DELIVERED, code)
    if code in broken:
        return Result(Verdict.BROKEN, code, message or "The CRM refused our credentials.")
    if code in (408, 429) or code >= 500:
        return Result(Verdict.RETRY, code, message, retry_after_seconds(response))
    if 300 <= code < 400:
        # Redirects are never followed: a moved endpoint is the retailer's to fix.
        location = response.headers.get("Location", "")
        return Result(Verdict.BROKEN, code, f"The CRM redirected to {location!r}; update the URL.")
    return Result(Verdict.PERMANENT, code, message or f"The CRM refused the contact ({code}).")


def required_errors(values: dict[str, Any], names: Sequence[str]) -> FieldErrors:
    return {
        name: [{"code": "required", "message": _("This is required.")}]
        for name in names
        if not str(values.get(name) or "").strip()
    }


def utc_timestamp(value: str) -> str:
    """An ISO 8601 moment as ``2024-05-01T12:00:00.000Z``, the form HubSpot and Salesforce take.

    Something unreadable goes as it is, so the CRM's refusal names it rather than us dropping it.
    """
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
