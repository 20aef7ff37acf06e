"""``manage.py tenant_create`` without a password: the owner gets an invitation link that works.

Django sends no password-reset mail to an account without a usable password, so an owner made
without one could never get in; the command invites them instead (docs/operations.md,
"Creating a shop").
"""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import Role, User
from tenants.models import Tenant
from tests.conftest import host_of

pytestmark = pytest.mark.django_db

PASSWORD = "erins-own-long-password"


def create_erin() -> str:
    output = StringIO()
    call_command(
        "tenant_create",
        "erin",
        name="Erin's",
        owner_email="Erin@Example.com",
        site_url="http://erin.localhost",
        stdout=output,
    )
    lines = output.getvalue().splitlines()
    assert lines[0] == "Created Erin's in schema t_erin."
    match = re.fullmatch(
        r"Send the owner this link to choose a password: http://erin\.localhost(/\S+/)", lines[1]
    )
    assert match is not None, lines
    return match.group(1)


def test_the_owner_chooses_a_password_through_the_printed_link() -> None:
    path = create_erin()
    erin = Tenant.objects.get(slug="erin")
    with tenant_context(erin):
        owner = User.objects.get()
        assert (owner.email, owner.role, owner.has_usable_password()) == (
            "erin@example.com",
            Role.OWNER,
            False,
        )
        assert owner.invitation_pending

    browser = Client(HTTP_HOST=host_of(erin))
    page = browser.get(path, follow=True)
    assert page.status_code == 200
    chosen = browser.post(
        page.redirect_chain[-1][0], {"password": PASSWORD, "password_again": PASSWORD}
    )
    assert chosen.status_code == 302, chosen.content.decode()[:2000]
    assert browser.get(chosen["Location"]).status_code == 200
    with tenant_context(erin):
        owner = User.objects.get()
        assert owner.check_password(PASSWORD)
        assert not owner.invitation_pending


def test_the_link_means_nothing_on_another_shop(charlie_tenant: Tenant) -> None:
    path = create_erin()
    stranger = Client(HTTP_HOST=host_of(charlie_tenant))
    assert stranger.get(path, follow=True).status_code == 400


def test_with_a_password_nobody_is_invited() -> None:
    output = StringIO()
    call_command(
        "tenant_create",
        "fred",
        name="Fred's",
        owner_email="fred@example.com",
        owner_password="freds-long-password",
        stdout=output,
    )
    assert output.getvalue() == "Created Fred's in schema t_fred.\n"
    with tenant_context(Tenant.objects.get(slug="fred")):
        owner = User.objects.get()
        assert owner.check_password("freds-long-password")
        assert not owner.invitation_pending
