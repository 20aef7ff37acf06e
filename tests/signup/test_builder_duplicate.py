"""Duplicating a form: a draft copy of the saved draft, never published, never shown by a store
until chosen for one, recorded in the audit trail; managers only, and only one's own shop's."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from signup import services
from signup.models import Form, Location
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import form_create, location_create, staff_create

pytestmark = pytest.mark.django_db


def test_a_duplicate_is_an_unpublished_copy_of_the_draft(
    manager_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    with tenant_context(alice_tenant):
        original = form_create(name="Spring")  # published, the brand form
        draft = dict(original.draft)
        draft["double_opt_in"] = True
        services.form_draft_update(actor=None, form=original, definition=draft)
        store = location_create()
        Location.objects.filter(pk=store.pk).update(form=original)
    response = manager_client.post(f"/forms/{original.pk}/duplicate/")
    with tenant_context(alice_tenant):
        copy = Form.objects.get(name="Copy of Spring")
        assert response.status_code == 302
        assert response["Location"] == f"/forms/{copy.pk}/"
        assert copy.draft == Form.objects.get(pk=original.pk).draft
        assert copy.draft["double_opt_in"] is True  # the saved draft, not the published version
        assert copy.current_version is None
        assert not copy.is_default
        assert Form.objects.get(pk=original.pk).is_default
        assert not Location.objects.filter(form=copy).exists()
        entry = AuditEntry.objects.get(action="form.create", object_id=str(copy.pk))
        assert entry.actor == bob
        assert entry.new == {
            "name": "Copy of Spring",
            "copied_from": {"id": original.pk, "name": "Spring"},
        }
    page = manager_client.get(response["Location"]).content.decode()
    assert "is an unpublished copy" in page


def test_a_long_name_is_cut_to_fit(alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        original = form_create(name="N" * 120)
        copy = services.form_duplicate(actor=None, form=original)
        assert copy.name == ("Copy of " + "N" * 120)[:120]


def test_the_list_and_the_builder_offer_it(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create(name="Spring")
    for path in ("/forms/", f"/forms/{form.pk}/"):
        page = manager_client.get(path).content.decode()
        assert f'action="/forms/{form.pk}/duplicate/"' in page, path


def test_it_takes_a_post(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create(name="Spring")
    assert manager_client.get(f"/forms/{form.pk}/duplicate/").status_code == 405
    with tenant_context(alice_tenant):
        assert Form.objects.count() == 1


def test_staff_may_not_duplicate(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create(name="Spring")
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    response = alice_client.post(f"/forms/{form.pk}/duplicate/")
    assert response.status_code == 403
    with tenant_context(alice_tenant):
        assert Form.objects.count() == 1


def test_charlie_cannot_duplicate_alices_form(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(name="Alice secret form")
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.post(f"/forms/{form.pk}/duplicate/")
    assert response.status_code == 404
    with tenant_context(alice_tenant):
        assert Form.objects.count() == 1
    with tenant_context(charlie_tenant):
        assert not Form.objects.filter(name__contains="Alice").exists()
        assert not AuditEntry.objects.filter(action="form.create").exists()
    page = charlie_client.get("/forms/").content.decode()
    assert "Alice secret form" not in page
