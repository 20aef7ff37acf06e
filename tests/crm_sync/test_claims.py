"""What a claim takes when it is handed ids: exactly the rows a claim may take, read by their
primary key, whichever state each row is in (crm_sync.services.claims)."""

import itertools
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync.services.claims import claim_take, claimable, claimable_q
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

DESTINATION = 7


def _every_state(mine: Tenant, other: Tenant) -> list[Delivery]:
    """One row for every combination of what decides whether a claim may take it."""
    now = timezone.now()
    leases = [None, now - timedelta(seconds=5), now + timedelta(seconds=60)]
    tokens = [None, uuid.uuid4()]
    rows = [
        Delivery(
            tenant=tenant,
            destination_id=destination,
            submission_id=uuid.uuid4(),
            status=status,
            next_attempt_at=now - timedelta(seconds=1),
            lease_expires_at=lease,
            lease_token=token,
            created_at=now,
            updated_at=now,
        )
        for tenant, destination, status, lease, token in itertools.product(
            [mine, other], [DESTINATION, DESTINATION + 1], DeliveryStatus.values, leases, tokens
        )
    ]
    return Delivery.objects.bulk_create(rows)


def test_the_check_in_python_is_the_query(alice_tenant: Tenant, charlie_tenant: Tenant) -> None:
    rows = _every_state(alice_tenant, charlie_tenant)
    now = timezone.now()
    mine, destination = alice_tenant.pk, DESTINATION
    query = claimable_q(tenant_id=mine, destination_id=destination, now=now)
    by_query = set(Delivery.objects.filter(query).values_list("pk", flat=True))
    by_python = {
        row.pk
        for row in rows
        if claimable(row, tenant_id=mine, destination_id=destination, now=now)
    }
    assert by_query == by_python
    # Not vacuous: some rows of every kind are on each side.
    assert 0 < len(by_query) < len(rows)


def test_a_claim_given_ids_takes_only_the_claimable_ones_by_primary_key(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    rows = _every_state(alice_tenant, charlie_tenant)
    now = timezone.now()
    expected = {
        row.pk
        for row in rows
        if claimable(row, tenant_id=alice_tenant.pk, destination_id=DESTINATION, now=now)
    }
    with tenant_context(alice_tenant), CaptureQueriesContext(connection) as queries:
        claim = claim_take(destination_id=DESTINATION, ids=[row.pk for row in rows], top_up_to=0)
    assert {row.pk for row in claim.rows} == expected
    taken = Delivery.objects.filter(pk__in=expected)
    assert {row.lease_token for row in taken} == {claim.token}
    # The rows named are looked up by their key alone: no condition the planner could read
    # through another index instead.
    lookup = next(query["sql"] for query in queries if "FOR UPDATE" in query["sql"])
    where = lookup.split("WHERE", 1)[1]
    assert "tenant_id" not in where
    assert "destination_id" not in where
