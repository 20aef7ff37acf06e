"""Which stores a portal user sees: the one scope every store-bound read goes through.

Owners and managers see every store. A staff member assigned to stores (``StoreAssignment``,
chosen on each store's page) sees only those: their sign-ups, what needs attention there, their
tablets, their figures, alerts and digest. A staff member assigned to none sees every store, as
every staff member did before stores could be chosen, so no retailer's team lost sight of
anything the day this arrived.

Pages and mails ask ``store_scope`` once and hand the scope to each selector, rather than each
view filtering in its own way: one rule, one place to get it right.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, QuerySet

from customerinfo.core.accounts.models import Role, User

from ..models import Location, StoreAssignment

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class StoreScope:
    """Every store (``store_ids`` None), or only the stores whose ids it holds."""

    store_ids: frozenset[int] | None = None

    @property
    def limited(self) -> bool:
        return self.store_ids is not None

    def allows(self, store_id: int | None) -> bool:
        """Whether a row of store ``store_id`` is visible; a row of no store (a rejected
        sign-up whose store was deleted) is visible only to those who see every store."""
        return self.store_ids is None or store_id in self.store_ids

    def narrow(self, rows: QuerySet[M], field: str = "location_id") -> QuerySet[M]:
        """``rows`` whose ``field`` names a visible store."""
        if self.store_ids is None:
            return rows
        return rows.filter(**{f"{field}__in": sorted(self.store_ids)})

    def stores(self) -> QuerySet[Location]:
        return self.narrow(Location.objects.all(), "pk")


EVERY_STORE = StoreScope()


def store_scope(user: User) -> StoreScope:
    """The stores ``user`` sees; one small query for staff, none for owners and managers."""
    if user.role != Role.STAFF:
        return EVERY_STORE
    return store_scopes([user])[user.pk]


def store_scopes(users: Iterable[User]) -> dict[int, StoreScope]:
    """``store_scope`` of each of ``users`` by id, in one query (alerts and digests)."""
    members = list(users)
    staff = [member.pk for member in members if member.role == Role.STAFF]
    assigned: dict[int, set[int]] = {}
    if staff:
        rows = StoreAssignment.objects.filter(user_id__in=staff).values_list(
            "user_id", "location_id"
        )
        for user_id, location_id in rows:
            assigned.setdefault(user_id, set()).add(location_id)
    return {
        member.pk: StoreScope(frozenset(assigned[member.pk]))
        if member.pk in assigned
        else EVERY_STORE
        for member in members
    }


def store_staff(*, location: Location) -> QuerySet[User]:
    """The staff members assigned to ``location``."""
    assigned = StoreAssignment.objects.filter(location=location).values("user_id")
    return User.objects.filter(pk__in=assigned, role=Role.STAFF)


def staff_members() -> QuerySet[User]:
    """Active staff members, the ones a store can be given (invited ones included: an owner
    may choose their stores before they first sign in)."""
    return User.objects.filter(role=Role.STAFF, is_active=True).order_by("full_name", "email")
