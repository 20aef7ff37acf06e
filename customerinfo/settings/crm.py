"""CRM delivery: credential keys, address checks, relay timings, and outgoing mail for alerts."""

import base64
import hashlib

from .base import SECRET_KEY
from .environment import IS_PRODUCTION, SECRETS_REQUIRED, env

#: Fernet keys for destination credentials, newest first. Add a new key in front, deploy, run
#: ``manage.py crm_rotate_credentials``, then drop the old key. Development derives one from
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

#: The demo webhook receiver at /sink/<name>/ on the public host (make run's demo shop).
CRM_DEMO_SINK: bool = env.bool("CRM_DEMO_SINK", default=not IS_PRODUCTION)

#: Token that Prometheus must send as ``Authorization: Bearer …`` to read /metrics; empty means
#: the endpoint is open (development, or a network policy that already restricts it).
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")

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
