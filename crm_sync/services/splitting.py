"""Splitting a batch the CRM refused whole, so that only the contact at fault ends dead.

A vendor may refuse a whole call with one 4xx that names no contact (Salesforce's one 400 for a
malformed value in any of 200 leads, a HubSpot 400 naming no input). The provider marks those
results ``whole_batch``. Killing every contact of the call would lose up to 200 good sign-ups
for one bad one, so the refused contacts are sent again in halves, in the same task run and
under the same lease: a half the CRM takes is delivered, a half it refuses again is halved
again, and a contact refused on its own is the one at fault, dead with the vendor's reason.

One bad contact among n costs about 2·log2(n) calls (16 for 200). The calls are bounded: past
``MAX_SPLIT_CALLS``, or when the rate limit says wait, the contacts still unresolved go back to
the outbox without spending an attempt; the halves already taken are delivered, so the next
batch is smaller and the search always ends.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..providers import Result, Verdict

#: CRM calls one refused batch may cost; enough to find two bad contacts among 200.
MAX_SPLIT_CALLS = 32


def refused_whole(result: Result | None) -> bool:
    """The CRM refused the call this contact was in, without saying it was this one."""
    return result is not None and result.verdict is Verdict.PERMANENT and result.whole_batch


@dataclass
class Split:
    """Every contact's answer once the refused batch was split, and the contacts it could not
    settle (the call budget or the rate limit ran out), which go back to the outbox."""

    results: dict[int, Result]
    unresolved: list[int] = field(default_factory=list)
    calls: int = 0


def batch_split(
    *,
    results: dict[int, Result],
    send: Callable[[list[int]], dict[int, Result] | None],
    max_calls: int | None = None,
) -> Split:
    """Re-sends the contacts of ``results`` refused as a whole, a half at a time.

    ``send(keys)`` makes one CRM call for those contacts and answers each of them, or answers
    None when it may not call now (the rate limit): then the search stops there.
    """
    budget = MAX_SPLIT_CALLS if max_calls is None else max_calls
    split = Split(results=dict(results))
    halves: deque[list[int]] = deque()

    def refused(keys: list[int]) -> None:
        if len(keys) == 1:
            # Refused on its own: this contact is the one the CRM meant; its reason is final.
            split.results[keys[0]] = replace(split.results[keys[0]], whole_batch=False)
        elif keys:
            middle = len(keys) // 2
            halves.extend((keys[:middle], keys[middle:]))

    refused([key for key, result in results.items() if refused_whole(result)])
    while halves:
        half = halves.popleft()
        answers = send(half) if split.calls < budget else None
        if answers is None:
            split.unresolved = [*half, *(key for rest in halves for key in rest)]
            break
        split.calls += 1
        for key in half:
            if key in answers:
                split.results[key] = answers[key]
            else:
                # No answer for it: the caller's "no result" retry, not the old refusal.
                split.results.pop(key, None)
        refused([key for key in half if refused_whole(answers.get(key))])
    return split
