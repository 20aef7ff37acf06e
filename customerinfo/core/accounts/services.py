"""Writes of a retailer's team: add a member, change a role, deactivate. Keyword-only.

Every change writes an audit entry (who, old, new). A team always keeps one active owner:
without one nobody could manage the team or the retention period again.
"""

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from .models import Role, User


def _state(member: User) -> dict[str, Any]:
    return {"role": member.role, "is_active": member.is_active}


def _check_last_owner(*, member: User) -> None:
    """Refuses a change that would leave the team without an active owner.

    Locks every active owner row first, so two owners demoting each other at the same moment
    cannot both succeed.
    """
    owners = list(
        User.objects.select_for_update()
        .filter(is_active=True, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [member.pk]:
        raise ServiceError(
            "last_owner",
            "The team needs at least one active owner; make someone else an owner first.",
            status_code=409,
        )


def member_create(
    *,
    actor: User | None,
    email: str,
    full_name: str,
    role: str,
    password: str,
) -> User:
    """Adds a team member who signs in with ``password`` (chosen by the owner, to be changed)."""
    email = email.strip().lower()
    fields: dict[str, list[dict[str, str]]] = {}
    try:
        validate_email(email)
    except ValidationError:
        fields["email"] = [{"code": "invalid", "message": "Enter a valid email address."}]
    if role not in Role.values:
        fields["role"] = [{"code": "invalid", "message": "Choose owner, manager or staff."}]
    try:
        validate_password(password, User(email=email, full_name=full_name))
    except ValidationError as error:
        fields["password"] = [{"code": "weak", "message": message} for message in error.messages]
    if fields:
        raise ServiceError("validation_failed", "The member has mistakes.", fields=fields)
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise ServiceError(
                "duplicate",
                "Someone on the team already has this email address.",
                fields={"email": [{"code": "duplicate", "message": "Already on the team."}]},
            )
        member = User.objects.create_user(email, password, full_name=full_name.strip(), role=role)
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_CREATE,
            target=member,
            new={"email": member.email, **_state(member)},
        )
    return member


def member_role_change(*, actor: User | None, member: User, role: str) -> User:
    if role not in Role.values:
        raise ServiceError(
            "validation_failed",
            "Unknown role.",
            fields={"role": [{"code": "invalid", "message": "Choose owner, manager or staff."}]},
        )
    if role == member.role:
        return member
    with transaction.atomic():
        if member.role == Role.OWNER:
            _check_last_owner(member=member)
        old = _state(member)
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            actor=actor, action=AuditAction.MEMBER_ROLE, target=member, old=old, new=_state(member)
        )
    return member


def member_deactivate(*, actor: User | None, member: User) -> User:
    """Signs the member out for good (their sessions stop working); their history stays."""
    if actor is not None and actor.pk == member.pk:
        raise ServiceError("self_deactivate", "You cannot deactivate your own account.")
    if not member.is_active:
        return member
    with transaction.atomic():
        if member.role == Role.OWNER:
            _check_last_owner(member=member)
        old = _state(member)
        member.is_active = False
        member.save(update_fields=["is_active"])
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_DEACTIVATE,
            target=member,
            old=old,
            new=_state(member),
        )
    return member


def member_activate(*, actor: User | None, member: User) -> User:
    if member.is_active:
        return member
    old = _state(member)
    member.is_active = True
    member.save(update_fields=["is_active"])
    audit_record(
        actor=actor, action=AuditAction.MEMBER_ACTIVATE, target=member, old=old, new=_state(member)
    )
    return member
