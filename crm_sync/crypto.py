"""Destination credentials, encrypted at rest with keys that can be rotated.

MultiFernet decrypts with any configured key and encrypts with the first, so a new key is
added in front, every row is re-encrypted (``manage.py crm_keys_rotate``), and only then
is the old key removed.
"""

import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsError(Exception):
    """Stored credentials cannot be read with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CRM_ENCRYPTION_KEYS))


def credentials_encrypt(credentials: dict[str, Any]) -> str:
    if not credentials:
        return ""
    return fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def credentials_decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        value: dict[str, Any] = json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as error:
        raise CredentialsError(
            "The stored credentials cannot be decrypted with any configured key."
        ) from error
    return value


def credentials_rotate(token: str) -> str:
    """The same secret encrypted under the newest key."""
    if not token:
        return ""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise CredentialsError(
            "The stored credentials cannot be decrypted with any configured key."
        ) from error
