"""Sign-in throttling: django-axes, fitted to one deployment serving many shops.

Axes keeps its failure counts in the public schema, shared by every shop, so the keys carry the
shop: an account is ``<schema>:<email>`` (``signin_key``), and an address is counted only over
the failures at that shop (``ShopAxesHandler``). alice@ at one shop never locks out alice@ at
another, and one shop's mistyped passwords never lock another shop out of a shared address.

Two limits (settings/people.py): an account locks after SIGNIN_FAILURES_PER_ACCOUNT failures,
from any address; an address locks after SIGNIN_FAILURES_PER_ADDRESS failures at the shop, on
any account. Both for SIGNIN_COOL_OFF after the last failure; a success clears the account's.
"""

from datetime import datetime
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from customerinfo.core.tenancy import current_schema

#: The form field axes reads the email from (AXES_USERNAME_FORM_FIELD).
USERNAME_FIELD = "username"


def account_key(email: str) -> str:
    """How axes names an account of the current shop."""
    return f"{current_schema()}:{email.strip().lower()}"


def signin_key(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """AXES_USERNAME_CALLABLE: the account a sign-in is for, within this shop."""
    email = (credentials or {}).get(USERNAME_FIELD)
    if email is None:
        email = request.POST.get(USERNAME_FIELD, "")
    return account_key(str(email))


def _shop_prefix() -> str:
    return f"{current_schema()}:"


def _recent(attempts: "QuerySet[AccessAttempt]") -> "QuerySet[AccessAttempt]":
    return attempts.filter(attempt_time__gte=timezone.now() - settings.SIGNIN_COOL_OFF)


def _failures(attempts: "QuerySet[AccessAttempt]") -> int:
    total: int | None = attempts.aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0


class ShopAxesHandler(AxesDatabaseHandler):  # type: ignore[misc]
    """Axes' database handler with the address counted per shop and a limit of its own."""

    def filter_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> list["QuerySet[AccessAttempt]"]:
        account = AccessAttempt.objects.filter(username=get_client_username(request, credentials))
        address = AccessAttempt.objects.filter(
            ip_address=getattr(request, "axes_ip_address", None),
            username__startswith=_shop_prefix(),
        )
        return [account, address]

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        # Axes compares one number with AXES_FAILURE_LIMIT (the account's limit); an address
        # that reached its own, higher limit counts as that limit reached, whatever the email.
        account, address = self.get_user_attempts(request, credentials)
        failures = _failures(account)
        if _failures(address) >= settings.SIGNIN_FAILURES_PER_ADDRESS:
            return max(failures, settings.SIGNIN_FAILURES_PER_ACCOUNT)
        return failures

    def reset_user_attempts(
        self, request: HttpRequest, credentials: dict[str, Any] | None = None
    ) -> int:
        # Axes would also clear the address's failures on other accounts: signing in to one's
        # own account must not wipe the count of someone guessing a colleague's password.
        count, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials)
        ).delete()
        return int(count)


def account_locked_until(email: str) -> datetime | None:
    """When the account's lock ends, if it is locked now."""
    attempts = _recent(AccessAttempt.objects.filter(username=account_key(email)))
    summary = attempts.aggregate(total=Sum("failures_since_start"), last=Max("attempt_time"))
    if (summary["total"] or 0) < settings.SIGNIN_FAILURES_PER_ACCOUNT:
        return None
    last: datetime = summary["last"]
    return last + settings.SIGNIN_COOL_OFF


def locked_emails() -> set[str]:
    """The emails of this shop whose accounts are locked now (the team page shows them)."""
    prefix = _shop_prefix()
    locked = (
        _recent(AccessAttempt.objects.filter(username__startswith=prefix))
        .values("username")
        .annotate(total=Sum("failures_since_start"))
        .filter(total__gte=settings.SIGNIN_FAILURES_PER_ACCOUNT)
        .values_list("username", flat=True)
    )
    return {username.removeprefix(prefix) for username in locked}


def account_unlock(email: str) -> int:
    """Forgets the account's failures (every address); returns how many records went."""
    count, _ = AccessAttempt.objects.filter(username=account_key(email)).delete()
    return int(count)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any]
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page that says what happened and what to do, not a blank 403."""
    email = str((credentials or {}).get(USERNAME_FIELD) or request.POST.get(USERNAME_FIELD, ""))
    account_until = account_locked_until(email)
    by_address = account_until is None
    if account_until is None:
        attempts = _recent(
            AccessAttempt.objects.filter(
                ip_address=getattr(request, "axes_ip_address", None),
                username__startswith=_shop_prefix(),
            )
        )
        last = attempts.aggregate(last=Max("attempt_time"))["last"] or timezone.now()
        until: datetime = last + settings.SIGNIN_COOL_OFF
    else:
        until = account_until
    minutes = max(1, -(-int((until - timezone.now()).total_seconds()) // 60))
    return render(
        request,
        "accounts/locked_out.html",
        {"by_address": by_address, "until": until, "minutes": minutes, "email": email},
        status=429,
    )
