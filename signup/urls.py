"""Portal pages of a retailer's host."""

from django.urls import path

from .views import portal

urlpatterns = [
    path("", portal.portal_home, name="portal-home"),
    path("forms/", portal.forms_list, name="portal-forms"),
    path("forms/new/", portal.form_create, name="portal-form-create"),
    path("forms/<int:pk>/", portal.form_edit, name="portal-form-edit"),
    path("forms/<int:pk>/preview/", portal.form_preview, name="portal-form-preview"),
    path("forms/<int:pk>/settings/", portal.form_settings, name="portal-form-settings"),
    path("stores/", portal.locations_list, name="portal-locations"),
    path("stores/new/", portal.location_create, name="portal-location-create"),
    path("stores/<int:pk>/", portal.location_edit, name="portal-location-edit"),
    path("tablets/", portal.devices_list, name="portal-devices"),
    path("tablets/pair/", portal.device_pair, name="portal-device-pair"),
    path("tablets/<int:pk>/revoke/", portal.device_revoke, name="portal-device-revoke"),
    path("signups/", portal.submissions_list, name="portal-submissions"),
    path("signups/export.csv", portal.submissions_export, name="portal-submissions-export"),
    path("team/", portal.team_list, name="portal-team"),
    path("team/<int:pk>/", portal.member_update, name="portal-member-update"),
    path("settings/", portal.settings_page, name="portal-settings"),
    path("settings/shopper-export/", portal.shopper_export, name="portal-shopper-export"),
    path("settings/shopper-erase/", portal.shopper_erase, name="portal-shopper-erase"),
    path("audit/", portal.audit_log, name="portal-audit"),
]
