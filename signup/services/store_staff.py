"""Which staff members work at a store (``StoreAssignment``): what limits their view to it."""

from collections.abc import Iterable

from django.db import transaction
from django.utils.translation import gettext as _

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from ..models import Location, StoreAssignment


@transaction.atomic
def location_staff_set(*, actor: User | None, location: Location, staff: Iterable[User]) -> None:
    """``staff`` work at ``location`` from now on, and no other staff member does.

    Recorded in the audit log as a change of the store (who worked there before and after), so
    "who could see these sign-ups, and since when" has an answer.
    """
    chosen = {member.pk: member for member in staff}
    if any(member.role != Role.STAFF for member in chosen.values()):
        # Owners and managers see every store whatever is chosen: a row for them would say
        # something untrue on the store's page.
        raise ServiceError(
            "validation_failed",
            _("Only staff members can be limited to stores."),
            fields={"staff": [{"code": "invalid", "message": _("Choose staff members only.")}]},
        )
    # Locked, so two managers saving the same store at once leave one answer, not a mix.
    Location.objects.select_for_update().filter(pk=location.pk).first()
    before = dict(
        StoreAssignment.objects.filter(location=location).values_list("user_id", "user__email")
    )
    if set(before) == set(chosen):
        return
    StoreAssignment.objects.filter(location=location).exclude(user_id__in=list(chosen)).delete()
    StoreAssignment.objects.bulk_create(
        [
            StoreAssignment(location=location, user=member)
            for user_id, member in chosen.items()
            if user_id not in before
        ]
    )
    audit_record(
        actor=actor,
        action=AuditAction.LOCATION_UPDATE,
        target=location,
        old={"staff": sorted(before.values())},
        new={"staff": sorted(member.email for member in chosen.values())},
    )
