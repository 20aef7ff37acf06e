"""Sign-in throttling (django-axes): per account on every address, per address at one shop,
with a page that says what happened; shops never lock each other out."""

import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import Settings

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.tenancy import public_schema
from tenants.models import Tenant
from tests.conftest import PASSWORD

from .support import sign_in, text_of

pytestmark = pytest.mark.django_db

ALICE = "alice@alice.example"
HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


def _browser() -> Client:
    return Client(HTTP_HOST="alice.localhost")


def _fail(email: str, times: int, *, address: str = HOME) -> None:
    for _ in range(times):
        assert sign_in(_browser(), email, "not-the-password", address=address).status_code in {
            200,
            429,
        }


def test_five_wrong_passwords_then_the_right_one_is_refused_with_a_message(
    alice_tenant: Tenant,
) -> None:
    for attempt in range(4):
        wrong = sign_in(_browser(), ALICE, "not-the-password")
        assert wrong.status_code == 200, attempt
        assert "Please enter a correct email and password" in text_of(wrong)
    fifth = sign_in(_browser(), ALICE, "not-the-password")
    assert fifth.status_code == 429
    right = sign_in(_browser(), ALICE, PASSWORD)
    assert right.status_code == 429
    page = text_of(right)
    assert "Sign-in paused" in page
    assert "Too many wrong passwords for this account" in page
    assert "about 15 minutes" in page
    assert "even the right password is refused" in page
    assert "Ask an owner of Alice's Shop to unlock you" in page
    assert 'href="/password/reset/"' in right.content.decode()
    assert "sessionid" not in right.cookies


def test_another_address_is_still_refused_for_that_account(alice_tenant: Tenant) -> None:
    _fail(ALICE, 5, address=HOME)
    response = sign_in(_browser(), ALICE, PASSWORD, address=ELSEWHERE)
    assert response.status_code == 429
    assert "for this account" in text_of(response)


def test_the_lock_ends_after_the_cool_off(alice_tenant: Tenant) -> None:
    _fail(ALICE, 5)
    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        assert sign_in(_browser(), ALICE, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert sign_in(_browser(), ALICE, PASSWORD).status_code == 302


def test_a_success_clears_the_count(alice_tenant: Tenant) -> None:
    _fail(ALICE, 4)
    assert sign_in(_browser(), ALICE, PASSWORD).status_code == 302
    _fail(ALICE, 4)
    assert sign_in(_browser(), ALICE, PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_paused_at_its_own_limit(
    alice_tenant: Tenant, bob: User, settings: Settings
) -> None:
    assert settings.SIGNIN_FAILURES_PER_ADDRESS == 20
    for number in range(20):
        _fail(f"guess{number}@alice.example", 1)
    refused = sign_in(_browser(), bob.email, PASSWORD, address=HOME)
    assert refused.status_code == 429
    assert "from your network" in text_of(refused)
    # Bob himself is not locked: from another address he gets in.
    assert sign_in(_browser(), bob.email, PASSWORD, address=ELSEWHERE).status_code == 302


def test_signing_in_does_not_wipe_the_count_against_a_colleague(
    alice_tenant: Tenant, bob: User
) -> None:
    # Someone at bob's till guesses alice's password, signing in as bob between guesses.
    for _ in range(2):
        _fail(ALICE, 2)
        assert sign_in(_browser(), bob.email, PASSWORD).status_code == 302
    _fail(ALICE, 1)
    assert sign_in(_browser(), ALICE, PASSWORD, address=ELSEWHERE).status_code == 429


def test_the_same_email_at_another_shop_is_not_locked(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    shared = "sam@shared.example"
    for tenant in (alice_tenant, charlie_tenant):
        with tenant_context(tenant):
            User.objects.create_user(shared, PASSWORD, role=Role.MANAGER)
    _fail(shared, 5)
    assert sign_in(_browser(), shared, PASSWORD).status_code == 429
    at_charlies = Client(HTTP_HOST="charlie.localhost")
    assert sign_in(at_charlies, shared, PASSWORD, address=HOME).status_code == 302
    keys = set(AccessAttempt.objects.values_list("username", flat=True))
    assert keys == {f"{alice_tenant.schema_name}:{shared}"}


def test_a_new_password_by_email_lifts_the_lock(alice_tenant: Tenant) -> None:
    _fail(ALICE, 5)
    browser = _browser()
    browser.post("/password/reset/", {"email": ALICE})
    link = re.search(r"http://alice\.localhost(/password/reset/\S+/)", str(mail.outbox[0].body))
    assert link
    form = browser.get(link.group(1))
    done = browser.post(
        form["Location"],
        {"new_password1": "a-brand-new-password", "new_password2": "a-brand-new-password"},
    )
    assert done["Location"] == "/password/reset/done/"
    assert sign_in(_browser(), ALICE, "a-brand-new-password").status_code == 302


def test_the_operator_unlocks_from_the_admin(alice_tenant: Tenant) -> None:
    _fail(ALICE, 5)
    admin = Client(HTTP_HOST="localhost")
    with public_schema():  # the operators' accounts are in public
        operator = User.objects.create_superuser("ops@customerinfo.example", PASSWORD)
        admin.force_login(operator)
    listing = admin.get("/admin/axes/accessattempt/")
    assert f"{alice_tenant.schema_name}:{ALICE}" in listing.content.decode()
    (attempt,) = AccessAttempt.objects.all()
    confirmed = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert confirmed.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(_browser(), ALICE, PASSWORD).status_code == 302
