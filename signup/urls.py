"""Portal pages of a retailer's host."""

from django.urls import path

from .views import portal

urlpatterns = [
    path("", portal.portal_home, name="portal-home"),
]
