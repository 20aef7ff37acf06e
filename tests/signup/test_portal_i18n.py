"""The sign-up portal's pages in French and Spanish: each main page speaks the reader's language
(and none of its English), plurals follow French rules, dates are written the French way, and
another retailer's member still sees nothing of alice's shop in any language."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from signup.forms import TYPE_NAMES
from signup.views.dashboard import CRM_STATUS_WORDS
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import (
    Kiosk,
    form_create,
    kiosk_create,
    set_aside_create,
    submission_create,
)

pytestmark = pytest.mark.django_db


def page_in(client: Client, path: str, language: str) -> str:
    response = client.get(path, headers={"Accept-Language": language})
    assert response.status_code == 200, path
    return response.content.decode()


@pytest.fixture
def shop(alice_tenant: Tenant) -> Kiosk:
    """A store, its published form and tablet, one sign-up and one with an answer set aside."""
    with tenant_context(alice_tenant):
        kiosk = kiosk_create()
        submission_create(
            kiosk.device, "ann@example.com", received_at=datetime(2025, 3, 14, 9, 5, tzinfo=UTC)
        )
        set_aside_create(kiosk.device, "bea@example.com")
        return kiosk


#: Each main page: its address, then a phrase of it in French, in Spanish and in English.
PAGES = [
    ("/", "Inscriptions par jour", "Registros por día", "Sign-ups per day"),
    ("/signups/", "Filtrer les inscriptions", "Filtrar registros", "Filter sign-ups"),
    ("/stores/", "Nouveau magasin", "Nueva tienda", "New store"),
    ("/tablets/", "Appairer une tablette", "Vincular una tableta", "Pair a tablet"),
    ("/signups/exports/", "Exports préparés", "Exportaciones preparadas", "Prepared exports"),
    ("/signups/attention/", "Corriger ou écarter", "Corregir o descartar", "Fix or discard"),
    ("/settings/", "Données d'un client", "Los datos de un cliente", "A shopper's data"),
    (
        "/settings/notifications/",
        "Récapitulatif hebdomadaire",
        "Resumen semanal",
        "Weekly digest",
    ),
    ("/audit/", "Journal d'audit", "Registro de auditoría", "Audit log"),
]


@pytest.mark.parametrize("page", PAGES, ids=[page[0] for page in PAGES])
def test_each_main_page_is_in_french_and_in_spanish(
    owner_client: Client, shop: Kiosk, page: tuple[str, str, str, str]
) -> None:
    path, french, spanish, english = page
    in_french = page_in(owner_client, path, "fr")
    assert french.lower() in in_french.lower()
    assert english not in in_french
    in_spanish = page_in(owner_client, path, "es")
    assert spanish.lower() in in_spanish.lower()
    assert english not in in_spanish
    # English stays the default for a browser that asks for none of the three.
    assert english in page_in(owner_client, path, "de")


#: The form builder and the gallery: a phrase in French, in Spanish, and the English it replaces.
BUILDER_PHRASES = [
    ("Enregistrer le brouillon", "Guardar borrador", "Save draft"),
    ("Langues proposées par la tablette", "Idiomas que ofrece la tableta", "Languages the tablet"),
    ("Versions publiées", "Versiones publicadas", "Published versions"),
    ("Dupliquer ce formulaire", "Duplicar este formulario", "Duplicate this form"),
]
GALLERY_PHRASES = [
    ("Inscription à la newsletter", "Registro al boletín", "Newsletter sign-up"),
    ("Créer le formulaire", "Crear el formulario", "Create form"),
]


def test_the_form_builder_is_in_french_and_in_spanish(owner_client: Client, shop: Kiosk) -> None:
    path = f"/forms/{shop.form.pk}/"
    in_french = page_in(owner_client, path, "fr")
    in_spanish = page_in(owner_client, path, "es")
    for french, spanish, english in BUILDER_PHRASES:
        assert french in in_french
        assert spanish in in_spanish
        assert english not in in_french
        assert english not in in_spanish
    assert "Save draft" in page_in(owner_client, path, "de")


def test_the_builder_names_field_types_in_the_reader_s_language(
    owner_client: Client, shop: Kiosk
) -> None:
    path = f"/forms/{shop.form.pk}/"
    in_french = page_in(owner_client, path, "fr")
    # The "Add a field" choice lists every type; each card says which type its field is.
    assert '<option value="checkbox">Case à cocher oui/non</option>' in in_french
    assert '<option value="single_choice">Choix unique</option>' in in_french
    assert '<span class="card-type">Adresse e-mail</span>' in in_french
    assert "Yes/no checkbox" not in in_french
    in_spanish = page_in(owner_client, path, "es")
    assert '<option value="checkbox">Casilla sí/no</option>' in in_spanish
    assert '<span class="card-type">Opción múltiple</span>' in in_spanish
    assert "Multiple choice" not in in_spanish
    # The map is read per request, not frozen in the language active at import.
    with translation.override("fr"):
        assert str(TYPE_NAMES["short_text"]) == "Texte court"
    with translation.override("en"):
        assert str(TYPE_NAMES["short_text"]) == "Short text"


def test_the_new_form_gallery_is_in_french_and_in_spanish(owner_client: Client) -> None:
    in_french = page_in(owner_client, "/forms/new/", "fr")
    in_spanish = page_in(owner_client, "/forms/new/", "es")
    for french, spanish, english in GALLERY_PHRASES:
        assert french in in_french
        assert spanish in in_spanish
        assert english not in in_french
        assert english not in in_spanish
    # A template's fields are named in the reader's language too.
    assert "Prénom" in in_french
    assert "Nombre" in in_spanish


def test_a_sign_up_s_page_and_its_consent_evidence_are_translated(
    owner_client: Client, alice_tenant: Tenant, shop: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        ann = submission_create(shop.device, "ann2@example.com", sms=True)
    french = page_in(owner_client, f"/signups/{ann.pk}/", "fr")
    assert "Où et quand" in french
    assert "Marketing par SMS : accordé" in french
    assert "Where and when" not in french
    spanish = page_in(owner_client, f"/signups/{ann.pk}/", "es")
    assert "Dónde y cuándo" in spanish
    assert "Marketing por SMS: dado" in spanish


def test_french_plurals_take_the_singular_for_none_and_one(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        kiosk = kiosk_create()
    # The owner's count line goes on to the CSV ("; the CSV has the same filter").
    assert "0 inscription ;" in page_in(owner_client, "/signups/", "fr")  # French: 0 is singular
    assert "0 registros;" in page_in(owner_client, "/signups/", "es")
    with tenant_context(alice_tenant):
        submission_create(kiosk.device, "one@example.com")
    assert "1 inscription ;" in page_in(owner_client, "/signups/", "fr")
    with tenant_context(alice_tenant):
        submission_create(kiosk.device, "two@example.com")
    assert "2 inscriptions ;" in page_in(owner_client, "/signups/", "fr")
    assert "2 registros;" in page_in(owner_client, "/signups/", "es")


def test_dates_on_the_sign_ups_list_are_written_the_french_way(
    owner_client: Client, shop: Kiosk
) -> None:
    # Received 09:05 UTC on 14 March 2025, shown in the store's time (Paris, UTC+1 then).
    assert "14/03/2025 10:05 CET" in page_in(owner_client, "/signups/", "fr")
    assert "2025-03-14 10:05 CET" in page_in(owner_client, "/signups/", "en")


def test_the_dashboard_chart_s_day_labels_follow_the_language(
    owner_client: Client, shop: Kiosk
) -> None:
    french = page_in(owner_client, "/?days=90", "fr")
    english = page_in(owner_client, "/?days=90", "en")
    # The table of days names weekdays and months in the reader's language.
    assert any(day in french for day in ("lun ", "mar ", "mer ", "jeu ", "ven ", "sam ", "dim "))
    assert not any(day in french for day in (">Mon ", ">Tue ", ">Wed ", ">Thu ", ">Fri "))
    assert any(day in english for day in (">Mon ", ">Tue ", ">Wed ", ">Thu ", ">Fri "))


def test_status_words_and_choices_are_translated_where_they_are_read() -> None:
    with translation.override("fr"):
        assert str(CRM_STATUS_WORDS["failing"]) == "Échecs"
    with translation.override("es"):
        assert str(CRM_STATUS_WORDS["ok"]) == "Al día"


def test_another_retailer_sees_nothing_of_alice_s_pages_in_any_language(
    shop: Kiosk, charlie_client: Client, charlie_tenant: Tenant, charlie: User
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    for language in ("fr", "es"):
        listing = page_in(charlie_client, "/signups/", language)
        assert "ann@example.com" not in listing
        assert "bea@example.com" not in listing
        attention = page_in(charlie_client, "/signups/attention/", language)
        assert "bea@example.com" not in attention
        assert "Store main" not in page_in(charlie_client, "/", language)


def test_another_retailer_sees_none_of_alice_s_forms_in_any_language(
    alice_tenant: Tenant,
    owner_client: Client,
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
) -> None:
    with tenant_context(alice_tenant):
        winter = form_create("Winter offers form")
    assert "Winter offers form" in page_in(owner_client, f"/forms/{winter.pk}/", "fr")
    login(charlie_client, charlie_tenant, charlie)
    for language in ("fr", "es"):
        assert "Winter offers form" not in page_in(charlie_client, "/forms/", language)
        builder = charlie_client.get(f"/forms/{winter.pk}/", headers={"Accept-Language": language})
        assert "Winter offers form" not in builder.content.decode()
