"""The portal's language: the header's chooser, remembered by a cookie signed out and on the
account signed in; pages in French; the kiosk API left out of it all."""

from datetime import date

import pytest
from django.conf import settings
from django.core.mail import EmailMessage
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from signup.templatetags.portal_format import grouped
from tenants.models import Tenant
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def saved_language(tenant: Tenant, user: User) -> str:
    with tenant_context(tenant):
        return User.objects.get(pk=user.pk).language


def choose(client: Client, language: str, next_page: str = "/login/") -> str:
    response = client.post("/language/", {"language": language, "next": next_page})
    assert response.status_code == 302
    return str(response["Location"])


def test_signed_out_the_choice_is_a_cookie_and_the_sign_in_page_follows_it(
    alice_client: Client,
) -> None:
    assert choose(alice_client, "fr") == "/login/"
    assert alice_client.cookies[COOKIE].value == "fr"
    assert alice_client.cookies[COOKIE]["max-age"] == settings.LANGUAGE_COOKIE_AGE
    page = alice_client.get("/login/")
    html = page.content.decode()
    assert '<html lang="fr">' in html
    assert page["Content-Language"] == "fr"
    assert "Se connecter" in html
    assert "Mot de passe" in html
    # The chooser marks the language in use, each named in its own language.
    assert 'value="fr" lang="fr" aria-current="true">Français</button>' in html
    assert 'value="en" lang="en">English</button>' in html, "not Anglais"
    assert 'value="es" lang="es">Español</button>' in html


def test_the_browser_language_is_used_until_one_is_chosen(alice_client: Client) -> None:
    spanish = alice_client.get("/login/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in spanish.content.decode()
    choose(alice_client, "fr")
    french = alice_client.get("/login/", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="fr">' in french.content.decode()


def test_signed_in_the_account_keeps_it_across_browsers_and_signing_in_again(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    choose(owner_client, "es", "/password/")
    assert saved_language(alice_tenant, alice) == "es"
    assert "Cambiar la contraseña" in owner_client.get("/password/").content.decode()
    owner_client.post("/logout/")

    # Another browser, with another language of its own: the account's wins once signed in.
    elsewhere = Client(HTTP_HOST=str(alice_tenant.get_primary_domain()))
    elsewhere.cookies[COOKIE] = "fr"
    signed_in = elsewhere.post("/login/", {"username": alice.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    page = elsewhere.get("/password/")
    assert '<html lang="es">' in page.content.decode()


def test_the_choice_is_confirmed_in_the_new_language(owner_client: Client) -> None:
    page = owner_client.post(
        "/language/", {"language": "fr", "next": "/password/"}, follow=True
    ).content.decode()
    assert "Le portail est maintenant en français." in page


def test_an_unknown_language_is_refused_with_a_message(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    response = owner_client.post(
        "/language/", {"language": "xx", "next": "/password/"}, follow=True
    )
    assert response.redirect_chain == [("/password/", 302)]
    assert "That language is not offered." in response.content.decode()
    assert COOKIE not in owner_client.cookies
    assert saved_language(alice_tenant, alice) == ""


@pytest.mark.parametrize("next_page", ["https://evil.example/", "//evil.example/x", ""])
def test_it_only_goes_back_to_a_page_of_this_host(alice_client: Client, next_page: str) -> None:
    assert choose(alice_client, "fr", next_page) == "/"


def test_a_get_changes_nothing(alice_client: Client) -> None:
    assert alice_client.get("/language/?language=fr").status_code == 405
    assert COOKIE not in alice_client.cookies


def test_the_public_site_has_the_chooser_too(public_client: Client) -> None:
    choose(public_client, "es", "/")
    assert public_client.cookies[COOKIE].value == "es"
    assert '<html lang="es">' in public_client.get("/").content.decode()


def test_another_shops_owner_cannot_change_alices_language(
    alice_tenant: Tenant,
    alice: User,
    charlie_tenant: Tenant,
    charlie: User,
    charlie_client: Client,
) -> None:
    """charlie's session is his shop's: on alice's host he is nobody, so the chooser can only
    set his own browser's cookie, whatever he posts."""
    login(charlie_client, charlie_tenant, charlie)
    alice_host = str(alice_tenant.get_primary_domain())
    for extra in ({}, {"user": str(alice.pk)}, {"email": alice.email}):
        response = charlie_client.post(
            "/language/", {"language": "fr", "next": "/", **extra}, HTTP_HOST=alice_host
        )
        assert response.status_code == 302
    assert saved_language(alice_tenant, alice) == ""
    assert saved_language(charlie_tenant, charlie) == ""
    # Nor is he anyone on her host afterwards.
    assert charlie_client.get("/password/", HTTP_HOST=alice_host).status_code == 302


def test_the_kiosk_api_is_left_out(alice_client: Client) -> None:
    """No language is worked out for a tablet's request, and none is left over from the portal
    request before it in the same thread."""
    alice_client.cookies[COOKIE] = "fr"
    alice_client.get("/login/")
    assert translation.get_language() == settings.LANGUAGE_CODE
    response = alice_client.post(
        "/api/kiosk/pair",
        {},
        content_type="application/json",
        headers={"Accept-Language": "fr"},
    )
    assert response.status_code == 400
    assert "Content-Language" not in response
    assert "Accept-Language" not in response.get("Vary", "")
    assert "required" in response.content.decode()


@pytest.mark.parametrize(
    ("language", "count", "day"),
    [
        ("en", "4,001", "2026-03-09"),
        ("fr", "4\xa0001", "09/03/2026"),
        ("es", "4.001", "09/03/2026"),
    ],
)
def test_numbers_and_dates_follow_the_language(language: str, count: str, day: str) -> None:
    with translation.override(language):
        assert grouped(4001) == count
        assert date_format(date(2026, 3, 9), "SHORT_DATE_FORMAT") == day


def test_a_french_owner_reads_the_team_page_in_french(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    choose(owner_client, "fr", "/team/")
    html = owner_client.get("/team/").content.decode()
    assert "Inviter quelqu\u2019un" in html
    assert "Propriétaire" in html  # the role labels too


def test_the_forbidden_page_speaks_the_readers_language(
    manager_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    choose(manager_client, "es", "/team/")
    page = manager_client.get("/team/")
    assert page.status_code == 403
    html = page.content.decode()
    assert "Tu rol (Responsable) no permite gestionar el equipo." in html
    assert "Está reservado a: Propietario." in html


def test_the_reset_email_is_in_the_recipients_language(
    alice_client: Client, alice_tenant: Tenant, alice: User, mailoutbox: list[EmailMessage]
) -> None:
    with tenant_context(alice_tenant):
        User.objects.filter(pk=alice.pk).update(language="es")
    # Asked for from a French browser: the mail is read by alice, in her Spanish.
    alice_client.cookies[COOKIE] = "fr"
    alice_client.post("/password/reset/", {"email": alice.email})
    (mail,) = mailoutbox
    assert mail.subject.startswith("Establecer una contraseña nueva")
    assert "Alguien ha pedido establecer una contraseña nueva" in str(mail.body)
    assert "Réinitialiser" in alice_client.get("/password/reset/").content.decode()


def test_an_invitation_goes_out_in_the_inviters_language_until_the_invitee_has_one(
    owner_client: Client, mailoutbox: list[EmailMessage]
) -> None:
    choose(owner_client, "fr", "/team/")
    owner_client.post("/team/", {"email": "dan@alice.example", "full_name": "", "role": "staff"})
    (mail,) = mailoutbox
    assert "vous invite chez" in mail.subject
    assert "Choisissez votre mot de passe ici" in str(mail.body)
    assert "Personnel du magasin" in str(mail.body)
