"""The committed e2e tenant behind the kiosk's live server: its stores and form, and what the
browser tests read back from its schema (sign-ups, refusals, tablets) or change in it.

Everything here commits for real, for the live server (another process) to see: call it outside
any test transaction, through browser_site.off_loop when Playwright's loop is running.
"""

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from signup import services
from signup.definitions import default_definition
from signup.models import Device, Form, Location, RejectedSubmission, Submission
from tenants.models import Tenant
from tenants.schemas import schema_drop
from tenants.services import tenant_create

IDLE_SECONDS = 15


def kiosk_definition() -> dict[str, Any]:
    """The default form plus a phone field and SMS consent, a help text and branding."""
    definition = default_definition()
    definition["fields"][0]["help"] = {
        "en": "We only use it to send you our news.",
        "fr": "Nous l'utilisons seulement pour nos nouvelles.",
        "es": "Solo lo usamos para enviarle novedades.",
    }
    definition["fields"].append(
        {
            "key": "phone",
            "type": "phone",
            "required": False,
            "label": {"en": "Mobile phone", "fr": "Téléphone portable", "es": "Teléfono móvil"},
            "help": {},
        }
    )
    definition["consents"]["sms"]["enabled"] = True
    definition["branding"].update(
        {"primary_color": "#7a1f5c", "logo_url": "/static/kiosk/icon.svg"}
    )
    definition["idle_timeout_seconds"] = IDLE_SECONDS
    return definition


#: The stores of the e2e tenant, by code: (name, country, time zone, language).
STORES = {
    "rivoli": ("Rivoli", "FR", "Europe/Paris", ""),
    "soho": ("SoHo", "US", "America/New_York", ""),
    "camden": ("Camden", "GB", "Europe/London", ""),
    "lyon": ("Lyon Part-Dieu", "FR", "Europe/Paris", "fr"),
}


@dataclass
class KioskTenant:
    tenant: Tenant
    location_id: int
    #: Store ids by code (see STORES); ``location_id`` is Rivoli's.
    locations: dict[str, int] = field(default_factory=dict)
    devices_named: int = field(default=0)

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    def pairing_code(self, store: str = "rivoli") -> str:
        """A fresh one-time code for a new tablet (committed: the server must see it)."""
        self.devices_named += 1
        with tenant_context(self.tenant):
            location = Location.objects.get(pk=self.locations.get(store, self.location_id))
            _, code = services.pairing_code_create(
                actor=None, location=location, device_name=f"Tablet {self.devices_named}"
            )
        return code

    def submissions(self) -> list[dict[str, Any]]:
        with tenant_context(self.tenant):
            return [
                {
                    "id": str(row.pk),
                    "email": row.email,
                    "first_name": row.first_name,
                    "phone": row.phone,
                    "locale": row.locale,
                    "device": row.device_id,
                    "location": row.location_id,
                    "answers": row.answers,
                    "set_aside": row.set_aside,
                    "consents": {c.channel: c.granted for c in row.consents.all()},
                }
                for row in Submission.objects.prefetch_related("consents").order_by("captured_at")
            ]

    def rejected(self) -> list[dict[str, Any]]:
        """The sign-ups the server refused whole and kept (RejectedSubmission)."""
        with tenant_context(self.tenant):
            return [
                {
                    "id": str(row.pk),
                    "code": row.code,
                    "status": row.status_code,
                    "email": row.email,
                    "payload": row.payload,
                }
                for row in RejectedSubmission.objects.order_by("received_at")
            ]

    def devices(self) -> list[dict[str, Any]]:
        """Every tablet with what it last reported of its queue."""
        with tenant_context(self.tenant):
            return [
                {
                    "id": row.pk,
                    "name": row.name,
                    "location": row.location_id,
                    "revoked": row.revoked_at is not None,
                    "queue_depth": row.queue_depth,
                    "held": row.held_count,
                    "held_reasons": row.held_reasons,
                }
                for row in Device.objects.order_by("pk")
            ]

    def portal_page(self, path: str) -> str:
        """A portal page as the shop's owner sees it (Django's test client, in this process)."""
        client = Client(HTTP_HOST=self.host)
        with tenant_context(self.tenant):
            owner = get_user_model().objects.get(email=f"owner@{self.tenant.slug}.example")
            client.force_login(owner)
            # Inside the context: the request routes this thread's connection to the tenant's
            # schema, and leaving the context puts it back, so the next fixture starts in public.
            response = client.get(path)
        assert response.status_code == 200, response.status_code
        return response.content.decode()

    def set_open(self, store: str, is_open: bool) -> None:
        """Closes or opens a store as the portal does (its tablets learn it from the server)."""
        with tenant_context(self.tenant):
            location = Location.objects.get(pk=self.locations[store])
            services.location_update(
                actor=None,
                location=location,
                name=location.name,
                country=location.country,
                time_zone=location.time_zone,
                form=location.form,
                is_active=is_open,
            )

    def publish_definition(self, definition: dict[str, Any]) -> int:
        """Publishes ``definition`` as the default form's new version; returns its id."""
        with tenant_context(self.tenant):
            form = Form.objects.get(is_default=True)
            form = services.form_draft_update(actor=None, form=form, definition=definition)
            return services.form_publish(actor=None, form=form).pk

    def publish_welcome(self, text: str) -> int:
        """Publishes a new version of the form with another welcome text; returns its id."""
        with tenant_context(self.tenant):
            form = Form.objects.get(is_default=True)
            definition = dict(form.draft)
            definition["texts"] = {**definition["texts"], "welcome": {"en": text, "fr": text}}
            form = services.form_draft_update(actor=None, form=form, definition=definition)
            return services.form_publish(actor=None, form=form).pk

    def revoke_devices(self) -> None:
        with tenant_context(self.tenant):
            for device in Location.objects.get(pk=self.location_id).devices.all():
                services.device_revoke(actor=None, device=device)


def kiosk_tenant_remove(slug: str) -> None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return
    schema_drop(schema_name=tenant.schema_name)
    tenant.delete()


def kiosk_tenant_create(slug: str) -> KioskTenant:
    """A provisioned tenant with one store and a published default form.

    Call outside any test transaction: every row commits, for the live server to see. Remove
    it with kiosk_tenant_remove.
    """
    kiosk_tenant_remove(slug)  # left over by an interrupted run on a reused database
    tenant = tenant_create(
        name="Kiosk E2E Shop",
        slug=slug,
        owner_email=f"owner@{slug}.example",
        owner_password="a-long-test-password",
        provision_now=True,
    )
    try:
        with tenant_context(tenant):
            locations = {
                code: services.location_create(
                    actor=None, name=name, code=code, country=country, time_zone=zone
                )
                for code, (name, country, zone, _) in STORES.items()
            }
            for code, (_, _, _, language) in STORES.items():
                if language:
                    location = locations[code]
                    services.location_update(
                        actor=None,
                        location=location,
                        name=location.name,
                        country=location.country,
                        time_zone=location.time_zone,
                        form=None,
                        language=language,
                    )
            form = services.form_create(
                actor=None, name="Kiosk", is_default=True, definition=kiosk_definition()
            )
            services.form_publish(actor=None, form=form)
    except BaseException:
        kiosk_tenant_remove(slug)
        raise
    return KioskTenant(
        tenant=tenant,
        location_id=locations["rivoli"].pk,
        locations={code: location.pk for code, location in locations.items()},
    )
