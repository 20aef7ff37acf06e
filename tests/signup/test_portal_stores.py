"""Stores in the portal: list, create, edit with per-store text overrides."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.models import AuditEntry
from signup.models import Location
from signup.selectors import kiosk_form
from tenants.models import Tenant
from tests.signup.factories import device_create, form_create, location_create

pytestmark = pytest.mark.django_db


def test_list_shows_stores_with_their_tablets(manager_client: Client, alice_tenant: Tenant) -> None:
    assert b"No store yet" in manager_client.get("/stores/").content
    with tenant_context(alice_tenant):
        location = location_create()
        device_create(location)
    page = manager_client.get("/stores/").content.decode()
    assert "Paris Rivoli" in page
    assert "Europe/Paris" in page
    assert "Brand form" in page
    assert f'href="/stores/{location.pk}/"' in page


def test_create_a_store(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    response = manager_client.post(
        "/stores/new/",
        {
            "name": "Lyon",
            "code": "lyon-part-dieu",
            "country": "fr",
            "time_zone": "Europe/Paris",
            "form": str(form.pk),
        },
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        store = Location.objects.get(code="lyon-part-dieu")
        assert (store.country, store.form_id) == ("FR", form.pk)
        assert AuditEntry.objects.filter(action="location.create").exists()


def test_create_shows_service_and_form_errors(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location_create(code="paris")
    response = manager_client.post(
        "/stores/new/",
        {"name": "Paris 2", "code": "paris", "country": "FR", "time_zone": "UTC"},
    )
    assert response.status_code == 200
    assert b"Already used." in response.content
    response = manager_client.post(
        "/stores/new/", {"name": "", "code": "x", "country": "F", "time_zone": "Mars/Base"}
    )
    assert b"This field is required." in response.content
    with tenant_context(alice_tenant):
        assert Location.objects.count() == 1


def test_edit_a_store_and_its_texts(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form_create()
        location = location_create()
    page = manager_client.get(f"/stores/{location.pk}/").content.decode()
    assert 'name="welcome_fr"' in page
    assert 'name="code"' not in page  # a store's code never changes
    response = manager_client.post(
        f"/stores/{location.pk}/",
        {
            "name": "Paris Rivoli (new)",
            "country": "FR",
            "time_zone": "Europe/Paris",
            "form": "",
            "is_active": "on",
            "welcome_fr": "Bienvenue à Rivoli",
            "thank_you_en": "See you soon in Rivoli",
        },
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        store = Location.objects.get(pk=location.pk)
        assert store.name == "Paris Rivoli (new)"
        assert store.overrides == {
            "texts": {
                "welcome": {"fr": "Bienvenue à Rivoli"},
                "thank_you": {"en": "See you soon in Rivoli"},
            }
        }
        texts = kiosk_form(location=store)["definition"]["texts"]
        assert texts["welcome"]["fr"] == "Bienvenue à Rivoli"
        assert texts["welcome"]["en"] == "Join our list"
    page = manager_client.get(f"/stores/{location.pk}/").content.decode()
    assert 'value="Bienvenue à Rivoli"' in page


def test_edit_clears_overrides_and_reports_mistakes(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    data = {"name": "Paris", "country": "FR", "time_zone": "Europe/Paris", "form": ""}
    assert manager_client.post(f"/stores/{location.pk}/", data).status_code == 302
    with tenant_context(alice_tenant):
        store = Location.objects.get(pk=location.pk)
        assert store.overrides == {}
        assert not store.is_active
    response = manager_client.post(f"/stores/{location.pk}/", {**data, "country": "12"})
    assert b"Use a two-letter country code." in response.content


def test_a_store_chooses_its_tablet_language(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form_create()
    page = manager_client.get("/stores/new/").content.decode()
    assert "Tablet language" in page
    assert "The form&#x27;s first language" in page
    response = manager_client.post(
        "/stores/new/",
        {
            "name": "Madrid",
            "code": "madrid",
            "country": "ES",
            "time_zone": "Europe/Madrid",
            "language": "es",
        },
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        store = Location.objects.get(code="madrid")
        assert store.language == "es"
        assert kiosk_form(location=store)["location"]["language"] == "es"
    data = {"name": "Madrid", "country": "ES", "time_zone": "Europe/Madrid", "is_active": "on"}
    assert manager_client.post(f"/stores/{store.pk}/", {**data, "language": ""}).status_code == 302
    with tenant_context(alice_tenant):
        store = Location.objects.get(pk=store.pk)
        assert store.language == ""
        assert kiosk_form(location=store)["location"]["language"] == "en"
    response = manager_client.post(f"/stores/{store.pk}/", {**data, "language": "de"})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()


def test_closing_a_store_says_what_happens_and_since_when(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    page = manager_client.get(f"/stores/{location.pk}/").content.decode()
    assert "Closing a store stops its tablets taking new sign-ups; sign-ups captured" in page
    data = {"name": "Paris Rivoli", "country": "FR", "time_zone": "Europe/Paris", "form": ""}
    assert manager_client.post(f"/stores/{location.pk}/", data).status_code == 302
    with tenant_context(alice_tenant):
        closed_at = Location.objects.get(pk=location.pk).closed_at
    assert closed_at is not None
    listing = manager_client.get("/stores/").content.decode()
    assert f"Closed since {closed_at:%-d %B %Y}" in listing
    reopened = {**data, "is_active": "on"}
    assert manager_client.post(f"/stores/{location.pk}/", reopened).status_code == 302
    assert "Closed since" not in manager_client.get("/stores/").content.decode()
