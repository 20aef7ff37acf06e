"""Two-step sign-in: set up with an app (QR drawn here), a code after the password, backup
codes, off only with the password; for owners and managers; nothing of it crosses shops."""

import re
import time

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import PASSWORD, login

from .support import sign_in, text_of

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    return f"{totp(device.bin_key, t0=device.t0, step=device.step, drift=steps_ahead):06d}"


def _device(tenant: Tenant, user: User) -> TOTPDevice:
    with tenant_context(tenant):
        return TOTPDevice.objects.get(user=user)


def _enrol(client: Client, tenant: Tenant, user: User) -> list[str]:
    client.post("/password/two-factor/", {"action": "setup"})
    response = client.post(
        "/password/two-factor/", {"action": "confirm", "code": _code(_device(tenant, user))}
    )
    return re.findall(r"<li><code>(\w+)</code></li>", response.content.decode())


def test_an_owner_sets_it_up(owner_client: Client, alice_tenant: Tenant, alice: User) -> None:
    page = owner_client.get("/password/two-factor/")
    assert "Off." in text_of(page)
    setup = owner_client.post("/password/two-factor/", {"action": "setup"})
    body = setup.content.decode()
    assert '<div class="qr" role="img"' in body
    assert "<svg" in body  # drawn on the server: no image service sees the secret
    device = _device(alice_tenant, alice)
    assert not device.confirmed
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', body)
    assert secret
    wrong = owner_client.post("/password/two-factor/", {"action": "confirm", "code": "000000"})
    assert wrong.status_code == 400
    assert "That code does not match" in text_of(wrong)
    right = owner_client.post(
        "/password/two-factor/", {"action": "confirm", "code": _code(_device(alice_tenant, alice))}
    )
    assert "Two-step sign-in is on" in text_of(right)
    codes = re.findall(r"<li><code>(\w+)</code></li>", right.content.decode())
    assert len(codes) == 10
    assert "On. Signing in asks for a code" in text_of(owner_client.get("/password/two-factor/"))
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.get(action="member.two_factor_on").actor == alice


def test_signing_in_then_asks_for_the_code(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    _enrol(owner_client, alice_tenant, alice)
    browser = Client(HTTP_HOST="alice.localhost")
    password_step = sign_in(browser, alice.email, PASSWORD)
    assert password_step["Location"] == "/login/code/"
    assert browser.get("/").status_code == 302  # not signed in yet
    code_page = browser.get("/login/code/")
    assert "Type your sign-in code" in text_of(code_page)
    wrong = browser.post("/login/code/", {"code": "123456"})
    assert wrong.status_code == 400
    assert "That code does not match" in text_of(wrong)
    # django-otp makes the next try wait after a failure (1 s after the first). The code used
    # to set up is spent, so the app's next one (one step ahead is tolerated) signs in.
    time.sleep(1.1)
    next_code = _code(_device(alice_tenant, alice), steps_ahead=1)
    right = browser.post("/login/code/", {"code": next_code})
    assert right["Location"] == "/"
    assert browser.get("/").status_code == 200


def test_a_backup_code_works_once(owner_client: Client, alice_tenant: Tenant, alice: User) -> None:
    codes = _enrol(owner_client, alice_tenant, alice)
    first = Client(HTTP_HOST="alice.localhost")
    sign_in(first, alice.email, PASSWORD)
    assert first.post("/login/code/", {"code": codes[0]})["Location"] == "/"
    second = Client(HTTP_HOST="alice.localhost")
    sign_in(second, alice.email, PASSWORD)
    assert second.post("/login/code/", {"code": codes[0]}).status_code == 400


def test_the_code_step_without_a_password_step_goes_back_to_sign_in(alice_client: Client) -> None:
    response = alice_client.get("/login/code/")
    assert response["Location"] == "/login/"


def test_turning_it_off_needs_the_password(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    _enrol(owner_client, alice_tenant, alice)
    refused = owner_client.post("/password/two-factor/", {"action": "disable", "password": "no"})
    assert refused.status_code == 400
    assert "Not your password" in text_of(refused)
    with tenant_context(alice_tenant):
        assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    renewed = owner_client.post("/password/two-factor/", {"action": "renew", "password": PASSWORD})
    assert len(re.findall(r"<li><code>(\w+)</code></li>", renewed.content.decode())) == 10
    off = owner_client.post(
        "/password/two-factor/", {"action": "disable", "password": PASSWORD}, follow=True
    )
    assert "Two-step sign-in is off" in text_of(off)
    assert sign_in(Client(HTTP_HOST="alice.localhost"), alice.email, PASSWORD)["Location"] == "/"
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.filter(action="member.two_factor_off").count() == 1


def test_store_staff_are_not_offered_it(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        staff = User.objects.create_user("sue@alice.example", PASSWORD, role=Role.STAFF)
    login(alice_client, alice_tenant, staff)
    assert alice_client.get("/password/two-factor/").status_code == 403
    assert "Two-step sign-in" not in text_of(alice_client.get("/"))


def test_charlie_sees_nothing_of_alices_set_up(
    owner_client: Client, alice_tenant: Tenant, alice: User, charlie_client: Client
) -> None:
    charlie_tenant = Tenant.objects.get(slug="charlie")
    with tenant_context(charlie_tenant):
        charlie = User.objects.get(email="charlie@charlie.example")
    owner_client.post("/password/two-factor/", {"action": "setup"})
    alice_secret = _device(alice_tenant, alice).key
    login(charlie_client, charlie_tenant, charlie)
    page = charlie_client.get("/password/two-factor/")
    assert "Off." in text_of(page)
    assert "alice" not in page.content.decode().lower()
    setup = charlie_client.post("/password/two-factor/", {"action": "setup"})
    assert _device(charlie_tenant, charlie).key != alice_secret
    assert "alice" not in setup.content.decode().lower()
    # Alice's pending sign-in means nothing on charlie's host.
    _enrol(owner_client, alice_tenant, alice)
    browser = Client(HTTP_HOST="alice.localhost")
    sign_in(browser, alice.email, PASSWORD)
    at_charlies = Client(HTTP_HOST="charlie.localhost")
    at_charlies.cookies = browser.cookies
    assert at_charlies.get("/login/code/")["Location"] == "/login/"
