"""The CRM pages in French and Spanish: crm_sync's catalogue, counts with their plurals, and
the outbox's statuses in the reader's words."""

import pytest
from django.conf import settings
from django.test import Client

from crm_sync.models import Destination

pytestmark = pytest.mark.django_db


def _page(client: Client, path: str, language: str) -> str:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    return html


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("fr", ["Tester la connexion", "Disjoncteur", "Renvoyer les inscriptions abandonnées"]),
        ("es", ["Probar la conexión", "Disyuntor", "Reenviar los registros fallidos"]),
    ],
)
def test_a_destination_page_speaks_the_readers_language(
    owner: Client, destination: Destination, language: str, said: list[str]
) -> None:
    html = _page(owner, f"/crm/{destination.pk}/", language)
    for words in said:
        assert words in html
    for english in ("Test connection", "Circuit breaker", "Send dead and held sign-ups again"):
        assert english not in html
    # The status filter names the outbox's statuses in the reader's words.
    assert (
        "Retenu (destination en pause)" if language == "fr" else "Retenido (destino en pausa)"
    ) in html


def test_the_list_of_destinations_in_french(owner: Client, destination: Destination) -> None:
    html = _page(owner, "/crm/", "fr")
    assert "Destinations CRM" in html
    assert destination.name in html
    assert "Connect a CRM" not in html


def test_held_sign_ups_take_their_plural(owner: Client, destination: Destination) -> None:
    Destination.objects.filter(pk=destination.pk).update(state="paused", paused_reason="401")
    html = _page(owner, f"/crm/{destination.pk}/", "fr")
    assert "Reprendre et renvoyer 0 inscription en attente" in html
    html = _page(owner, f"/crm/{destination.pk}/", "es")
    assert "Reanudar y reenviar 0 registros en espera" in html
