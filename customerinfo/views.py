"""Pages of the public host."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public/landing.html", {"base_domain": settings.BASE_DOMAIN})
