"""Reads of a retailer's team (the users of the current tenant schema)."""

from django.db.models import QuerySet

from .models import Role, User


def members_list() -> QuerySet[User]:
    """Everyone on the team, active first, then by email."""
    return User.objects.order_by("-is_active", "email")


def member_count_active() -> int:
    return User.objects.filter(is_active=True).count()


def owner_count_active() -> int:
    return User.objects.filter(is_active=True, role=Role.OWNER).count()
