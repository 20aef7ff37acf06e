"""One bad row fails alone: a batch the CRM refuses whole is split until the contact at fault
is found, and only that contact ends dead, with the vendor's reason.

First the search on its own (``services.splitting``, with a CRM made of a function), then each
provider through the sender against its fake CRM, taught to refuse a whole call holding the
poisoned sign-up the way that vendor does. For the providers that send one contact per call
(Klaviyo, Mailchimp, the webhook) a "batch" is one task's backlog: the bad row must not hold
back the others either.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from crm_sync import services
from crm_sync.models import Destination
from crm_sync.providers import Result, Verdict
from crm_sync.providers.webhook import secret_generate
from crm_sync.services import sending
from crm_sync.services.claims import DEFERRED
from crm_sync.services.splitting import batch_split
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from tests.signup.factories import Kiosk

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.hubspot import TOKEN, UPSERT_PATH, FakeHubSpot
from .fakes.klaviyo import API_KEY as KLAVIYO_KEY
from .fakes.klaviyo import LIST_ID as KLAVIYO_LIST
from .fakes.klaviyo import FakeKlaviyo, invalid
from .fakes.mailchimp import API_KEY as MAILCHIMP_KEY
from .fakes.mailchimp import LIST_ID as MAILCHIMP_LIST
from .fakes.mailchimp import FakeMailchimp
from .fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce
from .fakes.server import FakeServer, Reply, Request
from .fakes.webhook import FakeWebhookReceiver

POISON = "poison@example.com"
#: What each fake says when it refuses the poisoned call; the dead row must carry it.
HUBSPOT_REASON = "Property values were not valid"
SALESFORCE_REASON = "Cannot deserialize instance of date from VALUE_STRING"
KLAVIYO_REASON = "Invalid value for custom property."
MAILCHIMP_REASON = "looks fake or invalid"
WEBHOOK_REASON = "unparseable birthday"

# --- the search ---------------------------------------------------------------------------------

REFUSED = Result(Verdict.PERMANENT, 400, "Bad value somewhere", whole_batch=True)
DELIVERED = Result(Verdict.DELIVERED, 200)


def crm(bad: set[int], calls: list[list[int]]) -> Callable[[list[int]], dict[int, Result]]:
    """A CRM that refuses, whole, any call holding one of ``bad``; it notes every call."""

    def send(keys: list[int]) -> dict[int, Result]:
        calls.append(list(keys))
        answer = REFUSED if bad & set(keys) else DELIVERED
        return dict.fromkeys(keys, answer)

    return send


@pytest.mark.parametrize(("size", "bad"), [(200, {137}), (100, {0}), (7, {6}), (2, {1})])
def test_one_bad_contact_is_found_with_about_two_calls_per_halving(
    size: int, bad: set[int]
) -> None:
    calls: list[list[int]] = []
    split = batch_split(results=dict.fromkeys(range(size), REFUSED), send=crm(bad, calls))
    (culprit,) = bad
    assert split.results[culprit] == Result(Verdict.PERMANENT, 400, "Bad value somewhere")
    assert all(split.results[key] == DELIVERED for key in range(size) if key != culprit)
    assert split.unresolved == []
    assert split.calls == len(calls) <= 2 * (size - 1).bit_length()
    # Every innocent contact went in exactly one call the CRM took.
    taken = [key for call in calls if culprit not in call for key in call]
    assert sorted(taken) == sorted(set(range(size)) - bad)


def test_two_bad_contacts_are_both_found() -> None:
    calls: list[list[int]] = []
    split = batch_split(results=dict.fromkeys(range(200), REFUSED), send=crm({3, 150}, calls))
    assert {
        key for key, result in split.results.items() if result.verdict == Verdict.PERMANENT
    } == {
        3,
        150,
    }
    assert split.calls <= 32


def test_a_single_contact_refused_is_final_without_another_call() -> None:
    calls: list[list[int]] = []
    split = batch_split(results={5: REFUSED}, send=crm({5}, calls))
    assert calls == []
    assert split.results == {5: Result(Verdict.PERMANENT, 400, "Bad value somewhere")}


def test_results_not_refused_whole_are_left_as_they_are() -> None:
    calls: list[list[int]] = []
    named = Result(Verdict.PERMANENT, 400, "Email invalid")
    results = {1: named, 2: DELIVERED, 3: Result(Verdict.RETRY, 503)}
    assert batch_split(results=results, send=crm(set(), calls)).results == results
    assert calls == []


def test_when_the_budget_runs_out_the_rest_is_unresolved_not_dead() -> None:
    calls: list[list[int]] = []
    split = batch_split(
        results=dict.fromkeys(range(16), REFUSED), send=crm({11}, calls), max_calls=4
    )
    assert split.calls == 4
    # [0..7] taken, [8..15] refused, [8..11] refused, [12..15] taken: no call is left for the
    # halves of [8..11].
    assert sorted(split.unresolved) == [8, 9, 10, 11]
    assert all(split.results[key] == DELIVERED for key in [*range(8), *range(12, 16)])


def test_when_the_rate_limit_says_wait_the_rest_is_unresolved() -> None:
    split = batch_split(results=dict.fromkeys(range(4), REFUSED), send=lambda keys: None)
    assert split.calls == 0
    assert sorted(split.unresolved) == [0, 1, 2, 3]


# --- each provider, through the sender ---------------------------------------------------------


class PickyHubSpot(FakeHubSpot):
    """Refuses a batch holding the poison with one 400 that names no input (HubSpot does so for
    some malformed values even with trace ids)."""

    def handle(self, request: Request) -> Reply:
        if request.path == UPSERT_PATH and POISON.encode() in request.body:
            return Reply(
                400,
                {"status": "error", "category": "VALIDATION_ERROR", "message": HUBSPOT_REASON},
            )
        return super().handle(request)


class PickySalesforce(FakeSalesforce):
    """Refuses a whole composite upsert holding the poison: one 400 for a malformed value."""

    def handle(self, request: Request) -> Reply:
        if request.method == "PATCH" and POISON.encode() in request.body:
            return Reply(400, [{"errorCode": "JSON_PARSER_ERROR", "message": SALESFORCE_REASON}])
        return super().handle(request)


class PickyKlaviyo(FakeKlaviyo):
    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/api/profile-import") and POISON.encode() in request.body:
            return invalid(KLAVIYO_REASON, "/data/attributes/properties")
        return super().handle(request)


class PickyReceiver(FakeWebhookReceiver):
    def handle(self, request: Request) -> Reply:
        if POISON.encode() in request.body:
            return Reply(400, {"error": WEBHOOK_REASON})
        return super().handle(request)


@dataclass
class Vendor:
    fake: FakeServer
    destination: Destination
    reason: str
    #: Contacts the CRM created; any update would be a contact sent twice.
    created: Callable[[], int]
    updated: Callable[[], int]


@pytest.fixture(params=["hubspot", "salesforce", "klaviyo", "mailchimp", "webhook"])
def vendor(request: pytest.FixtureRequest, kiosk: Kiosk) -> Iterator[Vendor]:
    kind: str = request.param
    create = services.destination_create
    if kind == "hubspot":
        with PickyHubSpot(token=TOKEN) as hubspot:
            destination = create(
                actor=None,
                name=kind,
                kind=kind,
                settings={"base_url": hubspot.url},
                credentials={"access_token": TOKEN},
            )
            yield Vendor(
                hubspot,
                destination,
                HUBSPOT_REASON,
                lambda: hubspot.creates,
                lambda: hubspot.updates,
            )
    elif kind == "salesforce":
        with PickySalesforce(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as org:
            destination = create(
                actor=None,
                name=kind,
                kind=kind,
                settings={"login_url": org.url},
                credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            )
            yield Vendor(
                org, destination, SALESFORCE_REASON, lambda: org.creates, lambda: org.updates
            )
    elif kind == "klaviyo":
        with PickyKlaviyo() as klaviyo:
            destination = create(
                actor=None,
                name=kind,
                kind=kind,
                settings={"base_url": klaviyo.url, "list_id": KLAVIYO_LIST},
                credentials={"api_key": KLAVIYO_KEY},
            )
            yield Vendor(
                klaviyo,
                destination,
                KLAVIYO_REASON,
                lambda: klaviyo.creates,
                lambda: klaviyo.updates,
            )
    elif kind == "mailchimp":
        with FakeMailchimp() as mailchimp:
            mailchimp.fake_emails.add(POISON)
            destination = create(
                actor=None,
                name=kind,
                kind=kind,
                settings={"base_url": mailchimp.url, "list_id": MAILCHIMP_LIST},
                credentials={"api_key": MAILCHIMP_KEY},
            )
            yield Vendor(
                mailchimp,
                destination,
                MAILCHIMP_REASON,
                lambda: mailchimp.creates,
                lambda: mailchimp.updates,
            )
    else:
        secret = secret_generate()
        with PickyReceiver(secrets=[secret]) as receiver:
            destination = webhook_destination(url=receiver.url + "/hooks", secret=secret)
            yield Vendor(
                receiver,
                destination,
                WEBHOOK_REASON,
                lambda: receiver.received,
                lambda: receiver.received - len(receiver.events),
            )


def test_a_batch_with_one_bad_row_ends_with_that_row_dead_and_the_rest_delivered_once(
    kiosk: Kiosk, vendor: Vendor
) -> None:
    emails = [f"shopper-{number}@example.com" for number in range(6)]
    emails.insert(4, POISON)
    rows = {email: deliveries_of(sign_up(kiosk, email=email))[0] for email in emails}
    report = services.deliveries_send(
        destination_id=vendor.destination.pk, ids=[row.pk for row in rows.values()]
    )
    assert dict(report.counts) == {AttemptOutcome.DELIVERED: 6, AttemptOutcome.PERMANENT: 1}
    bad = Delivery.objects.get(pk=rows[POISON].pk)
    assert bad.status == DeliveryStatus.DEAD
    assert vendor.reason in bad.last_error
    assert bad.last_status_code == 400
    delivered = Delivery.objects.filter(pk__in=[row.pk for row in rows.values()]).exclude(pk=bad.pk)
    assert set(delivered.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    # One attempt each: being in a batch that was split cost the innocent contacts nothing.
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert DeliveryAttempt.objects.count() == len(emails)
    assert vendor.created() == len(emails) - 1
    assert vendor.updated() == 0


def test_a_split_that_runs_out_of_calls_spends_no_attempt_on_the_rest(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_sync.services.splitting.MAX_SPLIT_CALLS", 2)
    with PickyHubSpot(token=TOKEN) as hubspot:
        destination = services.destination_create(
            actor=None,
            name="HubSpot",
            kind="hubspot",
            settings={"base_url": hubspot.url},
            credentials={"access_token": TOKEN},
        )
        emails = [POISON, *(f"shopper-{number}@example.com" for number in range(3))]
        rows = [deliveries_of(sign_up(kiosk, email=email))[0] for email in emails]
        report = services.deliveries_send(
            destination_id=destination.pk, ids=[row.pk for row in rows]
        )
    # The batch, refused; [poison, 0], refused; [1, 2], taken. No call is left to halve
    # [poison, 0]: both go back to the outbox for a later, smaller batch, spending nothing.
    assert dict(report.counts) == {AttemptOutcome.DELIVERED: 2, DEFERRED: 2}
    left = Delivery.objects.filter(status=DeliveryStatus.PENDING).order_by("pk")
    assert [row.pk for row in left] == [rows[0].pk, rows[1].pk]
    assert set(left.values_list("attempts", flat=True)) == {0}
    soon = timezone.now() + timedelta(seconds=sending.MAX_SPLIT_RATE_WAIT_SECONDS)
    assert all(row.next_attempt_at <= soon for row in left)
    assert hubspot.creates == 2
