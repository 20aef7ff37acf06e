"""Portal pages of a retailer's host."""

from django.urls import path

from .views import (
    attention,
    builder,
    dashboard,
    exports,
    logos,
    notifications,
    portal,
    signup_detail,
    signups,
    stores,
    tablets,
)

urlpatterns = [
    path("", dashboard.portal_home, name="portal-home"),
    path("forms/", builder.forms_list, name="portal-forms"),
    path("forms/new/", builder.form_create, name="portal-form-create"),
    path("forms/<int:pk>/", builder.form_edit, name="portal-form-edit"),
    path("forms/<int:pk>/preview/", builder.form_preview, name="portal-form-preview"),
    path("forms/<int:pk>/settings/", builder.form_settings, name="portal-form-settings"),
    path("forms/<int:pk>/duplicate/", builder.form_duplicate, name="portal-form-duplicate"),
    path("forms/<int:pk>/logo/", logos.form_logo_upload, name="portal-form-logo"),
    path("logos/<uuid:pk>.<slug:extension>", logos.logo_file, name="logo-file"),
    path("stores/", stores.locations_list, name="portal-locations"),
    path("stores/new/", stores.location_create, name="portal-location-create"),
    path("stores/<int:pk>/", stores.location_edit, name="portal-location-edit"),
    path("tablets/", tablets.devices_list, name="portal-devices"),
    path("tablets/pair/", tablets.device_pair, name="portal-device-pair"),
    path("tablets/<int:pk>/revoke/", tablets.device_revoke, name="portal-device-revoke"),
    path("signups/", signups.submissions_list, name="portal-submissions"),
    path("signups/export.csv", signups.submissions_export, name="portal-submissions-export"),
    path("signups/<uuid:pk>/", signup_detail.submission_detail, name="portal-submission-detail"),
    path("signups/exports/", exports.exports_list, name="portal-exports"),
    path("signups/exports/<uuid:pk>/", exports.export_detail, name="portal-export"),
    path(
        "signups/exports/<uuid:pk>/download/",
        exports.export_download,
        name="portal-export-download",
    ),
    path("signups/attention/", attention.attention_list, name="portal-attention"),
    path(
        "signups/attention/export.csv",
        attention.attention_export,
        name="portal-attention-export",
    ),
    path(
        "signups/attention/signups/<uuid:pk>/",
        attention.set_aside_detail,
        name="portal-attention-signup",
    ),
    path(
        "signups/attention/signups/<uuid:pk>/release/",
        attention.set_aside_release,
        name="portal-attention-signup-release",
    ),
    path(
        "signups/attention/signups/<uuid:pk>/discard/",
        attention.set_aside_discard,
        name="portal-attention-signup-discard",
    ),
    path(
        "signups/attention/rejected/<uuid:pk>/",
        attention.rejection_detail,
        name="portal-attention-rejected",
    ),
    path(
        "signups/attention/rejected/<uuid:pk>/release/",
        attention.rejection_release,
        name="portal-attention-rejected-release",
    ),
    path(
        "signups/attention/rejected/<uuid:pk>/discard/",
        attention.rejection_discard,
        name="portal-attention-rejected-discard",
    ),
    path("settings/", portal.settings_page, name="portal-settings"),
    path(
        "settings/notifications/",
        notifications.notifications_page,
        name="portal-notifications",
    ),
    path("settings/shopper-export/", portal.shopper_export, name="portal-shopper-export"),
    path("settings/shopper-erase/", portal.shopper_erase, name="portal-shopper-erase"),
    path("audit/", portal.audit_log, name="portal-audit"),
]
