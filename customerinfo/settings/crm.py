"""CRM delivery: credential keys, address checks, relay timings, and outgoing mail for alerts."""

import base64
import hashlib

from .base import SECRET_KEY
from .environment import IS_PRODUCTION, SECRETS_REQUIRED, env

#: Fernet keys for destination credentials, newest first. Add a new key in front, deploy, run
#: ``manage.py crm_keys_rotate``, then drop the old key. Development derives one from
#: SECRET_KEY so a fresh clone needs nothing.
CRM_ENCRYPTION_KEYS: list[str] = (
    env.list("CRM_ENCRYPTION_KEYS")
    if SECRETS_REQUIRED
    else env.list(
        "CRM_ENCRYPTION_KEYS",
        default=[base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()],
    )
)

#: Refuse retailer-supplied URLs that resolve to private, loopback or link-local addresses.
#: Off outside production because the demo sink and the test CRMs listen on loopback.
CRM_BLOCK_PRIVATE_ADDRESSES: bool = env.bool("CRM_BLOCK_PRIVATE_ADDRESSES", default=IS_PRODUCTION)

#: How long a delivery handed to a worker is left alone before the relay hands it out again.
CRM_DELIVERY_LEASE_SECONDS: int = env.int("CRM_DELIVERY_LEASE_SECONDS", default=60)

#: Threads a worker process sends one relay task's destinations on, side by side (each with its
#: own database connection); 1 sends them one after the other.
CRM_SEND_THREADS: int = env.int("CRM_SEND_THREADS", default=6)

#: Delivered outbox rows are deleted this many days after delivery (hourly, in batches); a
#: shop's sign-up retention, when shorter, removes its rows with the sign-ups.
OUTBOX_RETENTION_DAYS: int = env.int("OUTBOX_RETENTION_DAYS", default=30)

#: The demo webhook receiver at /sink/<name>/ on the public host (make run's demo shop).
CRM_DEMO_SINK: bool = env.bool("CRM_DEMO_SINK", default=not IS_PRODUCTION)

# Alerts to retailers (a paused destination) go out by mail.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT: int = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS: bool = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL: bool = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="CustomerInfo <alerts@localhost>")
