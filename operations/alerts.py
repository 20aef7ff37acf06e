"""Telling the operators: a log line always, a mail when OPERATOR_EMAILS is set."""

import logging

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


def operators_alert(*, subject: str, body: str) -> bool:
    """Mails the operators; returns whether a mail went out. A mail server that is down must
    not hide the failure being reported, so its error is logged, not raised."""
    logger.error("operators alerted", extra={"subject": subject, "body": body[:4000]})
    recipients = settings.OPERATOR_EMAILS
    if not recipients:
        return False
    try:
        send_mail(f"CustomerInfo: {subject}", body, None, recipients)
    except Exception:
        logger.exception("operators not mailed", extra={"subject": subject})
        return False
    return True
