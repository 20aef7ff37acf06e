"""Hosts, proxies, cookies and HTTPS. Production values pass ``manage.py check --deploy``."""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG
from .environment import IS_PRODUCTION, env
from .tenancy import BASE_DOMAIN

# Every tenant host is a subdomain of BASE_DOMAIN; unknown subdomains reach the tenant router,
# which answers a clear 404 page.
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[BASE_DOMAIN, f".{BASE_DOMAIN}"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

#: Addresses or networks (CIDR) of the proxies in front of the app (the ingress). Only their
#: X-Forwarded-For is believed (customerinfo.core.addresses.client_address); empty trusts none, so a
#: client cannot choose the address it is rate-limited under.
TRUSTED_PROXIES: list[str] = [
    proxy.strip() for proxy in env.list("TRUSTED_PROXIES", default=[]) if proxy.strip()
]
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an address or a network"
        ) from _error

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

if IS_PRODUCTION:
    # TLS ends at the ingress; it tells us the original scheme in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes come over plain HTTP from the kubelet; they must not be redirected.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when CUSTOMERINFO_ENV=production")
