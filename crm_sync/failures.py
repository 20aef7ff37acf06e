"""The one boundary between the outbox and code that runs on a retailer's behalf.

Building each contact from its sign-up, making the provider (which decrypts the credentials) and
the provider's own code, ours or a vendor library's, all run through ``contacts_send`` (a
delivery) or ``probe`` (the portal's "test connection"). An exception that escaped them used to
roll the whole round back: the rows stayed pending with no attempt recorded, their lease ran
out, the relay handed them out again, and the same exception came back, for ever. Here every
exception becomes a ``Result`` with its reason instead, so the row is recorded like any other
failed attempt and follows the schedule until it is delivered or dead; and "test connection"
shows the reason instead of answering 500.

Results are also made safe to store here: a CRM's answer can hold a NUL byte, which PostgreSQL
refuses in text, and a refused UPDATE would loop exactly like an escaped exception.
"""

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

import httpx
from django.db import DatabaseError

from .crypto import CredentialsError
from .http import BlockedAddressError, UnusableSettingsError
from .providers import Contact, Provider, ProviderUnavailableError, Result, Verdict
from .schedule import RETRY_AFTER_CAP_SECONDS

logger = logging.getLogger(__name__)

#: What the delivery log keeps of a reason.
MAX_REASON_LENGTH = 2000
T = TypeVar("T")


def reason_text(text: str) -> str:
    """Text PostgreSQL accepts and a page can show: no NUL, no lone surrogate, bounded."""
    clean = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return clean[:MAX_REASON_LENGTH]


def result_safe(result: Result) -> Result:
    """The result with only what can be stored: an HTTP status, a finite wait, clean text."""
    status_code = result.status_code
    if status_code is not None and not 100 <= status_code <= 999:
        status_code = None
    wait = result.retry_after
    if wait is not None:
        wait = None if math.isnan(wait) else min(max(wait, 0.0), float(RETRY_AFTER_CAP_SECONDS))
    # replace, not a new Result: whatever else the provider said (``whole_batch``) must reach
    # the sender.
    return replace(
        result, status_code=status_code, message=reason_text(result.message), retry_after=wait
    )


def _destination_fault(error: Exception) -> str | None:
    """Why retrying cannot help, when the destination's settings are at fault; else None."""
    if isinstance(error, BlockedAddressError | UnusableSettingsError):
        return str(error)
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return (
            f"The destination's URL cannot be used ({error}). Correct it in the destination's "
            "settings."
        )
    if isinstance(error, CredentialsError):
        return f"{error} Type the credentials again in the destination's settings."
    return None


def exception_result(error: Exception, *, doing: str) -> Result:
    """How an exception raised while ``doing`` something counts.

    Retried on the schedule, unless retrying plainly cannot help: a URL that cannot be parsed,
    an address we never send to, credentials no key can decrypt. Those are the destination's
    fault, not the sign-up's, so they are BROKEN rather than permanent (dead): the destination
    is paused with the reason and its owners are told, its deliveries are held (kept, no
    attempt spent), and Resume sends them all once the settings are fixed. A retailer who
    corrects a typo in a URL gets every sign-up through without replaying anything.
    """
    fault = _destination_fault(error)
    if fault is not None:
        return Result(Verdict.BROKEN, message=fault)
    if isinstance(error, ProviderUnavailableError):
        # A rollback to a release without this CRM: retried, in case the code comes back.
        return Result(Verdict.RETRY, message=str(error))
    if isinstance(error, httpx.TimeoutException):
        return Result(Verdict.RETRY, message="The CRM did not answer in time.")
    if isinstance(error, httpx.TransportError):
        return Result(Verdict.RETRY, message=f"Could not reach the CRM: {error}")
    # Our bug or the vendor library's: the schedule gives a fix three days to ship, and the row
    # ends dead (kept, replayable) rather than looping if none does.
    logger.error("unexpected error while %s", doing, exc_info=error)
    return Result(
        Verdict.RETRY, message=f"Unexpected error while {doing}: {type(error).__name__}: {error}"
    )


def _run(call: Callable[[], T], *, doing: str) -> T | Result:
    """``call()``, or the Result its exception counts as."""
    try:
        return call()
    except DatabaseError:
        # Our own database failing: nothing can be recorded in an aborted transaction. The round
        # rolls back and the lease brings its rows back, as for a killed worker.
        raise
    except Exception as error:
        return exception_result(error, doing=doing)


def contacts_send(
    *,
    keys: Sequence[int],
    contact: Callable[[int], Contact],
    provider: Callable[[], Provider],
) -> dict[int, Result]:
    """Sends the deliveries ``keys``, each built by ``contact(key)``; a result for every key.

    A sign-up whose contact cannot be built fails alone: the rest of its batch still goes.
    """
    sender = _run(provider, doing="preparing the CRM connection")
    if isinstance(sender, Result):
        return {key: result_safe(sender) for key in keys}
    results: dict[int, Result] = {}
    contacts: list[Contact] = []
    for key in keys:
        built = _run(partial(contact, key), doing="preparing this sign-up for the CRM")
        if isinstance(built, Result):
            results[key] = built
        else:
            contacts.append(built)
    if contacts:
        sent = _run(partial(sender.send, contacts), doing="sending to the CRM")
        if isinstance(sent, Result):
            results.update({item.key: sent for item in contacts})
        else:
            results.update(sent)
    return {key: result_safe(result) for key, result in results.items()}


def probe(test: Callable[[], Result]) -> Result:
    """The portal's "test connection": whatever happens, a Result to show."""
    return result_safe(_run(test, doing="testing the connection"))
