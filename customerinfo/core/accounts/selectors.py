"""Reads of a retailer's team (the users of the current tenant schema)."""

from django.db.models import QuerySet
from django.utils.http import urlsafe_base64_decode
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Role, User
from .tokens import invitation_tokens


def members_list() -> QuerySet[User]:
    """Everyone on the team, active first, then by email."""
    return User.objects.select_related("invited_by").order_by("-is_active", "email")


def member_count_active() -> int:
    return User.objects.filter(is_active=True).count()


def owner_count_active() -> int:
    return User.objects.filter(is_active=True, role=Role.OWNER).count()


def invitation_member(*, uidb64: str, token: str) -> User | None:
    """The invitee a link is for, if it still works (else None: used, replaced or expired)."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    member = User.objects.filter(pk=pk, is_active=True).first()
    return member if invitation_tokens.check_token(member, token) else None


def two_factor_enabled(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def two_factor_members() -> set[int]:
    """Ids of this shop's members who sign in with a code (the team page shows them)."""
    return set(
        TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True).distinct()
    )


def backup_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user).count())
