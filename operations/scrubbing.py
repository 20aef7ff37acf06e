"""Shopper data out of error reports: emails, phone numbers and names, wherever they appear.

Errors leave the database for Sentry or an operator's mailbox, where the retailers' shoppers
never agreed their data would go. Values under a personal key (``email``, ``first_name``...)
are replaced whole; in any other text, anything shaped like an email or a phone number is.
"""

import re
from typing import Any

FILTERED = "[Filtered]"

#: Keys whose values are personal, matched on the lowercased key with ``-`` as ``_``.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "emails",
        "owner_email",
        "phone",
        "phone_number",
        "mobile",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "birthday",
        "birthday_day",
        "birthday_month",
        "postal_code",
        "address",
        "answers",
        "set_aside",
        "password",
        "token",
        "secret",
    }
)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Seven digits or more, optionally with a leading + and the usual separators: phone numbers,
#: not line numbers, ports or short ids.
PHONE = re.compile(r"(?<![\w.])\+?\d(?:[\s().-]*\d){6,14}(?![\w.])")
#: UUIDs and hex digests contain digit runs that are not phone numbers.
_KEEP = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b[0-9a-f]{32,}\b"
)


def scrub_text(text: str) -> str:
    kept: list[str] = []

    def keep(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _KEEP.sub(keep, text)
    text = EMAIL.sub("[email]", text)
    text = PHONE.sub("[phone]", text)
    return re.sub("\x00(\\d+)\x00", lambda match: kept[int(match.group(1))], text)


def is_personal_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in PERSONAL_KEYS


def scrub(value: Any, *, depth: int = 0) -> Any:
    """A copy of ``value`` with personal keys' values filtered and every string scrubbed."""
    if depth > 20:
        return FILTERED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if is_personal_key(key) else scrub(item, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item, depth=depth + 1) for item in value]
    return value
