"""Billing's pages on a retailer's host."""

from django.urls import path

from .views import portal

urlpatterns = [
    path("billing/", portal.billing_page, name="billing-page"),
    path("billing/manage/", portal.customer_portal, name="billing-manage"),
    path("billing/resume/", portal.resume, name="billing-resume"),
    path("welcome/<str:token>/", portal.welcome, name="billing-welcome"),
]
