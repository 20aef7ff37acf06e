"""Reads of billing, including the counts it takes from every retailer's schema at once."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from signup.models import Device, Submission

from .models import (
    TABLETS,
    BillingAccount,
    CatalogPrice,
    InvoiceRecord,
    PeriodClose,
    SubscriptionStatus,
    TrialSignup,
    UsageReport,
)

#: Schemas per counting statement: one statement of UNION ALLs instead of a query (and a
#: search_path switch) per retailer; a thousand shops cost two round trips, not a thousand.
SCHEMAS_PER_QUERY = 500


def _union(parts: Sequence[str]) -> str:
    return "\nUNION ALL\n".join(parts)


def signups_by_hour(
    *, schemas: Sequence[str], start: datetime, end: datetime
) -> dict[str, dict[datetime, int]]:
    """Sign-ups received in [start, end), per schema and hour (hours with none are absent)."""
    table = connection.ops.quote_name(Submission._meta.db_table)
    counts: dict[str, dict[datetime, int]] = defaultdict(dict)
    for offset in range(0, len(schemas), SCHEMAS_PER_QUERY):
        batch = schemas[offset : offset + SCHEMAS_PER_QUERY]
        sql = _union(
            [
                f"SELECT %s, date_trunc('hour', received_at), count(*) "  # noqa: S608
                f"FROM {connection.ops.quote_name(schema)}.{table} "
                "WHERE received_at >= %s AND received_at < %s GROUP BY 2"
                for schema in batch
            ]
        )
        parameters: list[str | datetime] = []
        for schema in batch:
            parameters += [schema, start, end]
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            for schema, hour, count in cursor.fetchall():
                counts[schema][hour] = count
    return counts


def tablets_by_schema(*, schemas: Sequence[str]) -> dict[str, int]:
    """Tablets paired and not revoked, per schema: the seats each retailer should be billed."""
    table = connection.ops.quote_name(Device._meta.db_table)
    counts: dict[str, int] = {}
    for offset in range(0, len(schemas), SCHEMAS_PER_QUERY):
        batch = schemas[offset : offset + SCHEMAS_PER_QUERY]
        sql = _union(
            [
                f"SELECT %s, count(*) FROM {connection.ops.quote_name(schema)}.{table} "  # noqa: S608
                "WHERE revoked_at IS NULL"
                for schema in batch
            ]
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, list(batch))
            counts.update(dict(cursor.fetchall()))
    return counts


def ledger_totals(*, close_ids: Sequence[int]) -> dict[int, int]:
    """Sign-ups our ledger holds for each close's period, by close id: the hours that end in
    the period (``services.usage.period_hours``: from the hour in which it starts, up to the
    hour in which it ends). One statement for a whole month-end, not one per retailer."""
    closes = connection.ops.quote_name(PeriodClose._meta.db_table)
    usage = connection.ops.quote_name(UsageReport._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT close.id, coalesce(sum(usage.signups), 0) FROM {closes} AS close "  # noqa: S608
            f"LEFT JOIN {usage} AS usage ON usage.account_id = close.account_id "
            "AND usage.hour >= date_trunc('hour', close.period_start AT TIME ZONE 'UTC') "
            "AT TIME ZONE 'UTC' "
            "AND usage.hour < date_trunc('hour', close.period_end AT TIME ZONE 'UTC') "
            "AT TIME ZONE 'UTC' "
            "WHERE close.id = ANY(%s) GROUP BY close.id",
            [list(close_ids)],
        )
        return {close_id: int(total) for close_id, total in cursor.fetchall()}


def usage_unsent(*, limit: int) -> QuerySet[UsageReport]:
    """The hours recorded and not sent to Stripe yet, oldest first: what the hourly job sends.
    Its filter and order are those of the partial index ``billing_usage_unsent_idx``, so it
    reads the handful of unsent rows, never the ledger of every hour ever sent."""
    return (
        UsageReport.objects.filter(sent_at__isnull=True)
        .select_related("account")
        .order_by("hour", "pk")[:limit]
    )


def billed_accounts() -> list[BillingAccount]:
    """Accounts with a subscription, whose tenants' schemas exist."""
    return list(
        BillingAccount.objects.exclude(status=SubscriptionStatus.NONE)
        .filter(tenant__ready=True)
        .select_related("tenant")
        .order_by("pk")
    )


def catalog() -> dict[str, CatalogPrice]:
    return {price.lookup_key: price for price in CatalogPrice.objects.all()}


def account_of_tenant(*, tenant_id: int) -> BillingAccount | None:
    return BillingAccount.objects.filter(tenant_id=tenant_id).first()


def invoices_of(*, account: BillingAccount, limit: int = 24) -> list[InvoiceRecord]:
    return list(account.invoices.order_by("-created")[:limit])


def closes_of(*, account: BillingAccount) -> list[PeriodClose]:
    return list(account.closes.order_by("-period_start"))


def address_requested(*, tenant_id: int) -> str:
    """The address a self-serve shop asked for, when it was made under another (taken while its
    owner was at Checkout); empty otherwise."""
    requested = (
        TrialSignup.objects.filter(tenant_id=tenant_id)
        .values_list("requested_slug", flat=True)
        .first()
    )
    return requested or ""


def shop_exists(*, slug: str) -> bool:
    from tenants.models import Tenant

    return Tenant.objects.filter(slug=slug, ready=True).exists()


def billing_summary(*, account: BillingAccount, now: datetime) -> dict[str, object]:
    """What the owners' billing page shows besides the account itself (read in the tenant's
    schema: the sign-ups are counted there)."""
    start = account.current_period_start
    signups = (
        Submission.objects.filter(received_at__gte=start, received_at__lt=now).count()
        if start
        else 0
    )
    # The allowance of the price this subscription is on, as Stripe said at the last sync: a
    # retailer on an older price keeps its own, whatever the catalog sells today.
    included = account.included_signups
    return {
        "signups_this_period": signups,
        "included_signups": included,
        "over_allowance": bool(included is not None and signups > included),
        "invoices": invoices_of(account=account),
    }


def mrr_cents() -> int:
    """Monthly recurring revenue from tablets, in cents: seats of paying (or overdue) accounts
    times the tablet price. Usage above the allowance varies month to month and is left out."""
    from django.db.models import Sum

    price = CatalogPrice.objects.filter(lookup_key=TABLETS).first()
    if price is None or price.unit_amount is None:
        return 0
    seats = BillingAccount.objects.filter(
        status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]
    ).aggregate(total=Sum("seats_billed"))["total"]
    return int(seats or 0) * price.unit_amount
