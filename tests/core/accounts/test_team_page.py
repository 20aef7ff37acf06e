"""The team page: the owner invites, re-sends, revokes, changes roles, deactivates, unlocks;
never the last owner; charlie sees nothing of alice's team."""

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts import services
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import login

from .support import link_in_last_mail, sign_in, text_of

pytestmark = pytest.mark.django_db


def _member(tenant: Tenant, email: str) -> User:
    with tenant_context(tenant):
        return User.objects.get(email=email)


def test_team_lists_members_and_roles(owner_client: Client, bob: User) -> None:
    page = owner_client.get("/team/").content.decode()
    assert "alice@alice.example (you)" in page
    assert "bob@alice.example" in page
    assert '<option value="manager" selected>' in page
    assert 'name="password"' not in page  # nobody types a teammate's password any more


def test_owner_invites_by_email(owner_client: Client, alice_tenant: Tenant) -> None:
    response = owner_client.post(
        "/team/", {"email": "Dana@Alice.example", "full_name": "Dana", "role": "staff"}, follow=True
    )
    assert "Invitation sent to dana@alice.example" in text_of(response)
    dana = _member(alice_tenant, "dana@alice.example")
    assert (dana.role, dana.invitation_pending) == (Role.STAFF, True)
    # The link is on the host the owner used: the shop's own.
    assert link_in_last_mail(r"(http://alice\.localhost/password/invitation/\S+/)")
    row = text_of(owner_client.get("/team/")).split("dana@alice.example", 1)[1]
    assert "Change role of dana@alice.example Invited" in row
    assert "by alice@alice.example" in row
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.filter(action="member.invite").count() == 1


def test_inviting_shows_mistakes(owner_client: Client, alice_tenant: Tenant, bob: User) -> None:
    response = owner_client.post("/team/", {"email": "bob@alice.example", "role": "staff"})
    assert response.status_code == 400
    assert "Already on the team." in text_of(response)
    response = owner_client.post("/team/", {"email": "nope", "role": "staff"})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert mail.outbox == []


def test_resend_and_revoke_from_the_list(owner_client: Client, alice_tenant: Tenant) -> None:
    owner_client.post("/team/", {"email": "dana@alice.example", "role": "staff"})
    first = link_in_last_mail()
    dana = _member(alice_tenant, "dana@alice.example")
    page = owner_client.get("/team/").content.decode()
    assert 'value="resend"' in page
    assert 'value="revoke"' in page
    response = owner_client.post(f"/team/{dana.pk}/", {"action": "resend"}, follow=True)
    assert "A new invitation is on its way to dana@alice.example" in text_of(response)
    assert len(mail.outbox) == 2
    response = owner_client.post(f"/team/{dana.pk}/", {"action": "revoke"}, follow=True)
    assert "The invitation of dana@alice.example is withdrawn" in text_of(response)
    invitee = Client(HTTP_HOST="alice.localhost")
    assert invitee.get(first, follow=True).status_code == 400
    with tenant_context(alice_tenant):
        assert not User.objects.filter(email="dana@alice.example").exists()
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"member.invite", "member.invite_resend", "member.invite_revoke"} <= actions


def test_a_joined_member_cannot_be_revoked(owner_client: Client, bob: User) -> None:
    response = owner_client.post(f"/team/{bob.pk}/", {"action": "revoke"}, follow=True)
    assert "bob@alice.example has already joined the team" in text_of(response)


def test_role_change_and_deactivation(
    owner_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    response = owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "staff"})
    assert response.status_code == 302
    assert _member(alice_tenant, bob.email).role == Role.STAFF
    owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "king"})
    assert _member(alice_tenant, bob.email).role == Role.STAFF
    bob_browser = Client(HTTP_HOST=owner_client.defaults["HTTP_HOST"])
    login(bob_browser, alice_tenant, bob)
    assert bob_browser.get("/").status_code == 200
    owner_client.post(f"/team/{bob.pk}/", {"action": "deactivate"})
    assert not _member(alice_tenant, bob.email).is_active
    assert bob_browser.get("/").status_code == 302  # signed out for good
    page = owner_client.get("/team/").content.decode()
    assert "Deactivated" in page
    assert "Reactivate" in page
    owner_client.post(f"/team/{bob.pk}/", {"action": "activate"})
    assert _member(alice_tenant, bob.email).is_active
    with tenant_context(alice_tenant):
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"member.role", "member.deactivate", "member.activate"} <= actions


def test_the_last_owner_stays(owner_client: Client, alice_tenant: Tenant, alice: User) -> None:
    response = owner_client.post(
        f"/team/{alice.pk}/", {"action": "role", "role": "manager"}, follow=True
    )
    assert b"at least one active owner" in response.content
    assert _member(alice_tenant, alice.email).role == Role.OWNER
    response = owner_client.post(f"/team/{alice.pk}/", {"action": "deactivate"}, follow=True)
    assert b"cannot deactivate your own account" in response.content
    assert _member(alice_tenant, alice.email).is_active


def test_an_owner_can_hand_over(owner_client: Client, alice_tenant: Tenant, bob: User) -> None:
    owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "owner"})
    alice = _member(alice_tenant, "alice@alice.example")
    owner_client.post(f"/team/{alice.pk}/", {"action": "role", "role": "manager"})
    assert _member(alice_tenant, alice.email).role == Role.MANAGER
    assert owner_client.get("/team/").status_code == 403  # alice is a manager now


def test_an_owner_sees_and_lifts_a_lockout(
    owner_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    for _ in range(5):
        sign_in(Client(HTTP_HOST="alice.localhost"), bob.email, "wrong")
    bob_row = text_of(owner_client.get("/team/")).split("bob@alice.example Bob", 1)[1]
    assert "Locked out after too many wrong passwords" in bob_row
    response = owner_client.post(f"/team/{bob.pk}/", {"action": "unlock"}, follow=True)
    assert "bob@alice.example can try to sign in again now" in text_of(response)
    assert "Locked out" not in text_of(response)
    signed_in = sign_in(Client(HTTP_HOST="alice.localhost"), bob.email, "a-long-test-password")
    assert signed_in.status_code == 302
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="member.unlock")
    assert entry.new == {"locked_until": None}


def test_the_team_page_shows_who_uses_two_step_sign_in(
    owner_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    with tenant_context(alice_tenant):
        device = services.two_factor_setup_device(user=bob)
        device.confirmed = True
        device.save()
    page = text_of(owner_client.get("/team/"))
    bob_row = page.split("bob@alice.example", 1)[1]
    assert "Active On" in bob_row
    alice_row = page.split("alice@alice.example (you)", 1)[1]
    assert "Active Off" in alice_row


def test_staff_and_managers_cannot_manage_the_team(manager_client: Client, alice: User) -> None:
    assert manager_client.get("/team/").status_code == 403
    response = manager_client.post(f"/team/{alice.pk}/", {"action": "deactivate"})
    assert response.status_code == 403


def test_charlie_sees_nothing_of_alices_team(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, bob: User, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        services.member_invite(
            actor=None,  # type: ignore[arg-type]
            email="dana@alice.example",
            full_name="",
            role="staff",
            site_url="http://alice.localhost",
        )
    login(charlie_client, charlie_tenant, charlie)
    page = charlie_client.get("/team/").content.decode()
    assert "charlie@charlie.example" in page
    assert "alice.example" not in page
    # Alice's members' ids name nobody on charlie's team (or charlie's own people only).
    dana = _member(alice_tenant, "dana@alice.example")
    for pk in {bob.pk, dana.pk} - {charlie.pk}:
        assert charlie_client.post(f"/team/{pk}/", {"action": "revoke"}).status_code == 404
    assert _member(alice_tenant, "dana@alice.example").invitation_pending
    # Charlie's session means nothing on alice's host.
    on_alices = Client(HTTP_HOST="alice.localhost")
    on_alices.cookies = charlie_client.cookies
    assert on_alices.get("/team/").status_code == 302
