"""Invitation services: a link that works once, for a week, for the latest sending only, in its
own shop; every step audited; nobody types a teammate's password."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts import selectors, services
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry
from tenants.models import Tenant

from .support import link_in_last_mail

pytestmark = pytest.mark.django_db

SITE = "http://alice.localhost:8000"
GOOD_PASSWORD = "correct-horse-battery-9"


def _token_of(link: str) -> tuple[str, str]:
    uidb64, token = link.rstrip("/").split("/")[-2:]
    return uidb64, token


def _invite(alice: User, email: str = "dana@example.com", role: str = Role.MANAGER) -> User:
    return services.member_invite(
        actor=alice, email=email, full_name=" Dana ", role=role, site_url=SITE
    )


@pytest.mark.usefixtures("in_alice")
def test_an_invitation_adds_a_member_who_cannot_sign_in_yet(alice: User) -> None:
    member = _invite(alice, email=" Dana@Example.COM ")
    assert (member.email, member.full_name, member.role) == ("dana@example.com", "Dana", "manager")
    assert member.invitation_pending
    assert member.invited_by == alice
    assert not member.has_usable_password()
    entry = AuditEntry.objects.get(action="member.invite")
    assert entry.actor == alice
    assert entry.new == {"email": "dana@example.com", "role": "manager", "is_active": True}
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"]
    assert message.subject == "alice@alice.example invited you to Alice's Shop on CustomerInfo"
    body = str(message.body)
    assert "as Manager" in body
    assert "works once, for 7 days" in body
    assert f"{SITE}/password/invitation/" in body


@pytest.mark.usefixtures("in_alice")
def test_the_link_works_once(alice: User) -> None:
    member = _invite(alice)
    uidb64, token = _token_of(services.invitation_link(member=member, site_url=SITE))
    assert selectors.invitation_member(uidb64=uidb64, token=token) == member
    services.invitation_accept(member=member, password=GOOD_PASSWORD)
    member.refresh_from_db()
    assert member.check_password(GOOD_PASSWORD)
    assert not member.invitation_pending
    assert selectors.invitation_member(uidb64=uidb64, token=token) is None
    entry = AuditEntry.objects.get(action="member.invite_accept")
    assert entry.actor == member
    assert entry.new == {"invited_at": None}


@pytest.mark.usefixtures("in_alice")
def test_the_link_expires_after_a_week(alice: User) -> None:
    member = _invite(alice)
    uidb64, token = _token_of(services.invitation_link(member=member, site_url=SITE))
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23)):
        assert selectors.invitation_member(uidb64=uidb64, token=token) == member
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        assert selectors.invitation_member(uidb64=uidb64, token=token) is None


@pytest.mark.usefixtures("in_alice")
def test_resending_kills_the_old_link(alice: User) -> None:
    member = _invite(alice)
    old = _token_of(services.invitation_link(member=member, site_url=SITE))
    with time_machine.travel(timezone.now() + timedelta(seconds=2)):
        services.invitation_resend(actor=alice, member=member, site_url=SITE)
        new = _token_of(link_in_last_mail())
        assert selectors.invitation_member(uidb64=old[0], token=old[1]) is None
        assert selectors.invitation_member(uidb64=new[0], token=new[1]) == member
    assert len(mail.outbox) == 2
    assert AuditEntry.objects.filter(action="member.invite_resend").count() == 1


@pytest.mark.usefixtures("in_alice")
def test_revoking_removes_the_invitee_and_the_link(alice: User) -> None:
    member = _invite(alice)
    uidb64, token = _token_of(services.invitation_link(member=member, site_url=SITE))
    services.invitation_revoke(actor=alice, member=member)
    assert not User.objects.filter(email="dana@example.com").exists()
    assert selectors.invitation_member(uidb64=uidb64, token=token) is None
    entry = AuditEntry.objects.get(action="member.invite_revoke")
    assert entry.old == {"email": "dana@example.com", "role": "manager", "is_active": True}
    # The address can be invited again afterwards.
    assert _invite(alice).invitation_pending


@pytest.mark.usefixtures("in_alice")
def test_only_pending_invitations_can_be_resent_or_revoked(alice: User, bob: User) -> None:
    for call in (
        lambda: services.invitation_resend(actor=alice, member=bob, site_url=SITE),
        lambda: services.invitation_revoke(actor=alice, member=bob),
        lambda: services.invitation_accept(member=bob, password=GOOD_PASSWORD),
    ):
        with pytest.raises(ServiceError) as error:
            call()
        assert error.value.code == "not_invited"
    assert User.objects.filter(pk=bob.pk).exists()


@pytest.mark.usefixtures("in_alice")
def test_mistakes_and_duplicates_are_refused(alice: User, bob: User) -> None:
    with pytest.raises(ServiceError) as error:
        services.member_invite(
            actor=alice, email="not-an-email", full_name="", role="king", site_url=SITE
        )
    assert set(error.value.fields) == {"email", "role"}
    with pytest.raises(ServiceError) as error:
        _invite(alice, email="BOB@alice.example")
    assert error.value.fields["email"][0]["message"] == "Already on the team."
    _invite(alice)
    with pytest.raises(ServiceError) as error:
        _invite(alice)
    assert error.value.fields["email"][0]["message"] == "Already invited: use Re-send in the list."
    assert len(mail.outbox) == 1


@pytest.mark.usefixtures("in_alice")
def test_accepting_needs_a_strong_password(alice: User) -> None:
    member = _invite(alice)
    with pytest.raises(ServiceError) as error:
        services.invitation_accept(member=member, password="123")
    assert "password" in error.value.fields
    member.refresh_from_db()
    assert member.invitation_pending


@pytest.mark.usefixtures("in_alice")
def test_an_invited_owner_does_not_count_as_the_teams_owner(alice: User) -> None:
    _invite(alice, email="olga@example.com", role=Role.OWNER)
    with pytest.raises(ServiceError) as error:
        services.member_role_change(actor=alice, member=alice, role=Role.MANAGER)
    assert error.value.code == "last_owner"


def test_a_link_of_alices_shop_means_nothing_in_charlies(
    alice_tenant: Tenant, charlie_tenant: Tenant, alice: User
) -> None:
    with tenant_context(alice_tenant):
        member = _invite(alice)
        uidb64, token = _token_of(services.invitation_link(member=member, site_url=SITE))
    with tenant_context(charlie_tenant):
        # Same id in charlie's schema or not, the token was made for alice's shop.
        User.objects.create_user("x@charlie.example", None, invited_at=timezone.now())
        assert selectors.invitation_member(uidb64=uidb64, token=token) is None


def test_a_mail_server_that_refuses_leaves_the_invitation_to_resend(
    in_alice: Tenant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("customerinfo.core.accounts.services.invitations.send_mail", refuse)
    with pytest.raises(ServiceError) as error:
        _invite(alice)
    assert error.value.code == "mail_failed"
    assert "Re-send" in error.value.message
    assert User.objects.get(email="dana@example.com").invitation_pending
