"""Writes of a retailer's team, split by sub-domain; the public names are all here."""

from .invitations import (
    invitation_accept,
    invitation_link,
    invitation_resend,
    invitation_revoke,
    member_invite,
)
from .language import account_language_set
from .members import (
    member_activate,
    member_deactivate,
    member_role_change,
    member_state,
    member_unlock,
)
from .two_factor import (
    backup_codes_renew,
    totp_qr_svg,
    totp_secret,
    two_factor_confirm,
    two_factor_disable,
    two_factor_setup_device,
    two_factor_verify,
)

__all__ = [
    "account_language_set",
    "backup_codes_renew",
    "invitation_accept",
    "invitation_link",
    "invitation_resend",
    "invitation_revoke",
    "member_activate",
    "member_deactivate",
    "member_invite",
    "member_role_change",
    "member_state",
    "member_unlock",
    "totp_qr_svg",
    "totp_secret",
    "two_factor_confirm",
    "two_factor_disable",
    "two_factor_setup_device",
    "two_factor_verify",
]
