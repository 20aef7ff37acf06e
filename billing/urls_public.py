"""Billing's pages on the public host."""

from django.urls import path

from .views import public, webhook

urlpatterns = [
    path("", public.landing, name="landing"),
    path("start/", public.start, name="billing-start"),
    path("start/address/", public.slug_check, name="billing-slug-check"),
    path("start/done/", public.start_done, name="billing-start-done"),
    path("login/", public.find_shop, {"purpose": "login"}, name="public-login"),
    path("password/reset/", public.find_shop, {"purpose": "reset"}, name="public-password-reset"),
    path("stripe/webhook/", webhook.stripe_webhook, name="stripe-webhook"),
]
