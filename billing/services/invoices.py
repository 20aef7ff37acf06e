"""Invoices as Stripe has them now, kept for the billing page and the operator, and the "pay
now" link that follows from them."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from stripe import InvalidRequestError, Invoice

from ..models import BillingAccount, InvoiceRecord
from .client import Pace, stripe_client, stripe_time

#: Statuses whose hosted page takes a payment: the pay link shows the newest such invoice.
PAYABLE = "open"
#: Statuses an invoice may still leave; the re-sync fetches ours in these again.
UNSETTLED = ("draft", "open")


def invoice_sync(*, invoice_id: str) -> InvoiceRecord | None:
    """Fetches the invoice and records it; None for a customer that is not one of ours."""
    started = timezone.now()
    try:
        invoice = stripe_client().v1.invoices.retrieve(invoice_id)
    except InvalidRequestError as error:
        if error.code != "resource_missing":
            raise
        # A draft deleted in Stripe (``invoice.deleted``): there is nothing left to pay.
        _forget(invoice_id)
        return None
    customer = (
        invoice.customer
        if isinstance(invoice.customer, str)
        else getattr(invoice.customer, "id", "")
    )
    account = BillingAccount.objects.filter(stripe_customer_id=customer).first()
    if account is None or invoice.id is None:
        return None
    with transaction.atomic():
        # The account first, as ``account_sync`` does: two writers of one account's invoices
        # queue on its row instead of deadlocking on each other's.
        _account_lock(account.pk)
        record = invoice_record(account=account, invoice=invoice, started=started)
        pay_link_refresh(account=account)
    return record


def _account_lock(account_id: int) -> None:
    BillingAccount.objects.select_for_update().filter(pk=account_id).values_list("pk").get()


def _forget(invoice_id: str) -> None:
    record = InvoiceRecord.objects.filter(stripe_invoice_id=invoice_id).first()
    if record is None:
        return
    with transaction.atomic():
        _account_lock(record.account_id)
        record.delete()
        pay_link_refresh(account=record.account)


def invoice_record(
    *, account: BillingAccount, invoice: Invoice, started: datetime
) -> InvoiceRecord:
    """Writes ``invoice`` as fetched at ``started``, unless a fetch that started later was
    written already (events and syncs arrive in any order)."""
    record = InvoiceRecord.objects.filter(stripe_invoice_id=invoice.id).first()
    if record is not None and record.synced_at >= started:
        return record
    values = {
        "account": account,
        "number": invoice.number or "",
        "status": invoice.status or "",
        "currency": invoice.currency,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "hosted_invoice_url": invoice.hosted_invoice_url or "",
        "period_start": stripe_time(invoice.period_start),
        "period_end": stripe_time(invoice.period_end),
        "attempt_count": invoice.attempt_count,
        "created": stripe_time(invoice.created) or started,
        "synced_at": started,
    }
    record, _ = InvoiceRecord.objects.update_or_create(
        stripe_invoice_id=invoice.id, defaults=values
    )
    return record


def pay_link_refresh(*, account: BillingAccount) -> str:
    """Points the account's pay link at its newest open invoice, or clears it when none is open
    (paid, voided, forgiven); returns the link. Called inside the transaction that wrote the
    invoice, with the account row locked: a sync in parallel waits and then reads what this one
    wrote, so neither can leave the link of an invoice the other just settled."""
    _account_lock(account.pk)
    link = (
        InvoiceRecord.objects.filter(account_id=account.pk, status=PAYABLE)
        .exclude(hosted_invoice_url="")
        .order_by("-created")
        .values_list("hosted_invoice_url", flat=True)
        .first()
    ) or ""
    BillingAccount.objects.filter(pk=account.pk).exclude(latest_invoice_url=link).update(
        latest_invoice_url=link
    )
    account.latest_invoice_url = link
    return link


def invoices_unsettled_sync(*, account: BillingAccount, pace: Pace) -> int:
    """Fetches again every invoice we still hold as draft or open: a missed ``invoice.paid``
    would otherwise keep a pay link for an invoice that is settled. Returns how many were
    fetched; Stripe's errors are the caller's (a rate limit stops its run)."""
    unsettled = list(
        InvoiceRecord.objects.filter(account=account, status__in=UNSETTLED).values_list(
            "stripe_invoice_id", flat=True
        )
    )
    for invoice_id in unsettled:
        pace.wait()
        invoice_sync(invoice_id=invoice_id)
    return len(unsettled)
