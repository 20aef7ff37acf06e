"""Team services: change roles, deactivate; a team always keeps an active owner. (Adding a
member is an invitation: test_invitations.py.)"""

import pytest

from customerinfo.core.accounts import selectors, services
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry

pytestmark = pytest.mark.django_db


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
