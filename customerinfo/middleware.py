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

The portal's language (``LocaleMiddleware``) stands aside too: the kiosk translates itself in
the tablet's browser (frontend/static/kiosk), so its API has nothing to translate.
"""

from typing import Any, TypeVar, cast

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponseBase
from django.middleware import locale
from django.utils import translation
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


def saved_language(request: HttpRequest) -> str:
    """The signed-in person's chosen language, or "" (anonymous, or none chosen)."""
    user = getattr(request, "user", None)
    language = getattr(user, "language", "") if user is not None else ""
    return (
        language if isinstance(language, str) and translation.check_for_language(language) else ""
    )


class _UserLocaleMiddleware(locale.LocaleMiddleware):
    """Django's, with the signed-in person's saved language first: it follows them from one
    browser to another. Then the language cookie (the chooser of a signed-out page), then the
    browser's Accept-Language. It sits after AuthenticationMiddleware to know who is signed in.
    """

    # Its __call__ restores the thread's language afterwards, which an await would outlive.
    async_capable = False

    def process_request(self, request: HttpRequest) -> None:
        language = saved_language(request) or translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # Django leaves the language active in the thread after the response. The kiosk API
        # skips this middleware, so it would answer in the last portal visitor's language
        # (DRF's own messages are translated): what was active before is put back instead.
        with translation.override(translation.get_language()):
            # Sync only (async_capable is off), so never the awaitable MiddlewareMixin may return.
            return cast(HttpResponseBase, super().__call__(request))


LocaleMiddleware = browser_only(_UserLocaleMiddleware)
