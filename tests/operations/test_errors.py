"""Errors reach someone: kept by kind and mailed as a digest without Sentry; scrubbed of
shopper data and tagged with the shop when Sentry is on."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sentry_sdk
import time_machine
from celery.signals import task_failure
from django.core.signals import got_request_exception
from django.test import RequestFactory
from django.utils import timezone
from pytest_django import Settings

from operations.alerts import operators_alert
from operations.error_reports import errors_digest, fingerprint
from operations.models import ErrorDigest, ErrorReport
from operations.scrubbing import scrub, scrub_text
from operations.sentry import before_send, sentry_init
from operations.tasks import errors_digest as errors_digest_task

pytestmark = pytest.mark.django_db

#: Kept away from the code that raises: Sentry sends a few lines of source around each frame.
SHOPPER = {"email": "zoe@example.com", "first_name": "Zoé", "phone": "+33 6 12 34 56 78"}


@pytest.fixture(autouse=True)
def _operators(settings: Settings) -> None:
    settings.SENTRY_DSN = ""
    settings.OPERATOR_EMAILS = ["ops@customerinfo.test"]
    settings.ERROR_DIGEST_SIZE = 2


def shopper_lookup(email: str) -> None:
    raise LookupError(f"no shopper {email}, phone {SHOPPER['phone']}")


def request_fails(path: str = "/portal/submissions/", email: str = SHOPPER["email"]) -> None:
    """What Django's handler does with a view's exception: the signal, inside the except."""
    try:
        shopper_lookup(email)
    except LookupError:
        got_request_exception.send(sender=None, request=RequestFactory().post(path))


def test_a_failed_request_is_kept_once_per_kind_and_counted() -> None:
    request_fails()
    request_fails(email="other@example.com")

    (report,) = ErrorReport.objects.all()
    assert (report.count, report.pending) == (2, 2)
    assert report.exception_type == "builtins.LookupError"
    assert report.origin == "request POST /portal/submissions/"
    assert "example.com" not in report.message + report.traceback
    assert "12 34" not in report.message
    assert "[email]" in report.message
    assert "[phone]" in report.message
    assert "shopper_lookup" in report.traceback


def test_a_failed_task_is_kept() -> None:
    try:
        raise ValueError("bad row")
    except ValueError as error:
        task_failure.send(
            sender=errors_digest_task, task_id="1", exception=error, traceback=error.__traceback__
        )

    report = ErrorReport.objects.get()
    assert report.origin == "task operations.tasks.errors_digest"


def test_with_sentry_nothing_is_kept_here(settings: Settings) -> None:
    settings.SENTRY_DSN = "http://key@127.0.0.1:9/1"
    request_fails()
    assert not ErrorReport.objects.exists()


def test_the_fingerprint_ignores_line_numbers_but_not_the_code_path() -> None:
    def first() -> Any:
        try:
            raise KeyError("x")
        except KeyError as error:
            return (KeyError, error, error.__traceback__)

    def second() -> Any:
        try:
            raise KeyError("x")  # the same line of code, in another function
        except KeyError as error:
            return (KeyError, error, error.__traceback__)

    assert fingerprint(first()) == fingerprint(first())
    assert fingerprint(first()) != fingerprint(second())


def test_the_digest_sends_new_kinds_first_then_the_most_frequent(mailoutbox: list[Any]) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        for _ in range(5):
            request_fails("/old/")
        assert errors_digest() is not None
    mailoutbox.clear()
    for _ in range(3):
        request_fails("/old/")
    for _ in range(9):
        try:
            raise RuntimeError("frequent")
        except RuntimeError:
            got_request_exception.send(sender=None, request=RequestFactory().get("/frequent/"))
    try:
        int("new")
    except ValueError:
        got_request_exception.send(sender=None, request=RequestFactory().get("/new/"))

    digest = errors_digest()

    assert digest is not None
    assert (digest.errors, digest.occurrences) == (3, 13)
    (mail,) = mailoutbox
    assert mail.to == ["ops@customerinfo.test"]
    body = mail.body
    # Both new kinds come first, the more frequent of them first; the old LookupError, more
    # frequent than the new ValueError, is the one left out (ERROR_DIGEST_SIZE is 2).
    assert body.index("[NEW] 9x builtins.RuntimeError") < body.index("[NEW] 1x builtins.ValueE")
    assert "LookupError" not in body
    assert "1 other kind(s)" in body
    assert set(ErrorReport.objects.values_list("pending", flat=True)) == {0}
    assert errors_digest_task() == 0  # the beat task: nothing new since
    assert errors_digest() is None
    assert ErrorDigest.objects.count() == 2


def test_a_digest_whose_mail_fails_keeps_every_count(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_fails()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr("operations.error_reports.send_mail", refuse)
    with pytest.raises(OSError, match="mail server down"):
        errors_digest()

    assert ErrorReport.objects.get().pending == 1
    assert not ErrorDigest.objects.exists()


def test_scrubbing_keeps_ids_and_code_but_not_shoppers() -> None:
    text = (
        "sign-up 0b6f7c9e-5d1a-4c3b-9f2e-1a2b3c4d5e6f of jo.doe+kiosk@mail.example.fr "
        "+1 (415) 555-2671"
    )
    assert scrub_text(text) == "sign-up 0b6f7c9e-5d1a-4c3b-9f2e-1a2b3c4d5e6f of [email] [phone]"
    assert scrub_text('File "signup/services.py", line 1234, in create') == (
        'File "signup/services.py", line 1234, in create'
    )
    assert scrub({"first_name": "Zoé", "form": {"answers": {"x": 1}}, "n": [3]}) == {
        "first_name": "[Filtered]",
        "form": {"answers": "[Filtered]"},
        "n": [3],
    }


@pytest.fixture
def sentry_events(settings: Settings) -> Iterator[list[dict[str, Any]]]:
    settings.SENTRY_DSN = "http://public@127.0.0.1:9/1"
    assert sentry_init()
    events: list[dict[str, Any]] = []
    client = sentry_sdk.get_client()
    assert client.transport is not None
    client.transport.capture_envelope = lambda envelope: events.extend(  # type: ignore[method-assign]
        item.payload.json for item in envelope.items if item.payload.json
    )
    try:
        yield events
    finally:
        sentry_sdk.init()  # no DSN: the SDK records nothing from here on


def test_sentry_gets_errors_scrubbed_and_tagged(sentry_events: list[dict[str, Any]]) -> None:
    options = sentry_sdk.get_client().options
    assert options["send_default_pii"] is False

    def submit(email: str, first_name: str) -> None:
        shopper_lookup(email)

    try:
        submit(SHOPPER["email"], SHOPPER["first_name"])
    except LookupError as error:
        sentry_sdk.capture_exception(error)

    (event,) = sentry_events
    text = str(event)
    assert "zoe@example.com" not in text
    assert "Zoé" not in text
    assert "12 34" not in text
    assert event["tags"]["tenant"] == "public"


def test_before_send_scrubs_request_bodies() -> None:
    event = {
        "request": {
            "data": {"email": "a@b.example", "note": "call +33 6 12 34 56 78"},
            "headers": {"X-Request-Id": "ingress-42"},
        },
        "contexts": {"runtime": {"name": "CPython"}},
    }
    scrubbed = before_send(event, {})
    assert scrubbed["tags"] == {"tenant": "public", "request_id": "ingress-42"}
    assert scrubbed["request"]["data"] == {"email": "[Filtered]", "note": "call [phone]"}
    assert scrubbed["contexts"]["runtime"]["name"] == "CPython"


def test_an_alert_whose_mail_fails_is_still_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr("operations.alerts.send_mail", refuse)

    assert operators_alert(subject="Backup failed", body="disk full") is False
    assert [record.message for record in caplog.records] == [
        "operators alerted",
        "operators not mailed",
    ]
