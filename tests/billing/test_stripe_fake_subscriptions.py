"""Subscriptions off the happy path: no card at trial end, cancel, incomplete, paused collection."""

from typing import cast

import pytest
import stripe
from stripe import StripeClient
from stripe.params import SubscriptionListParams

from billing.stripe_fake import StripeFake

from .support import DAY, HOUR, Catalog, checkout, report, types


def _no_card_trial(client: StripeClient, catalog: Catalog, behaviour: str) -> stripe.Subscription:
    session, _ = checkout(
        client,
        catalog,
        card="none",
        payment_method_collection="if_required",
        subscription_data={
            "trial_period_days": 14,
            "trial_settings": {"end_behavior": {"missing_payment_method": behaviour}},
        },
    )
    return client.v1.subscriptions.retrieve(str(session.subscription))


def test_a_trial_without_a_card_pauses_then_resumes_once_there_is_one(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    sub = _no_card_trial(stripe_client, catalog, "pause")
    assert sub.trial_settings is not None
    assert sub.trial_settings.end_behavior.missing_payment_method == "pause"
    stripe_fake.advance(15 * DAY)
    paused = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert paused.status == "paused"
    assert paused.status_details is not None
    assert types(stripe_fake, "customer.subscription.paused") == ["customer.subscription.paused"]
    assert len(stripe_client.v1.invoices.list(params={"subscription": sub.id}).data) == 1
    with pytest.raises(stripe.InvalidRequestError) as none:
        stripe_client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert none.value.code == "invoice_upcoming_none"

    stripe_fake.set_card(str(sub.customer), "declines")
    with pytest.raises(stripe.CardError):
        stripe_client.v1.subscriptions.resume(
            sub.id, params={"payment_behavior": "resume_on_payment_success"}
        )
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "paused"
    stripe_fake.set_card(str(sub.customer), "succeeds")
    before = stripe_fake.now()  # the fake's clock follows real time: a second may turn
    resumed = stripe_client.v1.subscriptions.resume(sub.id)
    assert resumed.status == "active"
    assert before <= resumed["items"].data[0].current_period_start <= stripe_fake.now()
    first = stripe_client.v1.invoices.retrieve(str(resumed.latest_invoice))
    assert (first.billing_reason, first.status, first.amount_paid) == (
        "subscription_update",
        "paid",
        9800,
    )
    assert "customer.subscription.resumed" in types(stripe_fake)
    with pytest.raises(stripe.InvalidRequestError, match="Only a paused subscription"):
        stripe_client.v1.subscriptions.resume(sub.id)


def test_a_trial_without_a_card_can_end_in_cancellation(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    sub = _no_card_trial(stripe_client, catalog, "cancel")
    stripe_fake.advance(14 * DAY + 1)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "canceled"
    assert types(stripe_fake, "customer.subscription.deleted") == ["customer.subscription.deleted"]


def test_a_trial_without_a_card_can_invoice_anyway_and_fall_past_due(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    sub = _no_card_trial(stripe_client, catalog, "create_invoice")
    stripe_fake.advance(14 * DAY + HOUR)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"


def test_cancelling_now_can_bill_the_usage_so_far(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    report(stripe_client, str(sub.customer), 140, stripe_fake.now(), "so-far")
    before = stripe_fake.now()
    canceled = stripe_client.v1.subscriptions.cancel(
        sub.id,
        params={"invoice_now": True, "cancellation_details": {"comment": "closing the shop"}},
    )
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None
    assert before <= canceled.canceled_at <= stripe_fake.now()
    assert canceled.cancellation_details is not None
    assert canceled.cancellation_details.comment == "closing the shop"
    final = stripe_client.v1.invoices.list(params={"subscription": sub.id}).data[0]
    assert (final.status, final.amount_paid) == ("paid", 100)  # 40 billable at 2.5 cents

    assert stripe_client.v1.subscriptions.list().data == []
    everything = stripe_client.v1.subscriptions.list(params={"status": "all"}).data
    assert [s.id for s in everything] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError, match="canceled subscription can only update"):
        stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    stripe_client.v1.subscriptions.update(sub.id, params={"metadata": {"why": "closed"}})
    with pytest.raises(stripe.InvalidRequestError, match="already been canceled"):
        stripe_client.v1.subscriptions.cancel(sub.id)
    _, other = checkout(stripe_client, catalog, trial_days=None)
    with pytest.raises(stripe.InvalidRequestError, match="prorate=true"):
        stripe_client.v1.subscriptions.cancel(other.id, params={"prorate": True})


def test_a_subscription_made_through_the_api_starts_incomplete_when_its_card_fails(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "owner@alice.example"})
    stripe_fake.set_card(customer.id, "declines")
    items: list[stripe.params.SubscriptionCreateParamsItem] = [{"price": catalog.seat.id}]

    with pytest.raises(stripe.CardError) as refused:
        stripe_client.v1.subscriptions.create(
            params={
                "customer": customer.id,
                "items": items,
                "payment_behavior": "error_if_incomplete",
            }
        )
    assert refused.value.code == "card_declined"
    assert stripe_client.v1.subscriptions.list(params={"status": "all"}).data == []

    tried = stripe_client.v1.subscriptions.create(params={"customer": customer.id, "items": items})
    assert tried.status == "incomplete"
    untried = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": items, "payment_behavior": "default_incomplete"}
    )
    waiting = stripe_client.v1.invoices.retrieve(str(untried.latest_invoice))
    assert (waiting.status, waiting.attempt_count, waiting.amount_due) == ("open", 0, 4900)

    stripe_fake.set_card(customer.id, "succeeds")
    stripe_client.v1.invoices.pay(waiting.id)
    assert stripe_client.v1.subscriptions.retrieve(untried.id).status == "active"
    dropped = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": items, "payment_behavior": "default_incomplete"}
    )
    stripe_client.v1.invoices.void_invoice(str(dropped.latest_invoice))
    assert stripe_client.v1.subscriptions.retrieve(dropped.id).status == "incomplete"
    stripe_fake.advance(23 * HOUR)
    assert stripe_client.v1.subscriptions.retrieve(tried.id).status == "incomplete_expired"
    ended = stripe_client.v1.subscriptions.list(params={"status": "ended"}).data
    assert {s.id for s in ended} == {tried.id, dropped.id}
    assert tried.id in {s.id for s in stripe_client.v1.subscriptions.list().data}
    voided = stripe_client.v1.invoices.retrieve(str(tried.latest_invoice))
    assert voided.status == "void"


def test_forgiving_or_voiding_the_latest_invoice_ends_past_due(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, card="declines", trial_days=1)
    stripe_fake.advance(DAY + HOUR)
    owed = str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    forgiven = stripe_client.v1.invoices.mark_uncollectible(owed)
    assert forgiven.status == "uncollectible"
    assert forgiven.status_details is not None
    assert "invoice.marked_uncollectible" in types(stripe_fake, "invoice.")
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"

    stripe_fake.set_card(str(sub.customer), "succeeds")
    assert stripe_client.v1.invoices.pay(owed).status == "paid"  # still payable
    with pytest.raises(stripe.InvalidRequestError, match="already paid"):
        stripe_client.v1.invoices.pay(owed)
    with pytest.raises(stripe.InvalidRequestError, match="only mark open or uncollectible"):
        stripe_client.v1.invoices.void_invoice(owed)


def test_paused_collection_voids_the_invoices_until_it_resumes(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    end = sub["items"].data[0].current_period_end
    resumes = end + 10 * DAY
    stripe_client.v1.subscriptions.update(
        sub.id, params={"pause_collection": {"behavior": "void", "resumes_at": resumes}}
    )
    stripe_fake.advance(end - stripe_fake.now() + HOUR)
    voided = stripe_client.v1.invoices.list(params={"subscription": sub.id, "status": "void"}).data
    assert len(voided) == 1
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    stripe_fake.advance(10 * DAY)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).pause_collection is None
    stripe_client.v1.subscriptions.update(
        sub.id, params={"pause_collection": {"behavior": "keep_as_draft"}}
    )
    stripe_client.v1.subscriptions.update(sub.id, params={"pause_collection": ""})
    assert stripe_client.v1.subscriptions.retrieve(sub.id).pause_collection is None


def test_a_trial_can_be_ended_now_or_extended(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog)
    assert sub.trial_end is not None
    longer = stripe_client.v1.subscriptions.update(
        sub.id, params={"trial_end": sub.trial_end + DAY}
    )
    assert longer["items"].data[0].current_period_end == sub.trial_end + DAY

    before = stripe_fake.now()
    ended = stripe_client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})
    assert ended.status == "active"
    assert before <= ended["items"].data[0].current_period_start <= stripe_fake.now()
    with pytest.raises(stripe.InvalidRequestError, match="Only a trialing subscription"):
        stripe_client.v1.subscriptions.update(sub.id, params={"trial_end": "now"})


def test_items_are_listed_and_changes_stripe_refuses_are_refused(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog)
    seats, usage = stripe_client.v1.subscription_items.list(params={"subscription": sub.id}).data
    with pytest.raises(stripe.InvalidRequestError, match="Quantity should not be specified"):
        stripe_client.v1.subscription_items.update(usage.id, params={"quantity": 3})
    with pytest.raises(stripe.InvalidRequestError, match="changes existing items only"):
        stripe_client.v1.subscriptions.update(
            sub.id, params={"items": [{"price": catalog.seat.id, "quantity": 1}]}
        )
    with pytest.raises(stripe.InvalidRequestError, match="same interval"):
        stripe_client.v1.subscription_items.update(seats.id, params={"price": catalog.usage.id})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.subscription_items.retrieve("si_nothing")
    assert missing.value.http_status == 404


def test_a_plan_switch_is_previewed_then_prorated(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    seats = sub["items"].data[0]
    bigger = stripe_client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "usd",
            "unit_amount": 9900,
            "recurring": {"interval": "month"},
        }
    )
    stripe_fake.advance(15 * DAY)
    change: list[stripe.params.InvoiceCreatePreviewParamsSubscriptionDetailsItem] = [
        {"id": seats.id, "price": bigger.id}
    ]
    what_if = stripe_client.v1.invoices.create_preview(
        params={"subscription": sub.id, "subscription_details": {"items": change}}
    )
    credit, charge = what_if.lines.data[:2]
    assert credit.amount < 0 < charge.amount
    (next_seats,) = [line for line in what_if.lines.data[2:] if line.quantity == 2]
    assert (next_seats.amount, next_seats.period.start) == (19800, seats.current_period_end)
    unchanged = stripe_client.v1.subscription_items.retrieve(seats.id)
    assert unchanged.price.id == catalog.seat.id  # a preview changes nothing

    stripe_client.v1.subscription_items.update(seats.id, params={"price": bigger.id})
    assert stripe_client.v1.subscription_items.retrieve(seats.id).price.id == bigger.id
    after = stripe_client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert [line.amount for line in after.lines.data[:2]] == [credit.amount, charge.amount]
    by_price = stripe_client.v1.subscriptions.list(params={"price": bigger.id}).data
    assert [s.id for s in by_price] == [sub.id]


def test_subscriptions_are_listed_by_customer_and_status(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, trialing = checkout(stripe_client, catalog)
    _, active = checkout(stripe_client, catalog, trial_days=None)
    listed = stripe_client.v1.subscriptions.list(params={"status": "trialing"}).data
    assert [s.id for s in listed] == [trialing.id]
    mine = stripe_client.v1.subscriptions.list(params={"customer": str(active.customer)}).data
    assert [s.id for s in mine] == [active.id]
    preview = stripe_client.v1.invoices.create_preview(params={"subscription": trialing.id})
    assert (preview.amount_due, preview.period_end) == (9800, trialing.trial_end)
    with pytest.raises(stripe.InvalidRequestError, match="Invalid status"):
        stripe_client.v1.subscriptions.list(params=cast(SubscriptionListParams, {"status": "x"}))


def test_resuming_with_the_anchor_unchanged_keeps_the_cycle_and_bills_nothing_now(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    sub = _no_card_trial(stripe_client, catalog, "pause")
    stripe_fake.advance(20 * DAY)
    resumed = stripe_client.v1.subscriptions.resume(
        sub.id, params={"billing_cycle_anchor": {"type": "unchanged"}}
    )
    assert sub.trial_end is not None
    assert resumed.status == "active"
    assert resumed["items"].data[0].current_period_start == sub.trial_end
    assert len(stripe_client.v1.invoices.list(params={"subscription": sub.id}).data) == 1


def test_a_kept_draft_is_finalized_by_hand_and_paid_out_of_band(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    stripe_client.v1.subscriptions.update(
        sub.id, params={"pause_collection": {"behavior": "keep_as_draft"}}
    )
    stripe_fake.advance(sub["items"].data[0].current_period_end - stripe_fake.now() + 2 * HOUR)
    kept = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (kept.status, kept.auto_advance, kept.hosted_invoice_url) == ("draft", False, None)
    opened = stripe_client.v1.invoices.finalize_invoice(kept.id)
    assert (opened.status, opened.attempt_count) == ("open", 0)
    assert opened.hosted_invoice_url is not None
    listed = stripe_client.v1.invoices.list(
        params={"customer": str(sub.customer), "status": "open"}
    ).data
    assert [i.id for i in listed] == [kept.id]
    settled = stripe_client.v1.invoices.pay(kept.id, params={"paid_out_of_band": True})
    assert (settled.status, settled.amount_paid, settled.attempt_count) == ("paid", 9800, 0)


def test_collection_paused_as_uncollectible_forgives_each_invoice(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog, trial_days=None)
    stripe_client.v1.subscriptions.update(
        sub.id, params={"pause_collection": {"behavior": "mark_uncollectible"}}
    )
    stripe_fake.advance(sub["items"].data[0].current_period_end - stripe_fake.now() + 2 * HOUR)
    forgiven = stripe_client.v1.invoices.list(params={"status": "uncollectible"}).data
    assert len(forgiven) == 1
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_a_usage_only_plan_with_no_usage_owes_nothing_and_needs_no_card(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "owner@alice.example"})
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"price": catalog.usage.id}]}
    )
    assert sub.status == "active"  # the first invoice is zero, so it is paid at once
    stripe_fake.advance(sub["items"].data[0].current_period_end - stripe_fake.now() + 2 * HOUR)
    renewal = stripe_client.v1.invoices.retrieve(
        str(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    )
    assert (renewal.status, renewal.amount_due, renewal.attempt_count) == ("paid", 0, 0)
