"""What the CRM sync tests share beyond fixtures (conftest.py) and factories (factories.py).

- Reads of a destination as stored, for the portal tests. Unlike the factories they enter the
  tenant's schema themselves: a request through the test client leaves the connection in the
  schema it routed to.
- Builders of the Salesforce provider tests: the provider on the fake org, contacts, consents.
"""

from typing import Any

import httpx
from django_tenants.utils import tenant_context

from crm_sync.crypto import credentials_decrypt
from crm_sync.models import Destination
from crm_sync.providers.base import ConsentEvidence, Contact, Result, Verdict
from crm_sync.providers.salesforce import SalesforceProvider
from tenants.models import Tenant

from .fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce

# --- the portal --------------------------------------------------------------------------------


def reload(tenant: Tenant, destination: Destination) -> Destination:
    """The destination as stored now (a request may have left the connection elsewhere)."""
    with tenant_context(tenant):
        return Destination.objects.get(pk=destination.pk)


def stored_credentials(tenant: Tenant, destination: Destination) -> dict[str, str]:
    return credentials_decrypt(reload(tenant, destination).credentials)


# --- the Salesforce provider -------------------------------------------------------------------

CAPTURED_AT = "2025-03-14T09:26:53.589793+00:00"
EMAIL_WORDING = "9f2c" * 16
SMS_WORDING = "4b1e" * 16


def provider(
    org: FakeSalesforce,
    client: httpx.Client,
    *,
    client_secret: str = CLIENT_SECRET,
    **settings: Any,
) -> SalesforceProvider:
    return SalesforceProvider(
        settings={"login_url": org.url, **settings},
        credentials={"client_id": CLIENT_ID, "client_secret": client_secret},
        client=client,
    )


def consent(channel: str, *, granted: bool, wording_hash: str = EMAIL_WORDING) -> ConsentEvidence:
    return ConsentEvidence(
        channel=channel,
        granted=granted,
        captured_at=CAPTURED_AT,
        wording_hash=wording_hash,
        wording_id=7,
        locale="en",
    )


def submission_id(key: int) -> str:
    return f"0b7e5a52-0000-4000-8000-{key:012d}"


def contact(key: int, email: str, **fields: Any) -> Contact:
    fields.setdefault("last_name", "Lovelace")
    return Contact(key=key, submission_id=submission_id(key), email=email, **fields)


def verdicts(results: dict[int, Result]) -> dict[int, Verdict]:
    return {key: result.verdict for key, result in results.items()}


def upserts(org: FakeSalesforce) -> list[Any]:
    return [request for request in org.requests if request.method == "PATCH"]
