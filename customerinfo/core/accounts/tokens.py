"""Invitation links: signed, bound to the invitee's state, so each works once and not for long.

Django's password-reset tokens already have the right semantics (an HMAC of the user's state:
setting a password changes it, so a used link is dead); an invitation adds the time it was
sent, so re-sending kills the links sent before, and the shop's schema, so a link made for one
shop means nothing on another even for a user with the same id. It gets its own lifetime
(settings.INVITATION_TIMEOUT), longer than a reset link's.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int

from customerinfo.core.tenancy import current_schema

from .models import User


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "customerinfo.core.accounts.tokens.InvitationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        invited = "" if user.invited_at is None else user.invited_at.isoformat()
        return f"{current_schema()}:{user.pk}:{user.password}:{invited}:{user.email}:{timestamp}"

    def check_token(self, user: User | None, token: str | None) -> bool:
        # Django's own check would hold the link to PASSWORD_RESET_TIMEOUT (three days).
        if user is None or not token or not user.invitation_pending:
            return False
        timestamp_b36, _, _ = token.partition("-")
        try:
            timestamp = base36_to_int(timestamp_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        age = self._num_seconds(self._now()) - timestamp
        return age <= settings.INVITATION_TIMEOUT.total_seconds()


invitation_tokens = InvitationTokenGenerator()
