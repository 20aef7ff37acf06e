"""URLs of a retailer's host (``<slug>.<BASE_DOMAIN>``): the portal."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from customerinfo.core.accounts.views import signin as signin_views
from signup import apis as signup_apis
from signup.views import kiosk as kiosk_views

urlpatterns = [
    # First: the busiest route, matched before all others on every sign-up.
    path("api/kiosk/submissions", signup_apis.SubmissionApi.as_view(), name="kiosk-submit"),
    # --- kiosk PWA shell (owned by the kiosk work; see signup/views/kiosk.py) -----------------
    path("kiosk/", kiosk_views.kiosk_shell, name="kiosk"),
    path("kiosk/sw.js", kiosk_views.kiosk_service_worker, name="kiosk-sw"),
    path("kiosk/manifest.webmanifest", kiosk_views.kiosk_manifest, name="kiosk-manifest"),
    # --- end of kiosk block ------------------------------------------------------------------
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/kiosk/pair", signup_apis.PairApi.as_view(), name="kiosk-pair"),
    path("api/kiosk/form", signup_apis.FormApi.as_view(), name="kiosk-form"),
    path("api/kiosk/heartbeat", signup_apis.HeartbeatApi.as_view(), name="kiosk-heartbeat"),
    path(
        "api/kiosk/submissions/check",
        signup_apis.SubmissionCheckApi.as_view(),
        name="kiosk-submit-check",
    ),
    path("api/kiosk/rejections", signup_apis.RejectionApi.as_view(), name="kiosk-rejections"),
    path("crm/", include("crm_sync.urls")),
    path("", include("billing.urls")),
    path("", include("signup.urls")),
    path("", include("customerinfo.core.accounts.urls")),
    path("login/", signin_views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("password/reset/", signin_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        signin_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
