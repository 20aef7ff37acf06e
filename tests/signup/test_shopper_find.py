"""``manage.py shopper_find``: the operator finds which shops hold a shopper, across all shops."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from signup.models import RejectedSubmission
from tenants.models import Tenant
from tests.signup.factories import kiosk_create, rejection_create, submission_create


def find(**options: str) -> list[str]:
    output = StringIO()
    call_command("shopper_find", stdout=output, **options)
    return output.getvalue().splitlines()


@pytest.fixture
def shops(alice_tenant: Tenant, charlie_tenant: Tenant) -> None:
    """Ann signed up twice at alice's (once with her phone) and once at charlie's; Bob only at
    charlie's; and a sign-up of Ann's was refused at alice's."""
    with tenant_context(alice_tenant):
        kiosk = kiosk_create()
        submission_create(kiosk.device, "ann@example.com")
        submission_create(kiosk.device, "ann@example.com", sms=True)
        rejection_create(kiosk.device, "ann@example")
    with tenant_context(charlie_tenant):
        kiosk = kiosk_create()
        submission_create(kiosk.device, "ann@example.com")
        submission_create(kiosk.device, "bob@example.com")


def test_an_address_is_found_in_every_shop_holding_it_and_nowhere_else(shops: None) -> None:
    assert find(email=" Ann@Example.com ") == [
        "alice signups=2 refused=0 (Alice's Shop)",
        "charlie signups=1 refused=0 (Charlie's Store)",
        "shops=2",
    ]
    assert find(email="bob@example.com") == [
        "charlie signups=1 refused=0 (Charlie's Store)",
        "shops=1",
    ]
    assert find(email="nobody@example.com") == ["shops=0"]


def test_a_refused_sign_up_counts_under_the_address_it_was_kept_by(
    shops: None, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        kept_as = RejectedSubmission.objects.get().email
    assert find(email=kept_as) == ["alice signups=0 refused=1 (Alice's Shop)", "shops=1"]


def test_a_phone_number_finds_the_sign_up_that_gave_it(shops: None) -> None:
    assert find(phone="+33612345678") == ["alice signups=1 refused=0 (Alice's Shop)", "shops=1"]


def test_nothing_to_look_for_is_a_clear_error(db: None) -> None:
    with pytest.raises(CommandError, match="email address or a phone number"):
        find()
