"""bench/portal.py's figures about the dashboard's daily counts (signup.SignupDay): that the
triggers keeping them agree with the sign-ups, and what they add to a kiosk sign-up."""

import statistics
import time
from typing import Any


def days_check(tenant: Any) -> None:
    """The daily counts the triggers kept equal the sign-ups and opt-ins themselves."""
    from django.db.models import Count, Q, Sum
    from django_tenants.utils import tenant_context

    from signup.models import Consent, SignupDay, Submission

    with tenant_context(tenant):
        kept = SignupDay.objects.aggregate(
            signups=Sum("signups"), email=Sum("email_opt_ins"), sms=Sum("sms_opt_ins")
        )
        granted = Consent.objects.aggregate(
            email=Count("pk", filter=Q(granted=True, channel="email")),
            sms=Count("pk", filter=Q(granted=True, channel="sms")),
        )
        actual = {"signups": Submission.objects.count(), **granted}
    assert kept == actual, (kept, actual)


#: The triggers that keep the daily counts on a sign-up's path (migration 0008 of signup).
SIGNUP_TRIGGERS = [
    ("signup_submission", "signup_day_submission_added"),
    ("signup_consent", "signup_day_consent_added"),
]


def measure_trigger_cost(tenant: Any, rounds: int = 5, per_round: int = 200) -> dict[str, float]:
    """Milliseconds per kiosk sign-up (signup.services.submission_create, the kiosk's path)
    with the daily-count triggers and without them, alternating rounds so load from elsewhere
    on the machine falls on both; the medians and their difference."""
    import uuid

    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from signup import services
    from signup.models import Device, Form

    timings: dict[bool, list[float]] = {True: [], False: []}
    with tenant_context(tenant):
        device = Device.objects.select_related("location").order_by("pk").first()
        version = Form.objects.get(is_default=True).current_version_id
        assert device is not None
        assert version is not None

        def sign_ups() -> float:
            started = time.perf_counter()
            for _ in range(per_round):
                services.submission_create(
                    device=device,
                    submission_id=uuid.uuid4(),
                    form_version_id=version,
                    locale="en",
                    captured_at=timezone.now(),
                    answers={"email": f"t{uuid.uuid4().hex[:12]}@example.org"},
                    consents={"email": True},
                )
            return (time.perf_counter() - started) * 1000 / per_round

        def triggers(enabled: bool) -> None:
            with connection.cursor() as cursor:
                for table, trigger in SIGNUP_TRIGGERS:
                    verb = "ENABLE" if enabled else "DISABLE"
                    cursor.execute(f"ALTER TABLE {table} {verb} TRIGGER {trigger}")

        try:
            sign_ups()  # warm: prepared statements, caches
            for _ in range(rounds):
                for enabled in (True, False):
                    triggers(enabled)
                    timings[enabled].append(sign_ups())
            triggers(True)
            server_us = trigger_server_time(sign_ups, per_round)
        finally:
            triggers(True)
            with connection.cursor() as cursor:  # the sign-ups made without them
                cursor.execute("SELECT signup_day_recount(id) FROM signup_location")
    with_ms, without_ms = statistics.median(timings[True]), statistics.median(timings[False])
    return {
        "with": with_ms,
        "without": without_ms,
        "added_us": (with_ms - without_ms) * 1000,
        "server_us": server_us,
    }


def trigger_server_time(sign_ups: Any, count: int) -> float:
    """Microseconds PostgreSQL spends in the daily-count triggers per sign-up, by its own
    function statistics: unlike a difference of two timings, free of the machine's load."""
    from django.db import connection

    query = (
        "SELECT coalesce(sum(total_time), 0) FROM pg_stat_user_functions "
        "WHERE funcname IN ('signup_day_submission_added', 'signup_day_consent_changed')"
    )

    def spent() -> float:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT 1")  # the statement after which this session's counts flush
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(query)
            row = cursor.fetchone()
        return float(row[0]) if row else 0.0

    with connection.cursor() as cursor:
        cursor.execute("SET track_functions = 'pl'")
    try:
        before = spent()
        sign_ups()
        after = spent()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET track_functions")
    return (after - before) * 1000 / count  # total_time is in milliseconds
