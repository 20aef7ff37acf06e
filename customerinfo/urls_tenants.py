"""URLs of a retailer's host (``<slug>.<BASE_DOMAIN>``): the portal."""

from django.contrib.auth import views as auth_views
from django.urls import path

from signup import views as signup_views

urlpatterns = [
    path("", signup_views.portal_home, name="portal-home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
