"""A store whose tablets have no published form to show is flagged on the stores pages."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from signup import services
from tenants.models import Tenant
from tests.signup.factories import form_create, location_create

pytestmark = pytest.mark.django_db

NOT_PUBLISHED = "is not published: its tablets cannot take sign-ups."


def test_a_store_on_an_unpublished_form_is_flagged(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form_create("Brand")
        draft_only = services.form_create(actor=None, name="Summer draft")
        flagged = location_create("lyon", "Lyon")
        services.location_update(
            actor=None,
            location=flagged,
            name=flagged.name,
            country=flagged.country,
            time_zone=flagged.time_zone,
            form=draft_only,
            overrides={},
            is_active=True,
        )
        fine = location_create("paris", "Paris")
    page = manager_client.get("/stores/").content.decode()
    assert "A store's tablets cannot take sign-ups." in page
    warning = f"Its form “Summer draft” {NOT_PUBLISHED}"
    assert f'<a href="/stores/{flagged.pk}/">Lyon</a>: {warning}' in page
    assert f'<a href="/stores/{fine.pk}/">Paris</a>:' not in page
    assert page.count("Not published</span>") == 1
    edit = manager_client.get(f"/stores/{flagged.pk}/").content.decode()
    assert "This store's tablets cannot take sign-ups." in edit
    assert "Summer draft — not published</option>" in edit
    assert ">Brand</option>" in edit
    other = manager_client.get(f"/stores/{fine.pk}/").content.decode()
    assert "cannot take sign-ups" not in other


def test_an_unpublished_or_missing_brand_form_is_flagged(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    page = manager_client.get("/stores/").content.decode()
    assert "It shows the brand form, and there is none: choose a form for it." in page
    with tenant_context(alice_tenant):
        brand = form_create("Brand", publish=False)
    page = manager_client.get(f"/stores/{location.pk}/").content.decode()
    assert f"It shows the brand form “Brand”, which {NOT_PUBLISHED}" in page
    with tenant_context(alice_tenant):
        services.form_publish(actor=None, form=brand)
    assert "cannot take sign-ups" not in manager_client.get("/stores/").content.decode()
    edit = manager_client.get(f"/stores/{location.pk}/").content.decode()
    assert "cannot take sign-ups" not in edit


def test_charlie_sees_nothing_of_alices_stores_or_warnings(
    manager_client: Client,
    alice_tenant: Tenant,
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: object,
) -> None:
    from tests.conftest import login

    with tenant_context(alice_tenant):
        location = location_create("secret-store", "Alice Secret Store")
    assert "Alice Secret Store" in manager_client.get("/stores/").content.decode()
    login(charlie_client, charlie_tenant, charlie)  # type: ignore[arg-type]
    page = charlie_client.get("/stores/").content.decode()
    assert "Alice Secret Store" not in page
    assert "No store yet." in page
    assert charlie_client.get(f"/stores/{location.pk}/").status_code == 404
