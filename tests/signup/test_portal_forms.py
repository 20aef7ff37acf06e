"""Forms in the portal: list, create, the builder (errors, structure edits, preview), publish.

The preview itself is drawn by the tablet's code in a browser: test_preview_browser.py.
"""

import json
import re
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.models import AuditEntry
from signup.answers import kiosk_rules
from signup.definitions import default_definition
from signup.forms import builder_apply, builder_present
from signup.models import Form
from tenants.models import Tenant
from tests.signup.factories import builder_data, form_create, phone_definition

pytestmark = pytest.mark.django_db


def _form(tenant: Tenant, pk: int) -> Form:
    with tenant_context(tenant):
        return Form.objects.select_related("current_version").get(pk=pk)


def _embedded(page: str, element_id: str) -> Any:
    """The JSON a page embeds with json_script under ``element_id``."""
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page)
    assert match, element_id
    return json.loads(match.group(1))


def test_forms_list_shows_versions_and_unpublished_changes(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    assert b"No form yet" in manager_client.get("/forms/").content
    with tenant_context(alice_tenant):
        published = form_create(name="Published form")
        from signup import services

        draft_only = services.form_create(actor=None, name="Draft form")
    page = manager_client.get("/forms/").content.decode()
    assert "Published form" in page
    assert "Version 1" in page
    assert "Same as published" in page
    assert f'href="/forms/{draft_only.pk}/"' in page
    assert "Unpublished changes" in page
    assert f'href="/forms/{published.pk}/"' in page


def test_create_form_goes_to_the_builder(manager_client: Client, alice_tenant: Tenant) -> None:
    page = manager_client.get("/forms/new/").content.decode()
    assert re.search(r'name="is_default"[^>]* checked', page)  # no brand form yet
    response = manager_client.post("/forms/new/", {"name": "Spring", "is_default": "on"})
    with tenant_context(alice_tenant):
        form = Form.objects.get(name="Spring")
        assert form.is_default
        assert AuditEntry.objects.filter(action="form.create").count() == 1
    assert response["Location"] == f"/forms/{form.pk}/"


def test_create_form_needs_a_name(manager_client: Client, alice_tenant: Tenant) -> None:
    response = manager_client.post("/forms/new/", {"name": "   "})
    assert response.status_code == 400
    assert b"A form needs a name." in response.content or b"required" in response.content
    with tenant_context(alice_tenant):
        assert not Form.objects.exists()


def test_builder_shows_every_part_of_the_draft(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    page = manager_client.get(f"/forms/{form.pk}/").content.decode()
    for name in (
        'name="fields.0.label.fr"',
        'name="fields.2.label.es"',
        'name="consents.sms.disclosure.en"',
        'name="texts.thank_you.fr"',
        'name="branding.primary_color"',
        'name="idle_timeout_seconds"',
        'name="double_opt_in"',
        'id="preview"',
        'name="new_field_type"',
        '<script type="module" src="/static/portal/form-preview.js">',
    ):
        assert name in page, name
    assert "Nothing published yet" in page
    # The preview draws the draft with the rules a tablet gets (no store: no phone country).
    assert _embedded(page, "preview-definition") == form.draft
    assert _embedded(page, "preview-rules") == kiosk_rules(country="")


def test_save_draft_saves_and_audits(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = phone_definition()
    definition["fields"][0]["label"]["fr"] = "Votre e-mail"
    definition["idle_timeout_seconds"] = 60
    response = manager_client.post(
        f"/forms/{form.pk}/", builder_data(definition, action="save"), follow=True
    )
    assert b"Draft saved" in response.content
    saved = _form(alice_tenant, form.pk)
    assert saved.draft["fields"][0]["label"]["fr"] == "Votre e-mail"
    assert saved.draft["idle_timeout_seconds"] == 60
    assert saved.draft["consents"]["sms"]["enabled"] is True
    assert saved.current_version is None
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.filter(action="form.draft_update").count() == 1


def test_bad_input_shows_errors_next_to_inputs_and_saves_nothing(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = phone_definition()
    definition["fields"][2]["label"]["fr"] = ""
    definition["branding"]["logo_url"] = "http://insecure.example/logo.png"
    data = builder_data(definition, action="save", idle_timeout_seconds="soon")
    with tenant_context(alice_tenant):
        audits = AuditEntry.objects.count()
    response = manager_client.post(f"/forms/{form.pk}/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "The form has mistakes; nothing was saved." in page
    assert 'id="fields.2.label.fr-error"' in page
    assert 'aria-describedby="fields.2.label.fr-error"' in page
    assert "Missing the fr text." in page
    assert 'href="#fields.2.label.fr"' in page  # the summary links to the input
    assert 'id="branding.logo_url-error"' in page
    assert 'id="idle_timeout_seconds-error"' in page
    assert 'value="soon"' in page  # what was typed stays in the box
    assert _form(alice_tenant, form.pk).draft == phone_definition()
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.count() == audits


def test_group_errors_land_on_their_fieldset(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = default_definition()
    definition["consents"]["sms"]["enabled"] = True  # but there is no phone field
    data = builder_data(definition, action="save")
    del data["languages"]
    data["fields.0.required"] = ""
    data["fields.1.key"] = "ignored for standard fields"
    response = manager_client.post(f"/forms/{form.pk}/", data)
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="consents.sms-error"' in page
    assert "SMS consent needs a phone field." in page
    assert 'id="languages-error"' in page


def test_publish_saves_then_increments_the_version(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    data = builder_data(phone_definition(), action="publish")
    response = manager_client.post(f"/forms/{form.pk}/", data, follow=True)
    assert b"Published version 1" in response.content
    published = _form(alice_tenant, form.pk)
    assert published.current_version is not None
    assert published.current_version.number == 1
    data["texts.welcome.en"] = "Join the club"
    response = manager_client.post(f"/forms/{form.pk}/", data, follow=True)
    assert b"Published version 2" in response.content
    saved = _form(alice_tenant, form.pk)
    assert saved.current_version is not None
    assert saved.current_version.number == 2
    assert saved.current_version.definition["texts"]["welcome"]["en"] == "Join the club"
    page = response.content.decode()
    assert "Published versions" in page
    assert "On the tablets" in page
    assert page.count("<td>1</td>") == 1  # version history lists both versions


def test_publish_with_mistakes_publishes_nothing(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=True)
    data = builder_data(phone_definition(), action="publish")
    data["fields.0.label.en"] = ""
    response = manager_client.post(f"/forms/{form.pk}/", data)
    assert response.status_code == 400
    saved = _form(alice_tenant, form.pk)
    assert saved.current_version is not None
    assert saved.current_version.number == 1
    assert saved.draft == phone_definition()


def _post_action(client: Client, form: Form, action: str, **extra: str) -> str:
    data = builder_data(form.draft, action=action, **extra)
    response = client.post(f"/forms/{form.pk}/", data)
    assert response.status_code == 200
    return response.content.decode()


def test_structure_edits_re_render_without_saving(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    page = _post_action(manager_client, form, "add_field", new_field_type="single_choice")
    assert 'name="fields.3.type" value="single_choice"' in page
    assert 'name="fields.3.key" id="fields.3.key" value="question_1"' in page
    assert 'name="fields.3.options.1.value"' in page
    page = _post_action(manager_client, form, "add_field", new_field_type="birthday")
    assert 'name="fields.3.type" value="birthday"' in page
    assert 'value="Birthday"' in page  # standard fields come with their labels
    # The preview draws the edited, unsaved definition.
    assert _embedded(page, "preview-definition")["fields"][3]["label"]["en"] == "Birthday"
    page = _post_action(manager_client, form, "down:0")
    assert 'name="fields.1.type" value="email"' in page
    page = _post_action(manager_client, form, "up:1")
    assert 'name="fields.0.type" value="first_name"' in page
    page = _post_action(manager_client, form, "remove_field:1")
    assert 'name="fields.1.type"' in page
    assert 'name="fields.0.type" value="first_name"' not in page
    page = _post_action(manager_client, form, "remove_field:0")  # the email field stays
    assert 'name="fields.0.type" value="email"' in page
    assert _form(alice_tenant, form.pk).draft == phone_definition()


def test_choice_options_are_added_and_removed() -> None:
    fields = default_definition()["fields"]
    builder_apply(fields, action="add_field", new_type="multiple_choice")
    field = fields[2]
    assert [o["value"] for o in field["options"]] == ["option_1", "option_2"]
    builder_apply(fields, action="add_option:2")
    assert [o["value"] for o in field["options"]] == ["option_1", "option_2", "option_3"]
    builder_apply(fields, action="remove_option:2:0")
    assert [o["value"] for o in field["options"]] == ["option_2", "option_3"]
    builder_apply(fields, action="remove_option:2:9")
    builder_apply(fields, action="remove_option:9:0")
    builder_apply(fields, action="add_option:0")  # not a choice: no options to add to
    builder_apply(fields, action="add_field", new_type="no_such_type")
    builder_apply(fields, action="up:0")
    builder_apply(fields, action="down:2")
    assert len(fields) == 3
    assert len(field["options"]) == 2
    assert "options" not in fields[0]


def test_option_labels_round_trip_through_the_builder(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = phone_definition()
    definition["fields"].append(
        {
            "key": "favourite",
            "type": "single_choice",
            "required": True,
            "label": {"en": "Favourite", "fr": "Préféré", "es": "Favorito"},
            "help": {"en": "Pick one"},
            "options": [
                {"value": "shoes", "label": {"en": "Shoes", "fr": "Chaussures", "es": "Zapatos"}},
                {"value": "bags", "label": {"en": "Bags", "fr": "Sacs", "es": "Bolsos"}},
            ],
        }
    )
    definition["double_opt_in"] = True
    response = manager_client.post(f"/forms/{form.pk}/", builder_data(definition, action="save"))
    assert response.status_code == 302
    assert _form(alice_tenant, form.pk).draft == definition
    page = manager_client.get(f"/forms/{form.pk}/?preview_language=fr").content.decode()
    assert _embedded(page, "preview-definition")["fields"][3]["options"][0]["label"] == {
        "en": "Shoes",
        "fr": "Chaussures",
        "es": "Zapatos",
    }
    assert re.search(r'name="preview_language"[^>]* value="fr"', page)


def test_two_options_with_one_value_are_reported(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = phone_definition()
    definition["fields"].append(
        {
            "key": "size",
            "type": "single_choice",
            "required": False,
            "label": {"en": "Size", "fr": "Taille", "es": "Talla"},
            "help": {},
            "options": [
                {"value": "s", "label": {"en": "S", "fr": "S", "es": "S"}},
                {"value": "s", "label": {"en": "M", "fr": "M", "es": ""}},
            ],
        }
    )
    response = manager_client.post(f"/forms/{form.pk}/", builder_data(definition, action="save"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Options need distinct values." in page
    assert 'id="fields.3.options.1.label.es-error"' in page


def test_live_preview_answers_the_unsaved_definition(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    data = builder_data(phone_definition(), idle_timeout_seconds="soon")
    data["texts.welcome.es"] = "¡Bienvenidos a la tienda!"
    data["branding.primary_color"] = "#123456"
    data["fields.1.label.fr"] = ""
    response = manager_client.post(f"/forms/{form.pk}/preview/", data)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    definition = response.json()["definition"]
    # Exactly what "Save draft" would validate: the same parser, mistakes and all.
    expected = phone_definition()
    expected["texts"]["welcome"]["es"] = "¡Bienvenidos a la tienda!"
    expected["branding"]["primary_color"] = "#123456"
    del expected["fields"][1]["label"]["fr"]
    expected["idle_timeout_seconds"] = "soon"
    assert definition == expected
    assert _form(alice_tenant, form.pk).draft == phone_definition()


def test_builder_copes_with_any_draft() -> None:
    assert builder_present(None).fields == []
    assert builder_present({"fields": ["oops"]}).fields[0].type == ""
    broken = {"languages": "en", "fields": [{"options": "x", "label": ["?"]}], "consents": 1}
    builder = builder_present(broken)
    assert [code for code, _, checked in builder.languages if checked] == []
    assert builder.fields[0].options == []
    assert builder.consents["sms"].disclosure is not None
    assert builder.consents["email"].disclosure is None


def test_unclaimed_errors_reach_the_summary() -> None:
    builder = builder_present(
        default_definition(),
        {"mystery": [{"code": "x", "message": "Something odd."}]},
    )
    assert builder.errors["other"] == ["Something odd."]
    assert ("", "mystery: Something odd.") in builder.summary


def test_form_settings_rename_and_make_brand_form(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        first = form_create(name="First")
        from signup import services

        second = services.form_create(actor=None, name="Second")
    response = manager_client.post(
        f"/forms/{second.pk}/settings/", {"name": "Second, renamed", "is_default": "on"}
    )
    assert response.status_code == 302
    assert _form(alice_tenant, second.pk).is_default
    assert _form(alice_tenant, second.pk).name == "Second, renamed"
    assert not _form(alice_tenant, first.pk).is_default
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="form.update")
        assert entry.old == {"name": "Second", "is_default": False}
    response = manager_client.post(f"/forms/{second.pk}/settings/", {"name": ""}, follow=True)
    assert b"A form needs a name." in response.content
    assert _form(alice_tenant, second.pk).name == "Second, renamed"


def test_a_service_refusal_is_shown_on_the_form(
    manager_client: Client, alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customerinfo.core.errors import ServiceError

    def refuse(**_: object) -> None:
        raise ServiceError("invalid_definition", "The default form is broken.")

    monkeypatch.setattr("signup.services.form_create", refuse)
    response = manager_client.post("/forms/new/", {"name": "Spring"})
    assert b"The default form is broken." in response.content


def test_saving_settings_of_the_brand_form_keeps_it(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    manager_client.post(f"/forms/{form.pk}/settings/", {"name": "Main", "is_default": "on"})
    assert _form(alice_tenant, form.pk).is_default


# --- tabs and field cards (builder.js drives them in a browser: test_builder_browser.py) --------


def test_a_reordered_post_saves_the_new_order(manager_client: Client, alice_tenant: Tenant) -> None:
    """builder.js moves cards and renumbers their inputs: the plain POST carries the order."""
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    definition = phone_definition()
    definition["fields"] = [definition["fields"][i] for i in (2, 0, 1)]  # phone first
    response = manager_client.post(f"/forms/{form.pk}/", builder_data(definition, action="save"))
    assert response.status_code == 302
    assert [f["key"] for f in _form(alice_tenant, form.pk).draft["fields"]] == [
        "phone",
        "email",
        "first_name",
    ]


def test_cards_are_closed_but_a_new_or_faulty_one_is_open(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    page = manager_client.get(f"/forms/{form.pk}/").content.decode()
    assert page.count('<details class="card">') == 3
    assert '<details class="card" open>' not in page
    assert 'data-move="up" hidden' in page  # the first card cannot go up
    page = _post_action(manager_client, form, "add_field", new_field_type="short_text")
    assert page.count('<details class="card" open>') == 1
    assert re.search(r'id="field-3"[^>]*>\s*<details class="card" open>', page)
    data = builder_data(phone_definition(), action="save")
    data["fields.1.label.fr"] = ""
    page = manager_client.post(f"/forms/{form.pk}/", data).content.decode()
    assert re.search(r'id="field-1"[^>]*>\s*<details class="card" open>', page)
    assert page.count('<details class="card" open>') == 1
    assert "Has mistakes" in page


def test_a_save_with_mistakes_names_the_first_tab_holding_one(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create(publish=False)
    page = manager_client.get(f"/forms/{form.pk}/").content.decode()
    assert 'role="tablist"' in page
    assert 'data-error-tab=""' in page
    for tab in ("fields", "consents", "texts", "look"):
        assert f'id="tab-{tab}" aria-controls="{tab}"' in page
        assert f'<section id="{tab}" class="tab-panel"' in page
    data = builder_data(phone_definition(), action="save", idle_timeout_seconds="soon")
    data["consents.email.text.fr"] = ""
    data["consents.sms.text.es"] = ""
    page = manager_client.post(f"/forms/{form.pk}/", data).content.decode()
    assert 'data-error-tab="consents"' in page
    assert re.search(r'id="tab-consents"[^>]*>Consents <span class="badge error">2 mistakes', page)
    assert re.search(r'id="tab-look"[^>]*>Look <span class="badge error">1 mistake<', page)
    assert re.search(r'id="tab-fields"[^>]*>Fields</button>', page)


def test_moves_and_options_re_render_the_touched_card_open() -> None:
    fields = phone_definition()["fields"]
    assert builder_apply(fields, action="down:0") == 1
    assert builder_apply(fields, action="up:1") == 0
    assert builder_apply(fields, action="up:0") == 0  # nowhere to go: it stays, open
    assert builder_apply(fields, action="add_field", new_type="checkbox") == 3
    assert builder_apply(fields, action="remove_field:3") is None
    builder = builder_present({"fields": fields}, opened=2)
    assert [card.opened for card in builder.fields] == [False, False, True]
    assert builder.fields[0].title == "Email address"
