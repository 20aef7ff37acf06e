"""The retention purge at volume: bounded SQL batches, exactly the old rows, the same audit."""

from datetime import timedelta
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customerinfo.core.models import AuditEntry
from signup import services
from signup.models import Consent, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.signup.factories import Kiosk, rejection_create, submission_create

pytestmark = pytest.mark.django_db


def _age(model: type[Submission] | type[RejectedSubmission], pk: UUID, days: int) -> None:
    model.objects.filter(pk=pk).update(received_at=timezone.now() - timedelta(days=days))


def test_purge_deletes_exactly_the_old_rows_in_several_batches(kiosk: Kiosk) -> None:
    services.retention_update(actor=None, days=30)
    old = [submission_create(kiosk.device, f"old{n}@example.com", sms=True) for n in range(5)]
    kept = [submission_create(kiosk.device, f"new{n}@example.com", sms=True) for n in range(2)]
    for submission in old:
        _age(Submission, submission.pk, 31)
    _age(Submission, kept[0].pk, 29)  # inside the period by a day
    old_rejection = rejection_create(kiosk.device, "old-typo@example")
    _age(RejectedSubmission, old_rejection.pk, 40)
    # A recent refusal released into a sign-up that is now old: it stays, and forgets the
    # sign-up (the SET_NULL the ORM would have applied).
    released = rejection_create(kiosk.device, "released@example")
    RejectedSubmission.objects.filter(pk=released.pk).update(submission=old[0])

    with CaptureQueriesContext(connection) as queries:
        assert services.retention_purge(batch_size=2) == 5

    assert sorted(Submission.objects.values_list("email", flat=True)) == [
        "new0@example.com",
        "new1@example.com",
    ]
    assert set(Consent.objects.values_list("submission_id", flat=True)) == {s.pk for s in kept}
    assert Consent.objects.count() == 4  # email and SMS of each kept sign-up
    (survivor,) = RejectedSubmission.objects.all()
    assert survivor.pk == released.pk
    assert survivor.submission_id is None
    entry = AuditEntry.objects.get(action="submission.purge")
    new = entry.new or {}
    assert new["deleted"] == 5
    assert new["rejected_deleted"] == 1
    assert entry.actor_label == "system:retention"
    # 2 + 2 + 1 sign-ups, then 1 refusal: four statements, and no row ever read into Python.
    assert new["batches"] == 4
    deletes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().startswith(("WITH", "DELETE"))
    ]
    assert len(deletes) == 4
    assert not [q for q in queries.captured_queries if '"email"' in q["sql"]]


def test_nothing_to_purge_writes_no_audit_row(kiosk: Kiosk) -> None:
    submission_create(kiosk.device, "fresh@example.com")
    assert services.retention_purge() == 0
    assert Submission.objects.count() == 1
    assert not AuditEntry.objects.filter(action="submission.purge").exists()


def test_purge_of_a_full_batch_checks_once_more(in_alice: Tenant, kiosk: Kiosk) -> None:
    """Exactly a batch's worth: the purge cannot know it is done until a short batch."""
    services.retention_update(actor=None, days=30)
    for n in range(2):
        _age(Submission, submission_create(kiosk.device, f"o{n}@example.com").pk, 31)
    assert services.retention_purge(batch_size=2) == 2
    entry = AuditEntry.objects.get(action="submission.purge")
    assert (entry.new or {})["batches"] == 3  # 2, then 0 sign-ups; then 0 refusals
