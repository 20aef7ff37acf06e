"""The language chooser of every page's header: signed out, a cookie remembers the choice;
signed in, the account does too, so it follows the person to any browser and into emails."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import services
from ..forms import LanguageForm
from ..models import User


def _back_to(request: HttpRequest, wanted: str) -> str:
    """The page the chooser was on, when it is one of this host's."""
    for candidate in (wanted, request.headers.get("Referer", "")):
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return "/"


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("That language is not offered. Choose one from the list."))
        return HttpResponseRedirect(_back_to(request, request.POST.get("next", "")))
    language: str = form.cleaned_data["language"]
    # Only ever the person signed in on this host: a session belongs to one shop's schema, so
    # nobody of another shop can reach this account through here.
    if isinstance(request.user, User) and request.user.is_authenticated:
        services.account_language_set(user=request.user, language=language)
    response = HttpResponseRedirect(_back_to(request, form.cleaned_data["next"]))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    with translation.override(language):
        messages.success(request, _("The portal is now in English."))
    return response
