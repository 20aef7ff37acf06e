"""make run's mailbox: mail kept in Redis and listed on the public host, only when turned on,
and refused by production settings."""

import pytest
from django.core.mail import EmailMessage, send_mail
from django.test import Client
from pytest_django import Settings

from customerinfo.core.mailbox import KEEP, MailboxBackend, mailbox_messages
from tests.customerinfo.test_settings import PRODUCTION, run_django

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox_on(settings: Settings) -> None:
    settings.DEV_MAILBOX = True
    settings.EMAIL_BACKEND = "customerinfo.core.mailbox.MailboxBackend"


@pytest.mark.usefixtures("mailbox_on")
def test_sent_mail_is_listed_with_clickable_links(public_client: Client) -> None:
    send_mail("First", "Nothing to click.", "shop@example.com", ["a@example.com"])
    send_mail(
        "Join Alice's Shop",
        "Choose your password: http://alice.localhost:8000/password/invitation/MQ/abc-123/",
        "shop@example.com",
        ["dana@example.com"],
    )
    assert [m["subject"] for m in mailbox_messages()] == ["Join Alice's Shop", "First"]
    page = public_client.get("/mail/").content.decode()
    assert page.index("Join Alice&#x27;s Shop") < page.index("First")
    assert '<a href="http://alice.localhost:8000/password/invitation/MQ/abc-123/"' in page
    assert "dana@example.com" in page


@pytest.mark.usefixtures("mailbox_on")
def test_the_mailbox_keeps_the_latest() -> None:
    backend = MailboxBackend()
    backend.send_messages(
        [EmailMessage(f"n{i}", "", to=["x@example.com"]) for i in range(KEEP + 5)]
    )
    kept = mailbox_messages()
    assert len(kept) == KEEP
    assert kept[0]["subject"] == f"n{KEEP + 4}"


def test_off_the_page_does_not_exist(public_client: Client, settings: Settings) -> None:
    settings.DEV_MAILBOX = False
    assert public_client.get("/mail/").status_code == 404


def test_production_refuses_the_mailbox() -> None:
    result = run_django({**PRODUCTION, "DEV_MAILBOX": "1"}, "check")
    assert result.returncode != 0
    assert "DEV_MAILBOX shows every email on a public page" in result.stderr


@pytest.mark.usefixtures("mailbox_on")
def test_a_shops_host_has_no_mailbox(charlie_client: Client) -> None:
    send_mail("For alice", "http://alice.localhost/x/", "shop@example.com", ["a@alice.example"])
    response = charlie_client.get("/mail/")
    assert response.status_code == 404
    assert b"alice" not in response.content
