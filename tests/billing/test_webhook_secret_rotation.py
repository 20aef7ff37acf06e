"""Rolling the Stripe webhook signing secret, step by step as docs/operations.md tells it.

Stripe signs with the old and the new secret for up to 24 hours after "Roll secret"; the
endpoint accepts an event signed by any configured secret and refuses one signed by none.
"""

import json
import time

import pytest
from django.test import Client
from pytest_django import Settings

from billing.models import StripeEvent
from billing.stripe_fake import signature_header
from tests.customerinfo.test_settings import PRODUCTION, run_django

pytestmark = pytest.mark.django_db

OLD = "whsec_the_secret_before_rolling"
NEW = "whsec_the_secret_after_rolling"
STRANGER = "whsec_of_some_other_endpoint"


def post(client: Client, event_id: str, *signed_with: str) -> tuple[int, str]:
    """Posts an event signed with each of ``signed_with`` (Stripe's header while it rolls)."""
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "customer.updated",
            "data": {"object": {"id": "cus_nobody", "object": "customer"}},
        }
    ).encode()
    now = int(time.time())
    headers = [signature_header(body, secret, now) for secret in signed_with]
    # One timestamp, one v1 per secret: `t=…,v1=…,v1=…`, as Stripe sends during the overlap.
    header = headers[0] + "".join("," + h.split(",", 1)[1] for h in headers[1:])
    response = client.generic(
        "POST",
        "/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    code = "" if response.status_code == 200 else response.json()["error"]["code"]
    return response.status_code, code


def test_the_overlap_procedure_accepts_either_secret_and_refuses_any_other(
    settings: Settings,
) -> None:
    client = Client(HTTP_HOST="localhost")
    settings.STRIPE_WEBHOOK_SECRETS = [OLD]
    assert post(client, "evt_before", OLD) == (200, "")

    # Step 1: Stripe rolled the secret; the new one is deployed beside the old one.
    settings.STRIPE_WEBHOOK_SECRETS = [NEW, OLD]
    assert post(client, "evt_old_only", OLD) == (200, "")
    assert post(client, "evt_new_only", NEW) == (200, "")
    assert post(client, "evt_both", NEW, OLD) == (200, "")
    assert post(client, "evt_neither", STRANGER) == (400, "invalid_signature")

    # Step 2: the old secret has expired at Stripe and is removed here.
    settings.STRIPE_WEBHOOK_SECRETS = [NEW]
    assert post(client, "evt_late_old", OLD) == (400, "invalid_signature")
    assert post(client, "evt_after", NEW) == (200, "")

    assert set(StripeEvent.objects.values_list("event_id", flat=True)) == {
        "evt_before",
        "evt_old_only",
        "evt_new_only",
        "evt_both",
        "evt_after",
    }


def test_the_setting_takes_several_secrets_comma_separated() -> None:
    result = run_django(
        {**PRODUCTION, "STRIPE_WEBHOOK_SECRET": f" {NEW} , {OLD} ,"},
        "shell",
        "-c",
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.STRIPE_WEBHOOK_SECRETS))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [NEW, OLD]
