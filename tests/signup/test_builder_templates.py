"""The template gallery a new form starts from: every template is a valid form, and choosing one
gives the new form its definition."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.models import AuditEntry
from signup.definitions import definition_validate
from signup.form_templates import FORM_TEMPLATES, TEMPLATES_BY_KEY, FormTemplate
from signup.models import Form
from tenants.models import Tenant


@pytest.mark.parametrize("template", FORM_TEMPLATES, ids=lambda template: template.key)
def test_every_template_is_a_valid_form(template: FormTemplate) -> None:
    definition = template.definition()
    assert definition_validate(definition) is definition
    assert definition["fields"][0]["type"] == "email"


def test_templates_differ_and_each_copy_is_fresh() -> None:
    shapes = {tuple(f["key"] for f in t.definition()["fields"]) for t in FORM_TEMPLATES}
    assert len(shapes) == len(FORM_TEMPLATES)
    loyalty = TEMPLATES_BY_KEY["loyalty_club"]
    first = loyalty.definition()
    first["fields"][0]["label"]["en"] = "changed"
    assert loyalty.definition()["fields"][0]["label"]["en"] == "Email address"
    # SMS consent is offered where a phone field is asked for, and only there.
    for template in FORM_TEMPLATES:
        definition = template.definition()
        has_phone = any(f["type"] == "phone" for f in definition["fields"])
        assert definition["consents"]["sms"]["enabled"] is has_phone, template.key


@pytest.mark.django_db
def test_the_create_page_shows_the_gallery(manager_client: Client) -> None:
    page = manager_client.get("/forms/new/").content.decode()
    for template in FORM_TEMPLATES:
        assert f'id="template-{template.key}"' in page
        assert str(template.name) in page
        assert str(template.description) in page
    assert "I accept the competition rules" in page  # the fields each template holds
    chosen = 'id="template-newsletter" aria-describedby="template-newsletter-about" checked'
    assert chosen in page


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["loyalty_club", "competition", "blank"])
def test_creating_from_a_template_gives_its_definition(
    manager_client: Client, alice_tenant: Tenant, key: str
) -> None:
    response = manager_client.post("/forms/new/", {"name": "From the gallery", "template": key})
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        form = Form.objects.get(name="From the gallery")
        assert form.draft == TEMPLATES_BY_KEY[key].definition()
        assert form.current_version is None
        entry = AuditEntry.objects.get(action="form.create", object_id=str(form.pk))
        assert entry.new == {"name": "From the gallery", "template": key}
    assert response["Location"] == f"/forms/{form.pk}/"


@pytest.mark.django_db
def test_an_unknown_template_is_refused_on_the_page(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    response = manager_client.post("/forms/new/", {"name": "Odd", "template": "no-such"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    with tenant_context(alice_tenant):
        assert not Form.objects.filter(name="Odd").exists()
