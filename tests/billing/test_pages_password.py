"""A forgotten password, on the shop's own host: works once, mails nobody it should not, stays
in its shop."""

import re

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.conftest import PASSWORD

from .pages import html, public_client, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def public() -> Client:
    return public_client()


# --- a forgotten password, on the shop's own host --------------------------------------------


def test_password_reset_on_the_shops_host_works_once(alice_client: Client) -> None:
    form = alice_client.get("/password/reset/")
    assert form.status_code == 200
    assert "Alice's Shop" in text_of(form)
    sent = alice_client.post("/password/reset/", {"email": "alice@alice.example"})
    assert sent.status_code == 302
    assert sent["Location"] == "/password/reset/sent/"
    assert "Check your email" in text_of(alice_client.get(sent["Location"]))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@alice.example"]
    assert message.subject == "Set a new password for alice.localhost"
    assert "works once" in str(message.body)
    found = re.search(
        r"http://alice\.localhost(/password/reset/[^/\s]+/[^/\s]+/)", str(message.body)
    )
    assert found, message.body
    link = found.group(1)
    opened = alice_client.get(link)
    assert opened.status_code == 302  # to the same page without the token in the address
    choose = alice_client.get(opened["Location"])
    assert choose.status_code == 200
    assert html(choose).inputs["new_password1"]
    done = alice_client.post(
        opened["Location"],
        {"new_password1": "a-brand-new-password", "new_password2": "a-brand-new-password"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/password/reset/done/"
    assert "Your password is set" in text_of(alice_client.get(done["Location"]))
    signed_in = alice_client.post(
        "/login/", {"username": "alice@alice.example", "password": "a-brand-new-password"}
    )
    assert signed_in.status_code == 302
    # The link is spent.
    again = Client(HTTP_HOST="alice.localhost").get(link, follow=True)
    assert "used already or has expired" in text_of(again)
    assert 'href="/password/reset/"' in again.content.decode()


def test_password_reset_mails_nobody_for_an_unknown_address_or_another_shop(
    alice_client: Client, charlie_client: Client
) -> None:
    assert alice_client.post("/password/reset/", {"email": "no@one.example"}).status_code == 302
    assert (
        charlie_client.post("/password/reset/", {"email": "alice@alice.example"}).status_code == 302
    )
    assert mail.outbox == []


def test_a_reset_link_of_alices_shop_does_nothing_on_charlies(
    alice_client: Client, charlie_client: Client, charlie_tenant: Tenant
) -> None:
    alice_client.post("/password/reset/", {"email": "alice@alice.example"})
    link = re.search(r"http://alice\.localhost(/password/reset/\S+/)", str(mail.outbox[0].body))
    assert link
    response = charlie_client.get(link.group(1), follow=True)
    assert "used already or has expired" in text_of(response)
    with tenant_context(charlie_tenant):
        assert User.objects.get(email="charlie@charlie.example").check_password(PASSWORD)
