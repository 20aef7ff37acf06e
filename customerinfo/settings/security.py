"""Hosts, proxies, cookies and HTTPS. Production values pass ``manage.py check --deploy``."""

import ipaddress

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG
from .base import MIDDLEWARE as _BASE_MIDDLEWARE
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

#: Every answer's Content-Security-Policy (django-csp; customerinfo.core.headers adds the hosts a
#: form may lead to). Pages load scripts, styles and fonts from our origin only: templates carry
#: no inline script, no style attribute and no on* handler (tests/customerinfo/test_csp.py holds
#: them to it), so nothing inline needs a nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the sign-in QR code of two-step sign-in. Uploaded logos are served from our
        # origin; https: keeps the logo address of forms made before uploads working, and an
        # operator can narrow it with CSP_IMAGE_SOURCES once those are replaced.
        "img-src": [SELF, "data:", *env.list("CSP_IMAGE_SOURCES", default=["https:"])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "worker-src": [SELF],
        # The form builder's preview is a srcdoc frame of our own.
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# The headers are set outermost but for the request log, so that answers made before routing
# (health probes, the API's JSON errors, the unknown-host page) carry them too.
MIDDLEWARE = [
    *_BASE_MIDDLEWARE[:1],
    "customerinfo.core.headers.ContentSecurityPolicyMiddleware",
    "customerinfo.core.headers.PermissionsPolicyMiddleware",
    *_BASE_MIDDLEWARE[1:],
]

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
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when CUSTOMERINFO_ENV=production")
