"""Languages of people who are not the one making the request: whoever an email goes to."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from django.utils import translation


class Recipient(Protocol):
    #: "" when they never chose one (accounts.User.language).
    language: str


def recipient_language(recipient: Recipient | None) -> str:
    """The recipient's own language; else the one active now: the request's (a teammate's
    invitation goes out in the owner's) or, in a task, the site's default."""
    own = getattr(recipient, "language", "") or ""
    return own if own and translation.check_for_language(own) else translation.get_language()


@contextmanager
def in_language_of(recipient: Recipient | None) -> Iterator[str]:
    """Renders what the block sends (subject, body, dates, numbers) in ``recipient``'s language."""
    language = recipient_language(recipient)
    with translation.override(language):
        yield language
