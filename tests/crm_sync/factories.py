"""The CRM sync tests' vocabulary, built through the services (see tests/signup/factories.py for
the stores, forms and tablets).

Conventions, as in tests/signup/factories.py: every function here runs in the current schema and
takes no tenant, so call it inside ``tenant_context(tenant)`` (or with tests/conftest.py's
``kiosk`` fixture, which keeps the test in alice's schema). ``webhook_destination`` and
``sign_up`` make rows, ``send`` sends one delivery as a worker would, ``deliveries_of`` reads them
back; ``webhook_data`` is plain data, what the portal's webhook form posts.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from crm_sync import services
from crm_sync.models import Destination
from crm_sync.providers.webhook import secret_generate
from outbox.models import Delivery
from signup.services import submission_create
from tests.signup.factories import Kiosk


def webhook_destination(*, url: str, secret: str | None = None, **options: Any) -> Destination:
    return services.destination_create(
        actor=None,
        name=options.pop("name", "Webhook"),
        kind="webhook",
        settings={"url": url},
        credentials={"secret": secret or secret_generate()},
        **options,
    )


def sign_up(
    kiosk: Kiosk, *, email: str = "shopper@example.com", sms: bool = False, **answers: Any
) -> uuid.UUID:
    """Stores one sign-up as the kiosk API would; returns its id."""
    submission_id = uuid.uuid4()
    consents = {"email": True}
    if "sms" in kiosk.version.definition["consents"] and kiosk.version.definition["consents"][
        "sms"
    ].get("enabled"):
        consents["sms"] = sms
    submission_create(
        device=kiosk.device,
        submission_id=submission_id,
        form_version_id=kiosk.version.pk,
        locale="en",
        captured_at=datetime.now(UTC),
        answers={"email": email, **answers},
        consents=consents,
    )
    return submission_id


def send(delivery: Delivery, **options: Any) -> services.SendReport:
    """Sends ``delivery`` now, as a worker would; ``options`` go to deliveries_send."""
    return services.deliveries_send(
        destination_id=delivery.destination_id, ids=[delivery.pk], **options
    )


def deliveries_of(submission_id: uuid.UUID) -> list[Delivery]:
    return list(Delivery.objects.filter(submission_id=submission_id).order_by("pk"))


def webhook_data(url: str, **extra: str) -> dict[str, str]:
    """What the portal's webhook form posts; ``extra`` replaces or adds inputs."""
    data = {"name": "Shop hook", "url": url, "secret": "", "field_mapping": "", "enabled": "on"}
    data.update(extra)
    return data
