"""What crm_sync's services and providers refuse, said on the portal's pages in the reader's
language: URL and configuration errors, the field mapping's, the replay throttle, the kind's
label; their codes stay the same in every language."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from crm_sync.endpoints import UrlError, url_normalise
from crm_sync.models import Destination
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .factories import webhook_data

pytestmark = pytest.mark.django_db


def _in(client: Client, language: str) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def test_a_bad_destination_is_explained_in_french(owner: Client, alice_tenant: Tenant) -> None:
    response = _in(owner, "fr").post(
        "/crm/new/webhook/",
        webhook_data("ftp://example.com", secret="not-a-secret", field_mapping="drink\r\nnope = x"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Indiquez une URL en http:// ou https://." in page
    assert "Ligne 1 : écrivez-la sous la forme" in page
    assert "Ligne 2 : « nope » n\u2019est un champ d\u2019aucun de vos formulaires." in page
    for english in ("Give an http:// or https:// URL.", "whsec_ secret of", "Line 1:"):
        assert english not in page
    response = owner.post(
        "/crm/new/webhook/", webhook_data("https://example.com", secret="not-a-secret")
    )
    assert response.status_code == 400
    assert "Un secret whsec_ de 24 à 64 octets aléatoires" in response.content.decode()
    with tenant_context(alice_tenant):
        assert not Destination.objects.filter(name="Shop hook").exists()


def test_the_replay_throttle_and_the_kind_speak_spanish(
    owner: Client, kiosk: Kiosk, destination: Destination
) -> None:
    _in(owner, "es")
    assert owner.post(f"/crm/{destination.pk}/replay/", {}).status_code == 302
    response = owner.post(f"/crm/{destination.pk}/replay/", {})
    assert response.status_code == 429
    page = response.content.decode()
    assert "Un reenvío a este destino empezó hace menos de 30 s; espera un momento." in page
    assert "Webhook (Standard Webhooks)" in owner.get("/crm/").content.decode()


def test_a_url_error_keeps_its_code_in_every_language() -> None:
    for language, message in [
        ("en", "The URL has no host name."),
        ("fr", "L\u2019URL n\u2019a pas de nom d\u2019hôte."),
        ("es", "La URL no tiene nombre de host."),
    ]:
        with translation.override(language), pytest.raises(UrlError) as error:
            url_normalise("https://:443/hook")
        assert (error.value.code, error.value.message) == ("invalid_host", message)
