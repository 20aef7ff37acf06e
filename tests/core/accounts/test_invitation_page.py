"""The invitee's page: from the emailed link to signed in on the shop's portal, once."""

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts import services
from customerinfo.core.accounts.models import User
from tenants.models import Tenant

from .support import link_in_last_mail, text_of

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-password-of-my-own-42"


@pytest.fixture
def link(alice_tenant: Tenant, alice: User) -> str:
    with tenant_context(alice_tenant):
        services.member_invite(
            actor=alice,
            email="dana@alice.example",
            full_name="Dana",
            role="manager",
            site_url="http://alice.localhost",
        )
    return link_in_last_mail()


def test_the_invitee_chooses_a_password_and_lands_signed_in(link: str) -> None:
    browser = Client(HTTP_HOST="alice.localhost")
    opened = browser.get(link)
    assert opened.status_code == 302  # the token leaves the address bar
    assert opened["Location"].endswith("/choose-password/")
    page = browser.get(opened["Location"])
    assert page.status_code == 200
    assert "Join Alice's Shop" in text_of(page)
    assert "You are invited as Manager" in text_of(page)
    weak = browser.post(opened["Location"], {"password": "123", "password_again": "123"})
    assert weak.status_code == 400
    assert "This password is too short" in text_of(weak)
    differ = browser.post(opened["Location"], {"password": NEW_PASSWORD, "password_again": "x"})
    assert "The two passwords differ" in text_of(differ)
    joined = browser.post(
        opened["Location"], {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert joined["Location"] == "/"
    home = browser.get("/")
    assert home.status_code == 200
    assert "dana@alice.example (Manager)" in text_of(home)
    assert "Welcome to the team" in text_of(home)
    # Spent: the same link, in another browser, says so.
    again = Client(HTTP_HOST="alice.localhost").get(link, follow=True)
    assert again.status_code == 400
    assert "This invitation link does not work" in text_of(again)
    signed_in = Client(HTTP_HOST="alice.localhost").post(
        "/login/", {"username": "dana@alice.example", "password": NEW_PASSWORD}
    )
    assert signed_in.status_code == 302


def test_a_tampered_link_does_nothing(link: str) -> None:
    browser = Client(HTTP_HOST="alice.localhost")
    broken = link.rstrip("/")[:-3] + "abc/"
    response = browser.get(broken, follow=True)
    assert response.status_code == 400
    assert 'href="/login/"' in response.content.decode()


def test_alices_link_shows_charlie_nothing(
    link: str, charlie_client: Client, alice_tenant: Tenant
) -> None:
    response = charlie_client.get(link, follow=True)
    assert response.status_code == 400
    assert "dana" not in response.content.decode()
    assert "Alice" not in response.content.decode()
    with tenant_context(alice_tenant):
        assert User.objects.get(email="dana@alice.example").invitation_pending
    assert len(mail.outbox) == 1
