"""Every delivery progresses: whatever raises while sending is an attempt with its reason.

Before the boundary in ``crm_sync.failures``, an exception from a provider, from contact building
or from an unparseable URL rolled the round back: the row stayed pending with 0 attempts, its
lease ran out, the relay handed it out again, and the same exception came back, for ever.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from crm_sync import contacts, limits, services
from crm_sync.crypto import CredentialsError
from crm_sync.failures import exception_result, reason_text, result_safe
from crm_sync.http import BlockedAddressError, UnusableSettingsError
from crm_sync.models import Destination, DestinationState
from crm_sync.providers import PROVIDERS, ProviderUnavailableError, Result, Verdict
from crm_sync.providers.webhook import secret_generate
from crm_sync.schedule import MAX_ATTEMPTS, RETRY_AFTER_CAP_SECONDS
from crm_sync.services import sending
from crm_sync.tasks import deliver, deliver_due
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .factories import deliveries_of, send, sign_up, webhook_destination
from .fakes.hubspot import TOKEN, FakeHubSpot

#: Settings and credentials that pass each provider's checks. Nothing is sent to them: the tests
#: make the provider raise before any request.
CONFIGURATIONS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "webhook": ({"url": "https://hooks.example.com/in"}, {"secret": secret_generate()}),
    "hubspot": ({}, {"access_token": TOKEN}),
    "salesforce": (
        {"login_url": "https://alice.my.salesforce.com"},
        {"client_id": "client", "client_secret": "secret"},
    ),
    "mailchimp": ({"list_id": "a1b2c3d4e5"}, {"api_key": "0" * 32 + "-us21"}),
    "klaviyo": ({"list_id": "Y6nRLr"}, {"api_key": "pk_0123456789abcdef"}),
}

#: Per provider, a method that builds the request inside its ``send``, and something it raises.
BUILD_FAILURES: list[tuple[str, str, Exception]] = [
    ("webhook", "headers", ValueError("header value out of range")),
    ("hubspot", "properties", KeyError("firstname")),
    ("salesforce", "record", UnicodeEncodeError("ascii", "Zoë", 2, 3, "not ASCII")),
    ("mailchimp", "member", ZeroDivisionError("division by zero")),
    ("klaviyo", "profile", TypeError("'NoneType' object is not subscriptable")),
]
SEND_FAILURES: list[tuple[str, str, Exception]] = [
    (kind, "send", RuntimeError("the vendor library broke")) for kind in PROVIDERS
]


def destination_of(kind: str) -> Destination:
    settings_, credentials = CONFIGURATIONS[kind]
    return services.destination_create(
        actor=None, name=kind, kind=kind, settings=settings_, credentials=credentials
    )


def raising(error: Exception) -> Any:
    def method(*args: Any, **kwargs: Any) -> Any:
        raise error

    return method


def time_passes(destination: Destination) -> None:
    """Every wait is over: rows due, leases out, and the breaker and limits start afresh."""
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=past, lease_expires_at=None
    )
    scope = limits.destination_scope(
        tenant_id=Tenant.objects.get(slug="alice").pk, destination_id=destination.pk
    )
    limits.breaker_record(scope=scope, success=True)


# --- per provider --------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "method", "error"), BUILD_FAILURES + SEND_FAILURES)
def test_an_exception_inside_a_provider_is_an_attempt_then_dead_with_its_reason(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch, kind: str, method: str, error: Exception
) -> None:
    monkeypatch.setattr(PROVIDERS[kind], method, raising(error))
    destination = destination_of(kind)
    (delivery,) = deliveries_of(sign_up(kiosk))
    assert dict(send(delivery).counts) == {AttemptOutcome.RETRY: 1}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.next_attempt_at > timezone.now()
    reason = f"Unexpected error while sending to the CRM: {type(error).__name__}"
    assert delivery.last_error.startswith(reason)
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == AttemptOutcome.RETRY
    assert attempt.error == delivery.last_error
    # The same failure on the last step of the schedule: dead, kept with the reason.
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    time_passes(destination)
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.last_error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts. Last: {reason}")
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2


@pytest.fixture
def run_tasks_here(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The relay's tasks run at once in this process (inside the test's transaction, which
    threads of their own could not see: one after the other)."""
    settings.CRM_SEND_THREADS = 1

    def run(**kwargs: Any) -> None:
        deliver.apply(kwargs=kwargs)

    def run_due(**kwargs: Any) -> None:
        deliver_due.apply(kwargs=kwargs)

    monkeypatch.setattr(deliver, "delay", run)
    monkeypatch.setattr(deliver_due, "delay", run_due)


@pytest.mark.usefixtures("run_tasks_here")
def test_a_provider_that_always_raises_never_loops(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the relay and the task: one attempt per step of the schedule, then dead."""
    monkeypatch.setattr(PROVIDERS["webhook"], "send", raising(ValueError("always")))
    destination = destination_of("webhook")
    (delivery,) = deliveries_of(sign_up(kiosk))
    for step in range(1, MAX_ATTEMPTS + 1):
        time_passes(destination)
        assert services.deliveries_relay() == 1
        delivery.refresh_from_db()
        assert delivery.attempts == step
    assert delivery.status == DeliveryStatus.DEAD
    time_passes(destination)
    assert services.deliveries_relay() == 0, "a dead row is never handed out again"
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == MAX_ATTEMPTS


# --- contact building ----------------------------------------------------------------------------


def test_a_mapping_that_explodes_is_an_attempt_not_a_loop(kiosk: Kiosk) -> None:
    destination = destination_of("webhook")
    # Written by something other than the services (an old release, a hand-made fix).
    Destination.objects.filter(pk=destination.pk).update(field_mapping=["drink", "favourite"])
    (delivery,) = deliveries_of(sign_up(kiosk))
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_error.startswith(
        "Unexpected error while preparing this sign-up for the CRM: AttributeError"
    )
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    time_passes(destination)
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "AttributeError" in delivery.last_error


def test_a_sign_up_whose_contact_cannot_be_built_fails_alone(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = contacts.contact_build

    def contact_build(**arguments: Any) -> Any:
        if arguments["submission"].email == "odd@example.com":
            raise ValueError("an answer of an unexpected shape")
        return real(**arguments)

    monkeypatch.setattr(sending, "contact_build", contact_build)
    with FakeHubSpot(token=TOKEN) as hubspot:
        destination = services.destination_create(
            actor=None,
            name="HubSpot",
            kind="hubspot",
            settings={"base_url": hubspot.url},
            credentials={"access_token": TOKEN},
        )
        odd = deliveries_of(sign_up(kiosk, email="odd@example.com"))[0]
        fine = deliveries_of(sign_up(kiosk, email="fine@example.com"))[0]
        # One batch: HubSpot takes up to 100 contacts a call.
        services.deliveries_send(destination_id=destination.pk, ids=[odd.pk, fine.pk])
    odd.refresh_from_db()
    fine.refresh_from_db()
    assert fine.status == DeliveryStatus.DELIVERED
    assert list(hubspot.contacts) == ["fine@example.com"]
    assert odd.status == DeliveryStatus.PENDING
    assert odd.attempts == 1
    assert "ValueError: an answer of an unexpected shape" in odd.last_error


# --- the destination itself ----------------------------------------------------------------------


@pytest.mark.parametrize("blocking", [False, True])
@pytest.mark.parametrize("url", ["http://[::1/x", "http://a..b/x", "http://127.000.000.001/"])
def test_a_stored_url_that_cannot_be_used_pauses_with_the_reason(
    kiosk: Kiosk, settings: Any, url: str, blocking: bool
) -> None:
    """Saved before URLs were checked. Retrying cannot help, so the destination is broken:
    paused with the reason, its deliveries held (kept, no attempt spent) until it is fixed."""
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = blocking
    destination = destination_of("webhook")
    Destination.objects.filter(pk=destination.pk).update(settings={"url": url})
    (delivery,) = deliveries_of(sign_up(kiosk))
    send(delivery)
    delivery.refresh_from_db()
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert delivery.status == DeliveryStatus.HELD
    assert delivery.attempts == 0
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == AttemptOutcome.BROKEN
    assert attempt.error == delivery.last_error == destination.paused_reason
    assert any(
        words in attempt.error
        for words in ("URL cannot be used", "not a valid host name", "cannot be sent")
    ), attempt.error


def test_credentials_no_key_can_read_pause_the_destination(kiosk: Kiosk) -> None:
    destination = destination_of("webhook")
    Destination.objects.filter(pk=destination.pk).update(credentials="not-a-fernet-token")
    (delivery,) = deliveries_of(sign_up(kiosk))
    send(delivery)
    delivery.refresh_from_db()
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert delivery.status == DeliveryStatus.HELD
    assert "cannot be decrypted" in delivery.last_error
    assert "Type the credentials again" in destination.paused_reason


def test_a_non_ascii_token_pauses_instead_of_looping(kiosk: Kiosk) -> None:
    """A token pasted with a non-breaking space cannot go in a header, now or ever."""
    with FakeHubSpot(token=TOKEN) as hubspot:
        destination = services.destination_create(
            actor=None,
            name="HubSpot",
            kind="hubspot",
            settings={"base_url": hubspot.url},
            credentials={"access_token": TOKEN + "\u00a0"},  # a non-breaking space
        )
        (delivery,) = deliveries_of(sign_up(kiosk))
        send(delivery)
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert "cannot be sent" in destination.paused_reason
    assert hubspot.requests == []


def test_a_kind_this_release_cannot_send_is_retried_then_dead(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a rollback to a release without this CRM: its rows wait on the schedule."""
    destination = destination_of("webhook")
    (delivery,) = deliveries_of(sign_up(kiosk))
    monkeypatch.delitem(PROVIDERS, "webhook")
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert (
        delivery.last_error == "This release of CustomerInfo cannot send to 'webhook' destinations."
    )
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    time_passes(destination)
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD


# --- what the CRM answers ------------------------------------------------------------------------


def answering(response: httpx.Response) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: response))


def test_a_nul_byte_in_the_crms_answer_is_recorded_without_it(kiosk: Kiosk) -> None:
    """PostgreSQL refuses NUL in text: storing the answer as is made the round fail, for ever."""
    destination = destination_of("webhook")
    (refused,) = deliveries_of(sign_up(kiosk))
    with answering(httpx.Response(422, content=b"bad\x00email\xff")) as client:
        send(refused, client=client)
    refused.refresh_from_db()
    assert refused.status == DeliveryStatus.DEAD
    assert refused.last_error == "bademail\ufffd"
    # The pause's reason goes to the destination and the audit log: no NUL there either.
    (broken,) = deliveries_of(sign_up(kiosk))
    with answering(httpx.Response(401, content=b"no\x00key")) as client:
        send(broken, client=client)
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert destination.paused_reason == "nokey"


@pytest.mark.parametrize("retry_after", ["inf", "nan", "1e400", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_an_absurd_retry_after_is_a_bounded_wait(kiosk: Kiosk, retry_after: str) -> None:
    destination_of("webhook")
    first, second = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
    longest = timedelta(seconds=RETRY_AFTER_CAP_SECONDS * 1.2 + 1)
    with answering(httpx.Response(429, headers={"Retry-After": retry_after})) as client:
        send(first, client=client)
        first.refresh_from_db()
        assert first.attempts == 1
        assert first.status == DeliveryStatus.PENDING
        assert first.next_attempt_at <= timezone.now() + longest
        # A cool-down, when one started, holds the others back no longer than that either.
        send(second, client=client)
    second.refresh_from_db()
    assert second.status == DeliveryStatus.PENDING
    assert second.next_attempt_at <= timezone.now() + longest


# --- the boundary's own rules --------------------------------------------------------------------


def test_reasons_are_text_postgresql_keeps() -> None:
    assert reason_text("a\x00b") == "ab"
    assert reason_text("lone \ud800 surrogate") == "lone ? surrogate"
    assert len(reason_text("x" * 5000)) == 2000


def test_results_are_made_safe_to_store() -> None:
    odd = Result(Verdict.RETRY, status_code=70000, message="x\x00", retry_after=float("inf"))
    assert result_safe(odd) == Result(Verdict.RETRY, None, "x", float(RETRY_AFTER_CAP_SECONDS))
    assert result_safe(Result(Verdict.RETRY, retry_after=float("nan"))).retry_after is None
    assert result_safe(Result(Verdict.RETRY, retry_after=-5)).retry_after == 0
    assert result_safe(Result(Verdict.DELIVERED, 204)) == Result(Verdict.DELIVERED, 204)


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (BlockedAddressError("inside"), Verdict.BROKEN),
        (UnusableSettingsError("token"), Verdict.BROKEN),
        (httpx.InvalidURL("Invalid port"), Verdict.BROKEN),
        (httpx.UnsupportedProtocol("ftp"), Verdict.BROKEN),
        (CredentialsError("no key"), Verdict.BROKEN),
        (ProviderUnavailableError("gone"), Verdict.RETRY),
        (httpx.ReadTimeout("slow"), Verdict.RETRY),
        (httpx.ConnectError("refused"), Verdict.RETRY),
        (KeyError("x"), Verdict.RETRY),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), Verdict.RETRY),
    ],
)
def test_how_each_exception_counts(error: Exception, verdict: Verdict) -> None:
    result = exception_result(error, doing="sending to the CRM")
    assert result.verdict == verdict
    assert result.message


def test_webhook_factory_destinations_still_go_through(kiosk: Kiosk) -> None:
    """The boundary changes nothing for a destination that works."""
    with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(204))) as client:
        destination = webhook_destination(url="https://hooks.example.com/in")
        (delivery,) = deliveries_of(sign_up(kiosk))
        assert dict(send(delivery, client=client).counts) == {AttemptOutcome.DELIVERED: 1}
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.DELIVERED
    assert destination.state == DestinationState.ACTIVE
