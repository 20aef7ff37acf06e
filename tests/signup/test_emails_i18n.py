"""The retailer emails in each recipient's own language: alerts, the digest, the export-ready
mail, crm_sync's paused-CRM alert to owners and billing's address-change mail. Two members of
one shop get the same news each in theirs, whatever language the check runs in."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from billing.models import TrialSignup
from billing.services.addresses import address_change_tell
from crm_sync.models import Destination
from crm_sync.services import destination_pause
from customerinfo.core.accounts.models import User
from signup import tasks
from signup.models import Device, Export, ExportStatus, NotificationPreference, SignupDay
from signup.services import digests, exports
from tenants.models import Tenant
from tests.signup.factories import device_create, location_create

pytestmark = pytest.mark.django_db

#: A Monday morning in Paris; last week is Monday 10 to Sunday 16 November 2025.
MONDAY = datetime(2025, 11, 17, 7, 30, tzinfo=UTC)


def _speaks(tenant: Tenant, user: User, language: str) -> None:
    with tenant_context(tenant):
        User.objects.filter(pk=user.pk).update(language=language)


def _to(address: str) -> Any:
    [message] = [message for message in mail.outbox if address in message.to]
    return message


def _silent_till(tenant: Tenant) -> None:
    now = timezone.now()
    with tenant_context(tenant):
        device, _ = device_create(location_create())
        Device.objects.filter(pk=device.pk).update(
            queue_depth=3,
            oldest_unsent_at=now - timedelta(hours=2),
            last_seen_at=now - timedelta(hours=1),
            queue_reported_at=now - timedelta(hours=1),
        )


def test_an_alert_reaches_each_member_in_their_language(
    alice_tenant: Tenant, alice: User, bob: User
) -> None:
    _speaks(alice_tenant, alice, "fr")
    _speaks(alice_tenant, bob, "en")
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=bob, tablet_offline=True)
    _silent_till(alice_tenant)
    # The check runs in Spanish: neither member's language, so neither mail may follow it.
    with translation.override("es"):
        assert tasks.alerts_check_task(schema_name=alice_tenant.schema_name) == 1

    french = _to("alice@alice.example")
    assert french.subject == (
        "Alice's Shop : la tablette Till 1 (Paris Rivoli) est hors ligne avec des inscriptions "
        "non envoyées"
    )
    assert "3 inscriptions non envoyées, la plus ancienne depuis 2 h" in french.body
    assert "Vous recevez cet e-mail parce que vous l\u2019avez choisi." in french.body
    assert "sign-ups" not in french.body

    english = _to("bob@alice.example")
    assert (
        english.subject
        == "Alice's Shop: tablet Till 1 (Paris Rivoli) is offline with sign-ups unsent"
    )
    assert "3 sign-ups unsent, the oldest for 2 h" in english.body
    assert "inscriptions" not in english.body


@pytest.fixture
def week(alice_tenant: Tenant) -> None:
    """Paris: 1,200 sign-ups last week; a tablet in Lyon holding two."""
    with tenant_context(alice_tenant):
        paris = location_create()
        lyon = location_create(code="lyon", name="Lyon")
        for offset in range(2):
            SignupDay.objects.create(
                location_id=paris.pk,
                day=date(2025, 11, 10) + timedelta(days=offset),
                signups=600,
                email_opt_ins=450,
                sms_opt_ins=150,
            )
        device, _ = device_create(lyon, "Back till")
        Device.objects.filter(pk=device.pk).update(queue_depth=2)


def test_the_digest_reaches_each_member_in_their_language(
    alice_tenant: Tenant, alice: User, bob: User, week: None
) -> None:
    _speaks(alice_tenant, alice, "fr")
    _speaks(alice_tenant, bob, "es")
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=bob, weekly_digest=True)
        assert digests.digests_send(now=MONDAY) == 2

    french = _to("alice@alice.example")
    assert french.subject == "Alice's Shop : votre semaine du 10 novembre au 16 novembre"
    assert "votre semaine du 10 novembre au 16 novembre 2025" in french.body
    assert "- Tous les magasins: 1\xa0200 / 0 / 75 % / 25 %" in french.body
    assert "Back till (Lyon) : hors ligne, 2 non envoyées" in french.body
    assert "INSCRIPTIONS PAR MAGASIN" in french.body
    assert isinstance(french, EmailMultiAlternatives)
    [(html, _kind)] = french.alternatives
    assert isinstance(html, str)
    assert '<html lang="fr">' in html
    assert '<th scope="row">Paris Rivoli</th><td>1\xa0200</td>' in html

    # Spanish dates say "de", and the same digest's words are Spanish for bob.
    spanish = _to("bob@alice.example")
    assert spanish.subject == "Alice's Shop: tu semana del 10 de noviembre al 16 de noviembre"
    assert "del 10 de noviembre al 16 de noviembre de 2025" in spanish.body
    assert "Back till (Lyon): sin conexión, 2 sin enviar" in spanish.body
    assert "REGISTROS POR TIENDA" in spanish.body
    assert "- Todas las tiendas: 1.200 / 0 / 75 % / 25 %" in spanish.body


def test_the_digest_in_english_stays_english(alice_tenant: Tenant, alice: User, week: None) -> None:
    _speaks(alice_tenant, alice, "en")
    with tenant_context(alice_tenant), translation.override("fr"):
        assert digests.digests_send(now=MONDAY) == 1
    [digest] = mail.outbox
    assert digest.subject == "Alice's Shop: your week of 10 November to 16 November"
    assert "your week of 10 November to 16 November 2025" in digest.body
    assert "Back till (Lyon): offline, 2 unsent" in digest.body
    assert "- All stores: 1,200 / 0" in digest.body


def test_the_export_ready_mail_is_in_the_requesters_language(
    alice_tenant: Tenant, alice: User
) -> None:
    _speaks(alice_tenant, alice, "es")
    expires = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    with tenant_context(alice_tenant):
        export = Export.objects.create(
            requested_by=User.objects.get(pk=alice.pk),
            filters={},
            portal_origin="https://alice.example",
            status=ExportStatus.DONE,
            row_count=4001,
            expires_at=expires,
        )
        exports._mail_ready(export)
    [message] = mail.outbox
    assert message.subject == "CustomerInfo: tu exportación de registros está lista"
    assert "Tu exportación de 4001 registros está lista." in message.body
    assert "El enlace funciona hasta el 24/11/2026 09:05 UTC" in message.body
    assert f"https://alice.example/signups/exports/{export.pk}/" in message.body


def test_the_paused_crm_alert_reaches_each_owner_in_their_language(
    alice_tenant: Tenant, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    _speaks(alice_tenant, alice, "fr")
    with tenant_context(alice_tenant):
        destination = Destination.objects.create(name="Mon Hook", kind="webhook")
        with django_capture_on_commit_callbacks(execute=True):
            destination_pause(destination=destination, reason="401: bad signature")
    [message] = mail.outbox
    assert message.to == ["alice@alice.example"]
    assert message.subject == "CustomerInfo : les inscriptions vers Mon Hook sont en attente"
    assert "ne peuvent plus être envoyées à Mon Hook (Webhook (Standard Webhooks))" in message.body
    assert "Réponse du CRM : 401: bad signature" in message.body


def test_the_address_change_mail_follows_the_language_of_the_return_from_checkout() -> None:
    signup = TrialSignup(
        shop_name="Panadería",
        slug="panaderia-2",
        requested_slug="panaderia",
        owner_email="owner@panaderia.example",
    )
    with translation.override("es"):
        address_change_tell(signup=signup)
    [message] = [m for m in mail.outbox if m.to == ["owner@panaderia.example"]]
    assert message.subject == "Tu tienda CustomerInfo está en panaderia-2.localhost"
    assert "La dirección que elegiste, panaderia.localhost, la tomó otra persona" in message.body
