"""URLs of the public host: landing page, the operator's admin, the demo webhook sink."""

from django.contrib import admin
from django.urls import path

from crm_sync.sink import demo_sink

from . import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("admin/", admin.site.urls),
    path("sink/<slug:name>/", demo_sink, name="demo-sink"),
]
