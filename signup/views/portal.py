"""Portal pages of a retailer's site."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from customerinfo.accounts.models import User


@login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "signup/portal_home.html",
        {"team_size": User.objects.filter(is_active=True).count()},
    )
