"""Invoices as Stripe has them now, kept for the billing page and the operator."""

from django.utils import timezone

from ..models import BillingAccount, InvoiceRecord
from .client import stripe_client, stripe_time


def invoice_sync(*, invoice_id: str) -> InvoiceRecord | None:
    """Fetches the invoice and records it; None for a customer that is not one of ours."""
    started = timezone.now()
    invoice = stripe_client().v1.invoices.retrieve(invoice_id)
    customer = (
        invoice.customer
        if isinstance(invoice.customer, str)
        else getattr(invoice.customer, "id", "")
    )
    account = BillingAccount.objects.filter(stripe_customer_id=customer).first()
    if account is None or invoice.id is None:
        return None
    record = InvoiceRecord.objects.filter(stripe_invoice_id=invoice.id).first()
    if record is not None and record.synced_at >= started:
        return record  # a later fetch was written already
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
    if invoice.status == "open" and invoice.hosted_invoice_url:
        BillingAccount.objects.filter(pk=account.pk).update(
            latest_invoice_url=invoice.hosted_invoice_url
        )
    return record
