"""URLs of the public host: the site and self-serve sign-up, Stripe's webhook, the operator's
admin, the demo webhook sink."""

from django.contrib import admin
from django.urls import include, path

from crm_sync.sink import demo_sink

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sink/<slug:name>/", demo_sink, name="demo-sink"),
    path("", include("billing.urls_public")),
]
