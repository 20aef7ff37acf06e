"""The operator's view of billing (Django admin on the public host): accounts by state,
failed payments, month-end results, and the monthly recurring revenue."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .models import (
    BillingAccount,
    InvoiceRecord,
    PeriodClose,
    StripeEvent,
    SubscriptionStatus,
    TrialSignup,
    UsageReport,
)
from .selectors import mrr_cents


class ReadOnly(admin.ModelAdmin[Any]):
    """Billing rows mirror Stripe or record what was sent to it: an operator reads them and acts
    in Stripe's dashboard, never edits them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnly):
    list_display = ["tenant", "status", "seats_billed", "current_period_end", "trial_end"]
    list_filter = ["status", "tenant__access"]
    search_fields = ["tenant__name", "tenant__slug", "stripe_customer_id"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = {
            status.label: BillingAccount.objects.filter(status=status).count()
            for status in SubscriptionStatus
        }
        extra = {"mrr": mrr_cents() / 100, "by_status": counts, **(extra_context or {})}
        return super().changelist_view(request, extra)


@admin.register(InvoiceRecord)
class InvoiceRecordAdmin(ReadOnly):
    list_display = ["number", "account", "status", "amount_due", "attempt_count", "created"]
    list_filter = ["status"]
    search_fields = ["number", "stripe_invoice_id", "account__tenant__slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceRecord]:
        return super().get_queryset(request).select_related("account__tenant")


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnly):
    list_display = ["account", "period_start", "state", "ours", "stripes", "attempts", "closed_at"]
    list_filter = ["state"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnly):
    list_display = ["event_id", "type", "received_at", "processed_at", "attempts"]
    list_filter = ["type"]
    search_fields = ["event_id"]


@admin.register(UsageReport)
class UsageReportAdmin(ReadOnly):
    list_display = ["identifier", "signups", "hour", "sent_at"]
    search_fields = ["identifier"]


@admin.register(TrialSignup)
class TrialSignupAdmin(ReadOnly):
    # ``requested_slug``: the address asked for, when it was taken while the retailer was at
    # Checkout and the shop got a variant of it.
    list_display = ["slug", "requested_slug", "shop_name", "owner_email", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["slug", "requested_slug", "owner_email"]
    exclude = ["owner_password_hash", "nonce"]
