"""Portal pages of CRM sync, under /crm/ on a retailer's host."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.destinations_list, name="crm-destinations"),
    path("new/", views.destination_kind_choose, name="crm-destination-kind"),
    path("new/<slug:kind>/", views.destination_create, name="crm-destination-create"),
    path("<int:pk>/", views.destination_detail, name="crm-destination"),
    path("<int:pk>/edit/", views.destination_edit, name="crm-destination-edit"),
    path("<int:pk>/test/", views.destination_test, name="crm-destination-test"),
    path("<int:pk>/pause/", views.destination_pause, name="crm-destination-pause"),
    path("<int:pk>/resume/", views.destination_resume, name="crm-destination-resume"),
    path("<int:pk>/rotate-secret/", views.webhook_secret_rotate, name="crm-secret-rotate"),
    path("<int:pk>/replay/", views.destination_replay, name="crm-destination-replay"),
    path("deliveries/<int:pk>/replay/", views.delivery_replay, name="crm-delivery-replay"),
    path(
        "signups/<uuid:submission_id>/",
        views.submission_deliveries,
        name="crm-submission-deliveries",
    ),
]
