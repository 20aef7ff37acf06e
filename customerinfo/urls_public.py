"""URLs of the public host: the site and self-serve sign-up, Stripe's webhook, the operator's
admin, the demo webhook sink, make run's mailbox."""

from django.contrib import admin
from django.urls import include, path

from crm_sync.sink import demo_sink
from customerinfo.core.accounts.views.language import language_set
from customerinfo.core.mailbox import mailbox_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sink/<slug:name>/", demo_sink, name="demo-sink"),
    path("language/", language_set, name="language-set"),
    # make run only (DEV_MAILBOX): the emails sent, with their links.
    path("mail/", mailbox_page, name="dev-mailbox"),
    path("", include("billing.urls_public")),
]
