"""Invitations: an owner invites by email with a role; the invitee chooses their own password.

The invitee is a member from the start (the row holds their role), marked by ``invited_at``
and without a usable password, so they cannot sign in and are not sent password resets. The
email carries a link (accounts.tokens) that works once, for INVITATION_TIMEOUT, and only for
the latest sending: re-sending moves ``invited_at``, accepting sets the password, revoking
deletes the row, and each of these kills every link sent before.
"""

import logging
import smtplib

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from customerinfo.core.audit import audit_record
from customerinfo.core.errors import FieldErrors, ServiceError
from customerinfo.core.i18n import in_language_of
from customerinfo.core.models import AuditAction
from customerinfo.core.tenancy import current_tenant

from ..models import Role, User
from ..tokens import invitation_tokens
from .members import member_state

logger = logging.getLogger(__name__)


def _shop_name() -> str:
    # The tenant model belongs to an app the kernel does not import; its name is all we need.
    return str(getattr(current_tenant(), "name", ""))


def invitation_link(*, member: User, site_url: str) -> str:
    """The link in the invitation email: ``site_url`` is the shop's own, e.g. its portal's."""
    path = reverse(
        "invitation-accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(member.pk)),
            "token": invitation_tokens.make_token(member),
        },
    )
    return site_url.rstrip("/") + path


def _invitation_mail(*, member: User, site_url: str) -> None:
    """Sends the invitation; a mail server that refuses leaves it to be re-sent."""
    context = {
        "member": member,
        "inviter": member.invited_by,
        "shop": _shop_name(),
        "link": invitation_link(member=member, site_url=site_url),
        "site_url": site_url,
        "days": settings.INVITATION_TIMEOUT.days,
    }
    with in_language_of(member):
        subject = render_to_string("accounts/email/invitation_subject.txt", context)
        body = render_to_string("accounts/email/invitation.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [member.email])
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("invitation mail to member %s failed: %s", member.pk, error)
        raise ServiceError(
            "mail_failed",
            _(
                "The invitation for %(email)s is saved, but the email could not be sent. "
                "Try Re-send in a moment."
            )
            % {"email": member.email},
            status_code=502,
        ) from error


def member_invite(*, actor: User, email: str, full_name: str, role: str, site_url: str) -> User:
    """Adds ``email`` to the team with ``role`` and emails them a link to choose a password."""
    email = email.strip().lower()
    fields: FieldErrors = {}
    try:
        validate_email(email)
    except ValidationError:
        fields["email"] = [{"code": "invalid", "message": _("Enter a valid email address.")}]
    if role not in Role.values:
        fields["role"] = [{"code": "invalid", "message": _("Choose owner, manager or staff.")}]
    if fields:
        raise ServiceError("validation_failed", _("The invitation has mistakes."), fields=fields)
    with transaction.atomic():
        existing = User.objects.filter(email=email).first()
        if existing is not None:
            message = (
                _("Already invited: use Re-send in the list.")
                if existing.invitation_pending
                else _("Already on the team.")
            )
            raise ServiceError(
                "duplicate",
                _("Someone on the team already has this email address."),
                fields={"email": [{"code": "duplicate", "message": message}]},
            )
        member = User.objects.create_user(
            email,
            None,  # unusable until they choose one
            full_name=full_name.strip(),
            role=role,
            invited_at=timezone.now(),
            invited_by=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_INVITE,
            target=member,
            new={"email": member.email, **member_state(member)},
        )
    # After the commit: the link must find the row it names.
    _invitation_mail(member=member, site_url=site_url)
    return member


def _check_pending(member: User) -> None:
    if not member.invitation_pending:
        raise ServiceError(
            "not_invited",
            _("%(email)s has already joined the team.") % {"email": member.email},
            status_code=409,
        )


def invitation_resend(*, actor: User, member: User, site_url: str) -> User:
    """Sends a fresh link; the ones sent before stop working."""
    _check_pending(member)
    with transaction.atomic():
        old = member.invited_at
        member.invited_at = timezone.now()
        member.invited_by = actor
        member.save(update_fields=["invited_at", "invited_by"])
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_INVITE_RESEND,
            target=member,
            old={"invited_at": old.isoformat() if old else None},
            new={"invited_at": member.invited_at.isoformat()},
        )
    _invitation_mail(member=member, site_url=site_url)
    return member


def invitation_revoke(*, actor: User, member: User) -> None:
    """Withdraws an invitation: the row goes (they never signed in), and with it every link."""
    _check_pending(member)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.MEMBER_INVITE_REVOKE,
            target=member,
            old={"email": member.email, **member_state(member)},
        )
        member.delete()


def invitation_accept(*, member: User, password: str) -> User:
    """The invitee chooses their password and joins; the link is spent."""
    _check_pending(member)
    try:
        validate_password(password, member)
    except ValidationError as error:
        raise ServiceError(
            "validation_failed",
            _("Choose another password."),
            fields={"password": [{"code": "weak", "message": m} for m in error.messages]},
        ) from error
    with transaction.atomic():
        invited_at = member.invited_at
        member.set_password(password)
        member.invited_at = None
        member.save(update_fields=["password", "invited_at"])
        audit_record(
            actor=member,
            action=AuditAction.MEMBER_INVITE_ACCEPT,
            target=member,
            old={"invited_at": invited_at.isoformat() if invited_at else None},
            new={"invited_at": None},
        )
    return member
