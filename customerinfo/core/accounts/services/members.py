"""A team's members: change a role, deactivate, reactivate, unlock a locked-out sign-in.

Every change writes an audit entry (who, old, new). A team always keeps one active owner:
without one nobody could manage the team or the retention period again.
"""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from .. import throttling
from ..models import Role, User


def member_state(member: User) -> dict[str, Any]:
    return {"role": member.role, "is_active": member.is_active}


def _check_last_owner(*, member: User) -> None:
    """Refuses a change that would leave the team without an active owner.

    Locks every active owner row first, so two owners demoting each other at the same moment
    cannot both succeed. An owner still invited does not count: they cannot sign in yet.
    """
    owners = list(
        User.objects.select_for_update()
        .filter(is_active=True, role=Role.OWNER, invited_at__isnull=True)
        .values_list("pk", flat=True)
    )
    if owners == [member.pk]:
        raise ServiceError(
            "last_owner",
            _("The team needs at least one active owner; make someone else an owner first."),
            status_code=409,
        )


def role_check(role: str) -> None:
    if role not in Role.values:
        raise ServiceError(
            "validation_failed",
            _("Unknown role."),
            fields={"role": [{"code": "invalid", "message": _("Choose owner, manager or staff.")}]},
        )


def _member_change(
    *, actor: User | None, member: User, action: AuditAction, **changes: Any
) -> User:
    """Applies ``changes`` to the member and audits them, keeping the team's last owner: a
    change that takes away an owner (a new role, deactivation) is checked first."""
    with transaction.atomic():
        if member.role == Role.OWNER and (
            changes.get("role", Role.OWNER) != Role.OWNER or changes.get("is_active") is False
        ):
            _check_last_owner(member=member)
        old = member_state(member)
        for field, value in changes.items():
            setattr(member, field, value)
        member.save(update_fields=list(changes))
        audit_record(actor=actor, action=action, target=member, old=old, new=member_state(member))
    return member


def member_role_change(*, actor: User | None, member: User, role: str) -> User:
    role_check(role)
    if role == member.role:
        return member
    return _member_change(actor=actor, member=member, action=AuditAction.MEMBER_ROLE, role=role)


def member_deactivate(*, actor: User | None, member: User) -> User:
    """Signs the member out for good (their sessions stop working); their history stays."""
    if actor is not None and actor.pk == member.pk:
        raise ServiceError("self_deactivate", _("You cannot deactivate your own account."))
    if not member.is_active:
        return member
    return _member_change(
        actor=actor, member=member, action=AuditAction.MEMBER_DEACTIVATE, is_active=False
    )


def member_activate(*, actor: User | None, member: User) -> User:
    if member.is_active:
        return member
    return _member_change(
        actor=actor, member=member, action=AuditAction.MEMBER_ACTIVATE, is_active=True
    )


def member_unlock(*, actor: User, member: User) -> User:
    """Lets a member who mistyped their password too often try again at once."""
    locked_until = throttling.account_locked_until(member.email)
    if locked_until is None:
        raise ServiceError("not_locked", f"{member.email} is not locked out.", status_code=409)
    with transaction.atomic():
        throttling.account_unlock(member.email)
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_UNLOCK,
            target=member,
            old={"locked_until": locked_until.isoformat()},
            new={"locked_until": None},
        )
    return member
