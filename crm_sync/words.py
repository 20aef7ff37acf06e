"""What the CRM pages call things, in the reader's language.

The states and outcomes belong to other layers (the outbox's delivery statuses, the breaker's
states, a provider's verdict), whose names are for code and logs; the words a retailer reads
are chosen here, once, so every page and message says the same.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, ngettext, pgettext_lazy

from outbox.models import AttemptOutcome, DeliveryStatus

from .limits import BreakerState
from .providers import Verdict

#: What each verdict of "test connection" means to a retailer.
VERDICT_WORDS: dict[str, Promise] = {
    Verdict.DELIVERED: gettext_lazy("The connection works."),
    Verdict.RETRY: gettext_lazy("The CRM could not be reached or was busy. Try again in a moment."),
    Verdict.PERMANENT: gettext_lazy("The CRM answered, but refused the test."),
    Verdict.BROKEN: gettext_lazy("These settings or credentials do not work."),
}

#: The breaker's state in a word (the list's column), and in a sentence (its tooltip, the page).
BREAKER_NAMES: dict[str, Promise] = {
    BreakerState.CLOSED: pgettext_lazy("circuit breaker", "Closed"),
    BreakerState.OPEN: pgettext_lazy("circuit breaker", "Open"),
    BreakerState.HALF_OPEN: pgettext_lazy("circuit breaker", "Half-open"),
}
BREAKER_WORDS: dict[str, Promise] = {
    BreakerState.CLOSED: gettext_lazy("Closed: sending normally."),
    BreakerState.OPEN: gettext_lazy(
        "Open: the CRM failed several times in a row, so nothing is sent for a minute. "
        "Deliveries wait; none is lost."
    ),
    BreakerState.HALF_OPEN: gettext_lazy(
        "Half-open: one request is testing whether the CRM is back."
    ),
}

#: A delivery's status, as the filter and the tables show it.
STATUS_WORDS: dict[str, Promise] = {
    DeliveryStatus.PENDING: pgettext_lazy("delivery", "Pending"),
    DeliveryStatus.DELIVERED: pgettext_lazy("delivery", "Delivered"),
    DeliveryStatus.HELD: gettext_lazy("Held (destination paused)"),
    DeliveryStatus.DEAD: pgettext_lazy("delivery", "Dead"),
}

#: What came of one attempt, in a sign-up's delivery log.
OUTCOME_WORDS: dict[str, Promise] = {
    AttemptOutcome.DELIVERED: pgettext_lazy("attempt", "Delivered"),
    AttemptOutcome.RETRY: gettext_lazy("Will retry"),
    AttemptOutcome.PERMANENT: gettext_lazy("Refused for good"),
    AttemptOutcome.BROKEN: gettext_lazy("Destination broken"),
    AttemptOutcome.SKIPPED: gettext_lazy("Not sent (circuit open)"),
}


def words(table: dict[str, Promise], value: str) -> str:
    """``value``'s words from ``table``; a value the table does not know, as it is."""
    found = table.get(value)
    return str(found) if found is not None else value


def statuses() -> list[tuple[str, str]]:
    """The delivery statuses a page can filter by, in the order the outbox declares them."""
    return [(value, words(STATUS_WORDS, value)) for value in DeliveryStatus.values]


def resumed(count: int, *, name: str) -> str:
    """Said when a paused destination is resumed and its held deliveries go again."""
    return ngettext(
        "“%(name)s” is active again. %(count)d held delivery will be sent again, gradually.",
        "“%(name)s” is active again. %(count)d held deliveries will be sent again, gradually.",
        count,
    ) % {"name": name, "count": count}


def replayed(count: int, *, since: str, until: str) -> str:
    """Said when a replay starts; ``since`` and ``until`` are the range as typed, both empty
    when the replay is not limited in time."""
    if not since and not until:
        return ngettext(
            "%(count)d dead or held delivery will be sent again, gradually.",
            "%(count)d dead or held deliveries will be sent again, gradually.",
            count,
        ) % {"count": count}
    return ngettext(
        "%(count)d dead or held delivery from %(since)s to %(until)s will be sent again, "
        "gradually.",
        "%(count)d dead or held deliveries from %(since)s to %(until)s will be sent again, "
        "gradually.",
        count,
    ) % {"count": count, "since": since or gettext("the start"), "until": until or gettext("now")}
