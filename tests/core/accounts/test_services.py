"""Team services: add members, change roles, deactivate; a team always keeps an active owner."""

import pytest

from customerinfo.core.accounts import selectors, services
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct-horse-battery-9"


@pytest.mark.usefixtures("in_alice")
def test_member_create_audits_and_normalises(alice: User) -> None:
    member = services.member_create(
        actor=alice,
        email=" Dana@Example.COM ",
        full_name=" Dana ",
        role=Role.MANAGER,
        password=GOOD_PASSWORD,
    )
    assert (member.email, member.full_name, member.role) == (
        "dana@example.com",
        "Dana",
        Role.MANAGER,
    )
    assert member.check_password(GOOD_PASSWORD)
    entry = AuditEntry.objects.get(action="member.create")
    assert entry.actor == alice
    assert entry.new == {"email": "dana@example.com", "role": "manager", "is_active": True}
    assert selectors.member_count_active() == 2
    assert [m.email for m in selectors.members_list()] == ["alice@alice.example", member.email]


@pytest.mark.usefixtures("in_alice")
def test_member_create_refuses_mistakes(alice: User) -> None:
    with pytest.raises(ServiceError) as error:
        services.member_create(
            actor=alice, email="not-an-email", full_name="", role="king", password="123"
        )
    assert set(error.value.fields) == {"email", "role", "password"}
    with pytest.raises(ServiceError) as error:
        services.member_create(
            actor=alice,
            email="ALICE@alice.example",
            full_name="",
            role=Role.STAFF,
            password=GOOD_PASSWORD,
        )
    assert error.value.code == "duplicate"
    assert not AuditEntry.objects.exists()


@pytest.mark.usefixtures("in_alice")
def test_role_change(alice: User, bob: User) -> None:
    services.member_role_change(actor=alice, member=bob, role=Role.STAFF)
    assert User.objects.get(pk=bob.pk).role == Role.STAFF
    entry = AuditEntry.objects.get(action="member.role")
    assert (entry.old, entry.new) == (
        {"role": "manager", "is_active": True},
        {"role": "staff", "is_active": True},
    )
    services.member_role_change(actor=alice, member=bob, role=Role.STAFF)  # no change
    assert AuditEntry.objects.filter(action="member.role").count() == 1
    with pytest.raises(ServiceError):
        services.member_role_change(actor=alice, member=bob, role="king")


@pytest.mark.usefixtures("in_alice")
def test_the_last_owner_cannot_be_demoted_or_deactivated(alice: User, bob: User) -> None:
    with pytest.raises(ServiceError) as error:
        services.member_role_change(actor=bob, member=alice, role=Role.MANAGER)
    assert error.value.code == "last_owner"
    with pytest.raises(ServiceError) as error:
        services.member_deactivate(actor=bob, member=alice)
    assert error.value.code == "last_owner"
    assert selectors.owner_count_active() == 1
    services.member_role_change(actor=alice, member=bob, role=Role.OWNER)
    services.member_deactivate(actor=bob, member=alice)
    assert not User.objects.get(pk=alice.pk).is_active
    assert selectors.owner_count_active() == 1


@pytest.mark.usefixtures("in_alice")
def test_deactivate_and_activate(alice: User, bob: User) -> None:
    with pytest.raises(ServiceError) as error:
        services.member_deactivate(actor=alice, member=alice)
    assert error.value.code == "self_deactivate"
    services.member_deactivate(actor=alice, member=bob)
    services.member_deactivate(actor=alice, member=bob)  # already: nothing more happens
    assert AuditEntry.objects.filter(action="member.deactivate").count() == 1
    assert selectors.member_count_active() == 1
    services.member_activate(actor=alice, member=bob)
    services.member_activate(actor=alice, member=bob)
    assert AuditEntry.objects.filter(action="member.activate").count() == 1
    assert User.objects.get(pk=bob.pk).is_active
