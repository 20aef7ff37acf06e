"""URLs of the public host: landing page and the operator's admin."""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", admin.site.urls),
]
