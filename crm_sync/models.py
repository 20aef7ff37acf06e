"""CRM destinations of one retailer (tenant schema)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DestinationKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook (Standard Webhooks)")
    HUBSPOT = "hubspot", "HubSpot"
    SALESFORCE = "salesforce", "Salesforce"
    MAILCHIMP = "mailchimp", "Mailchimp"
    KLAVIYO = "klaviyo", "Klaviyo"


class DestinationState(models.TextChoices):
    ACTIVE = "active", _("Active")
    #: The CRM refused our credentials or lost the list: deliveries are held until resumed.
    PAUSED = "paused", _("Paused")


class Destination(models.Model):
    """Where a retailer's sign-ups go.

    ``settings`` holds what is not secret (URLs, list ids, API versions) and ``credentials`` the
    secrets, encrypted with the current key (crm_sync.crypto); neither is ever shown back in
    full.
    """

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=DestinationKind.choices)
    settings = models.JSONField(default=dict, blank=True)
    credentials = models.TextField(blank=True)
    #: Form field -> CRM property, for the fields the provider does not map itself.
    field_mapping = models.JSONField(default=dict, blank=True)
    #: Only sign-ups from these forms and stores; none chosen means all of them.
    forms = models.ManyToManyField("signup.Form", blank=True, related_name="+")
    locations = models.ManyToManyField("signup.Location", blank=True, related_name="+")
    enabled = models.BooleanField(default=True)
    state = models.CharField(
        max_length=8, choices=DestinationState.choices, default=DestinationState.ACTIVE
    )
    paused_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
