"""When a failed delivery is tried again.

About three days in all, like the best webhook senders: quick retries for blips, then hours
apart for an outage, then dead (kept and replayable). Each wait moves by up to 20 % either way so
that deliveries failed together do not all come back in the same second.
"""

import math
import random
from datetime import timedelta

#: Wait before attempt n+1 (index n-1 is the wait before the n-th attempt; the first is at once).
SCHEDULE_SECONDS: tuple[int, ...] = (
    0,
    5,
    60,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
MAX_ATTEMPTS = len(SCHEDULE_SECONDS)
JITTER = 0.2
#: A Retry-After longer than this is not believed; the longest step of the schedule is used.
RETRY_AFTER_CAP_SECONDS = max(SCHEDULE_SECONDS)


def retry_delay(*, attempts: int, retry_after: float | None = None) -> timedelta | None:
    """How long to wait after ``attempts`` failed attempts; None when the schedule is spent."""
    if attempts >= MAX_ATTEMPTS:
        return None
    # NaN is no wait at all; the rest is capped, so no answer can overflow a timestamp.
    if retry_after is not None and not math.isnan(retry_after) and retry_after >= 0:
        return timedelta(seconds=min(retry_after, RETRY_AFTER_CAP_SECONDS))
    base = SCHEDULE_SECONDS[attempts]
    # Jitter spreads load, it is not a secret: the standard generator is right here.
    factor = 1 + random.uniform(-JITTER, JITTER)  # noqa: S311
    return timedelta(seconds=base * factor)


#: How long a destination may fail without a single success before the deliveries it holds back
#: end dead: the schedule's whole span, so a sign-up never waits longer for a CRM that is down
#: than it would have spending its attempts.
GIVE_UP_AFTER = timedelta(seconds=sum(SCHEDULE_SECONDS))
