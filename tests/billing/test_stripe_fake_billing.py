"""The billing cycle on the fake's clock: trial, renewal, failed payments, recovery, the portal."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import StripeFake
from billing.stripe_fake.pricing import TIMES

from .support import DAY, HOUR, Catalog, browser, checkout, report, types


def _invoices(client: StripeClient, sub: stripe.Subscription) -> list[stripe.Invoice]:
    return list(client.v1.invoices.list(params={"subscription": sub.id}).data)


def test_trial_active_failed_payment_past_due_paid_active(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog)
    customer = str(sub.customer)

    stripe_fake.advance(11 * DAY)
    assert types(stripe_fake, "customer.subscription.") == [
        "customer.subscription.created",
        "customer.subscription.trial_will_end",
    ]
    stripe_fake.set_card(customer, "declines")
    stripe_fake.advance(3 * DAY)
    sub = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    renewal = stripe_client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (renewal.status, renewal.billing_reason, renewal.amount_due) == (
        "draft",
        "subscription_cycle",
        9800,
    )
    assert sub.trial_end is not None
    assert renewal.automatically_finalizes_at == sub.trial_end + HOUR

    stripe_fake.advance(HOUR)
    failed = stripe_client.v1.invoices.retrieve(renewal.id)
    assert (failed.status, failed.attempt_count) == ("open", 1)
    assert failed.next_payment_attempt is not None
    # The retry is three days after the attempt, which ran when the invoice fell due (the
    # fake's clock follows real time, so "an hour after we looked" can be a second late).
    assert renewal.automatically_finalizes_at is not None
    attempted = failed.next_payment_attempt - 3 * DAY
    assert renewal.automatically_finalizes_at <= attempted <= stripe_fake.now()
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    assert stripe_client.v1.customers.retrieve(customer).delinquent
    assert "invoice.payment_failed" in types(stripe_fake, "invoice.")

    assert failed.hosted_invoice_url is not None
    page = browser().get(failed.hosted_invoice_url)
    assert "98.00 USD" in page.text
    assert "<legend>Pay with a test card</legend>" in page.text
    paid = browser().post(
        failed.hosted_invoice_url, data={"card": "succeeds"}, follow_redirects=True
    )
    assert 'role="status">Paid. Thank you.' in paid.text
    assert stripe_client.v1.invoices.retrieve(renewal.id).status == "paid"
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    assert not stripe_client.v1.customers.retrieve(customer).delinquent
    updates = stripe_fake.events("customer.subscription.updated")
    assert [e["data"]["object"]["status"] for e in updates] == ["active", "past_due", "active"]
    assert updates[1]["data"]["previous_attributes"] == {"status": "active"}


def test_failed_payments_are_retried_after_3_5_and_7_days_then_the_subscription_is_unpaid(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, card="declines", trial_days=1)
    stripe_fake.advance(DAY + HOUR)
    (renewal, _) = _invoices(stripe_client, sub)
    attempts = [(renewal.attempt_count, stripe_client.v1.subscriptions.retrieve(sub.id).status)]
    for days in (3, 5, 7):
        stripe_fake.advance(days * DAY)
        renewal = stripe_client.v1.invoices.retrieve(renewal.id)
        attempts.append(
            (renewal.attempt_count, stripe_client.v1.subscriptions.retrieve(sub.id).status)
        )
    assert attempts == [(1, "past_due"), (2, "past_due"), (3, "past_due"), (4, "unpaid")]
    assert renewal.next_payment_attempt is None
    assert types(stripe_fake, "invoice.payment_failed") == ["invoice.payment_failed"] * 4

    stripe_fake.advance(20 * DAY)  # the next period starts: its invoice waits, uncollected
    waiting = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (waiting.status, waiting.auto_advance) == ("draft", False)

    stripe_fake.set_card(str(sub.customer), "succeeds")
    stripe_client.v1.invoices.pay(renewal.id)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "unpaid"  # not the latest
    stripe_client.v1.invoices.pay(waiting.id)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_renewal_that_needs_authentication_waits_for_the_customer(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, card="requires_authentication", trial_days=1)
    stripe_fake.advance(DAY + HOUR)
    renewal = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (renewal.status, renewal.next_payment_attempt) == ("open", None)
    assert "invoice.payment_action_required" in types(stripe_fake, "invoice.")
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"

    with pytest.raises(stripe.CardError) as off_session:
        stripe_client.v1.invoices.pay(renewal.id)
    assert off_session.value.code == "authentication_required"
    assert renewal.hosted_invoice_url is not None
    browser().post(renewal.hosted_invoice_url, data={"card": "requires_authentication"})
    assert stripe_client.v1.invoices.retrieve(renewal.id).status == "paid"
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_new_card_in_the_portal_pays_what_is_owed(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, card="declines", trial_days=1)
    stripe_fake.advance(DAY + HOUR)
    portal = stripe_client.v1.billing_portal.sessions.create(
        params={"customer": str(sub.customer), "return_url": "http://app.test/billing"}
    )
    page = browser().get(portal.url).text
    assert "Visa ending 0341" in page
    assert "past_due" in page
    assert '<a href="http://app.test/billing">Return to CustomerInfo</a>' in page

    saved = browser().post(f"{portal.url}/card", data={"card": "succeeds"}, follow_redirects=True)
    assert "Visa ending 4242" in saved.text
    sub = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert sub.status == "active"
    customer = stripe_client.v1.customers.retrieve(str(sub.customer))
    assert customer.invoice_settings is not None
    assert sub.default_payment_method == customer.invoice_settings.default_payment_method
    assert [i.status for i in _invoices(stripe_client, sub)] == ["paid", "paid"]

    paid = _invoices(stripe_client, sub)[0]
    assert paid.hosted_invoice_url is not None
    again = browser().post(paid.hosted_invoice_url, data={"card": "succeeds"})
    assert (again.status_code, again.headers["Location"]) == (303, f"/invoice/{paid.id}")
    stranger = checkout(stripe_client, catalog)[1]
    ignored = browser().post(
        f"{portal.url}/cancel", data={"subscription": stranger.id, "when": "now"}
    )
    assert ignored.headers["Location"] == f"/portal/{portal.id}"
    assert stripe_client.v1.subscriptions.retrieve(stranger.id).status == "trialing"
    browser().post(f"{portal.url}/cancel", data={"subscription": sub.id, "when": "now"})
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert "Subscription canceled." in browser().get(f"{portal.url}?done=canceled").text


def test_cancelling_in_the_portal_at_period_end_bills_the_last_usage(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    portal = stripe_client.v1.billing_portal.sessions.create(params={"customer": str(sub.customer)})
    scheduled = browser().post(
        f"{portal.url}/cancel",
        data={"subscription": sub.id, "when": "period_end"},
        follow_redirects=True,
    )
    assert "will end at the end of its period" in scheduled.text
    assert stripe_client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end
    report(stripe_client, str(sub.customer), 150, stripe_fake.now(), "last-month")

    stripe_fake.advance(32 * DAY)
    ended = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert ended.status == "canceled"
    assert ended.cancellation_details is not None
    assert ended.cancellation_details.reason == "cancellation_requested"
    last = _invoices(stripe_client, sub)[0]
    assert (last.status, last.amount_paid) == ("paid", 125)  # 50 billable sign-ups at 2.5 cents
    assert types(stripe_fake, "customer.subscription.deleted") == ["customer.subscription.deleted"]


def test_graduated_tiers_price_the_usage_of_the_period_ended(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    customer = str(sub.customer)
    start, end = sub["items"].data[0].current_period_start, sub["items"].data[0].current_period_end
    report(stripe_client, customer, 100, start + 60, "first-hundred")
    stripe_fake.advance(10 * DAY)
    report(stripe_client, customer, 150, stripe_fake.now(), "next-150")

    preview = stripe_client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.id.startswith("upcoming_in_")
    assert preview.amount_due == 9800 + 375

    stripe_fake.advance(end - stripe_fake.now())
    renewal = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (renewal.status, renewal.period_start, renewal.period_end) == ("draft", start, end)
    report(stripe_client, customer, 11, end - 30, "late-but-in-time")  # within the draft's hour
    stripe_fake.advance(HOUR)

    renewal = stripe_client.v1.invoices.retrieve(renewal.id)
    seats, usage = renewal.lines.data
    assert (seats.quantity, seats.amount) == (2, 9800)
    assert (seats.period.start, seats.period.end) == (end, sub_period_end(stripe_client, sub))
    # 261 sign-ups: 100 at 0, then 161 at 2.5 cents = 402.5, rounded half up to 403.
    assert (usage.quantity, usage.amount) == (261, 403)
    assert (usage.period.start, usage.period.end) == (start, end)
    assert usage.pricing is not None
    assert usage.pricing.price_details is not None
    assert usage.pricing.price_details.price == catalog.usage.id
    assert (renewal.status, renewal.total, renewal.amount_paid) == ("paid", 10203, 10203)
    assert renewal.number is not None


def sub_period_end(client: StripeClient, sub: stripe.Subscription) -> int:
    return int(client.v1.subscriptions.retrieve(sub.id)["items"].data[0].current_period_end)


def test_a_seat_change_is_prorated_for_the_time_left(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    seats = sub["items"].data[0]
    stripe_fake.advance(10 * DAY)
    stripe_client.v1.subscription_items.update(seats.id, params={"quantity": 3})
    preview = stripe_client.v1.invoices.create_preview(params={"customer": str(sub.customer)})
    credit, charge = _prorations(preview)
    left = Decimal(seats.current_period_end - credit.period.start) / Decimal(
        seats.current_period_end - seats.current_period_start
    )
    assert credit.amount == -int((9800 * left).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert charge.amount == int((14700 * left).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert credit.description is not None
    assert credit.description.startswith(f"Unused time on 2 {TIMES} CustomerInfo after")

    stripe_client.v1.subscriptions.update(
        sub.id,
        params={"items": [{"id": seats.id, "quantity": 5}], "proration_behavior": "always_invoice"},
    )
    now_billed = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (now_billed.billing_reason, now_billed.status) == ("subscription_update", "paid")
    assert len(_prorations(now_billed)) == 4  # the pending 2 -> 3 lines are billed with it

    stripe_client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": seats.id, "quantity": 1}], "proration_behavior": "none"}
    )
    assert stripe_client.v1.subscription_items.retrieve(seats.id).quantity == 1
    following = stripe_client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert _prorations(following) == []
    assert following.amount_due == 4900


def _prorations(invoice: stripe.Invoice) -> list[stripe.InvoiceLineItem]:
    return [
        line
        for line in invoice.lines.data
        if line.parent is not None
        and line.parent.subscription_item_details is not None
        and line.parent.subscription_item_details.proration
    ]
