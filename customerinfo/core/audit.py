"""Audit rows: who changed what, from which value to which. Written by the action itself, in
the same transaction, so a change and its audit row land together or not at all."""

import hashlib
from typing import Any

from django.db.models import Model

from .accounts.models import User
from .models import AuditAction, AuditEntry


def sha256(text: str) -> str:
    """How a shopper's email is named in an audit row: never the address itself."""
    return hashlib.sha256(text.encode()).hexdigest()


def audit_record(
    *,
    actor: User | None,
    action: AuditAction,
    target: Model,
    old: Any = None,
    new: Any = None,
    actor_label: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=actor_label,
        action=action,
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        old=old,
        new=new,
    )
