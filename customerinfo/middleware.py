"""Browser-only middlewares that stand aside for the kiosk API.

The kiosk API (``/api/kiosk/``) is JSON authenticated by a device token header: it has no
cookies, sessions, signed-in user, flash messages, HTMX or static files. For those requests the
middlewares below would each build objects (a session store, a lazy user, message storage, ...)
that nothing reads, on the busiest path of the product. Each class is the library's own,
unchanged for every other path; on the kiosk API it hands the request straight to the next layer.

CSRF protection is untouched (Django's own middleware, on every path), and a kiosk request can
carry no session to ride on anyway, since the session and auth middlewares do not run for it.
The security headers (SecurityMiddleware), Content-Length (CommonMiddleware) and X-Frame-Options
are still set on kiosk answers.
"""

from typing import Any, TypeVar, cast

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django_htmx import middleware as htmx
from whitenoise import middleware as whitenoise

KIOSK_API_PREFIX = "/api/kiosk/"

Middleware = TypeVar("Middleware", bound=type[Any])


def browser_only(middleware: Middleware) -> Middleware:
    """A subclass of ``middleware`` that does nothing for kiosk API requests."""

    def call(self: Any, request: Any) -> Any:
        if request.path_info.startswith(KIOSK_API_PREFIX):
            # Sync or async alike: the next layer's answer (or coroutine) is passed up as is.
            return self.get_response(request)
        return middleware.__call__(self, request)

    namespace = {"__call__": call, "__module__": __name__}
    return cast(Middleware, type(middleware.__name__, (middleware,), namespace))


WhiteNoiseMiddleware = browser_only(whitenoise.WhiteNoiseMiddleware)
SessionMiddleware = browser_only(sessions.SessionMiddleware)
AuthenticationMiddleware = browser_only(auth.AuthenticationMiddleware)
MessageMiddleware = browser_only(messages.MessageMiddleware)
HtmxMiddleware = browser_only(htmx.HtmxMiddleware)
