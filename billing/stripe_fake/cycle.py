"""The clock's work: everything that happens because time passed, in the order it falls due.

``run_due(store, until)`` finds the earliest piece of due work, sets ``store.now`` to its time,
does it, and looks again, until nothing is due by ``until``. Each piece changes the state it was
found in (a trial ends, a period rolls, a draft finalizes), so the loop always moves on; a
month's jump therefore plays out as it would have: trial warning, trial end, the draft's hour,
the charge, each retry 3, 5 and 7 days later, then the next period.

Work, and when it is due:
- an open Checkout Session: at ``expires_at`` (``checkout.session.expired``);
- a trialing subscription: 3 days before ``trial_end`` (``trial_will_end``), then at it;
- an incomplete subscription: 23 hours after creation (``incomplete_expired``);
- a ``pause_collection`` with ``resumes_at``: then, when collection resumes;
- a billing subscription (active, past_due, unpaid): at the end of its period;
- a draft invoice with ``auto_advance``: at ``automatically_finalizes_at`` (then charged);
- an open invoice: at ``next_payment_attempt`` (a retry).
"""

from collections.abc import Callable

from .events import emit, observed
from .invoices import close, finalize, invoice_subscription
from .payments import attempt
from .state import Json, Store
from .subscriptions import (
    INCOMPLETE_EXPIRES,
    TRIAL_WARNING,
    end_trial,
    expire_incomplete,
    period,
    renew,
)

Work = tuple[int, int, Callable[[], None]]
MAX_STEPS = 100_000
BILLING = ("active", "past_due", "unpaid")


def _expire_session(store: Store, session: Json) -> None:
    session["status"] = "expired"
    session["url"] = None
    emit(store, "checkout.session.expired", session)


def _warn_trial(store: Store, sub: Json) -> None:
    sub["_warned"] = True
    emit(store, "customer.subscription.trial_will_end", sub)


def _resume_collection(store: Store, sub: Json) -> None:
    with observed(store, sub, "customer.subscription.updated"):
        sub["pause_collection"] = None


def _finalize_and_charge(store: Store, invoice: Json) -> None:
    finalize(store, invoice)
    if invoice["status"] != "open":
        return
    sub = invoice_subscription(store, invoice)
    pause = sub["pause_collection"] if sub else None
    if pause and pause["behavior"] == "void":
        close(store, invoice, "void")
    elif pause and pause["behavior"] == "mark_uncollectible":
        close(store, invoice, "uncollectible")
    else:
        attempt(store, invoice, automatic=True)


def _retry(store: Store, invoice: Json) -> None:
    attempt(store, invoice, automatic=True)


def _subscription_work(store: Store, sub: Json) -> list[Work]:
    work: list[Work] = []
    status = sub["status"]
    if status == "trialing":
        warn_at = max(sub["trial_start"], sub["trial_end"] - TRIAL_WARNING)
        if not sub["_warned"]:
            work.append((warn_at, 0, lambda: _warn_trial(store, sub)))
        work.append((sub["trial_end"], 1, lambda: end_trial(store, sub)))
    elif status == "incomplete":
        work.append((sub["created"] + INCOMPLETE_EXPIRES, 1, lambda: expire_incomplete(store, sub)))
    elif status in BILLING:
        work.append((period(sub)[1], 3, lambda: renew(store, sub)))
    pause = sub["pause_collection"]
    if status in BILLING and pause and pause["resumes_at"] is not None:
        work.append((pause["resumes_at"], 2, lambda: _resume_collection(store, sub)))
    return work


def _invoice_work(store: Store, invoice: Json) -> list[Work]:
    if (
        invoice["status"] == "draft"
        and invoice["auto_advance"]
        and invoice["automatically_finalizes_at"]
    ):
        return [
            (invoice["automatically_finalizes_at"], 4, lambda: _finalize_and_charge(store, invoice))
        ]
    if invoice["status"] == "open" and invoice["next_payment_attempt"] is not None:
        return [(invoice["next_payment_attempt"], 5, lambda: _retry(store, invoice))]
    return []


def _session_work(store: Store, session: Json) -> Work:
    return (session["expires_at"], 0, lambda: _expire_session(store, session))


def _due(store: Store) -> Work | None:
    work: list[Work] = []
    for obj in store.objects.values():
        kind = obj["object"]
        if kind == "checkout.session" and obj["status"] == "open":
            work.append(_session_work(store, obj))
        elif kind == "subscription":
            work += _subscription_work(store, obj)
        elif kind == "invoice":
            work += _invoice_work(store, obj)
    # Earliest first; at the same second, the order of the kinds above (a trial ends before
    # the invoice it makes is finalized); then creation order, as ``min`` keeps the first.
    return min(work, key=lambda w: (w[0], w[1]), default=None)


def run_due(store: Store, until: int) -> int:
    """Does all the work due by ``until``; returns how many pieces it did.

    The events it emits name no request (``request.id`` null), as Stripe's automatic ones do,
    even when a request's arrival is what made the fake catch up.
    """
    steps = 0
    caller = (store.request_id, store.idempotency_key)
    store.request_id = store.idempotency_key = None
    try:
        while (work := _due(store)) is not None and work[0] <= until:
            store.now = max(store.now, work[0])
            work[2]()
            steps += 1
            if steps > MAX_STEPS:
                raise RuntimeError("The Stripe fake's clock work does not settle.")
    finally:
        store.request_id, store.idempotency_key = caller
    store.now = max(store.now, until)
    return steps
