"""Errors without Sentry: each kept once per kind, counted, and mailed as a daily digest.

A kind of error is its fingerprint: the exception's type and the code it went through (file and
function of every frame, without line numbers, so an unrelated edit above a function does not
make its errors new). Requests report through Django's got_request_exception, tasks through
Celery's task_failure; with SENTRY_DSN set, Sentry gets them instead and nothing is kept here.
"""

import hashlib
import logging
import sys
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from celery.signals import task_failure
from django.conf import settings
from django.core.mail import send_mail
from django.core.signals import got_request_exception
from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from customerinfo.core.tenancy import current_schema

from .models import ErrorDigest, ErrorReport
from .scrubbing import scrub_text

logger = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

_ROOT = str(Path(__file__).resolve().parent.parent) + "/"


def _where(filename: str) -> str:
    """A frame's file, the same on every machine: relative to the project or site-packages."""
    if "site-packages/" in filename:
        return filename.rsplit("site-packages/", 1)[1]
    if filename.startswith(_ROOT):
        return filename.removeprefix(_ROOT)
    return Path(filename).name


def fingerprint(exc_info: ExcInfo) -> str:
    kind, _error, trace = exc_info
    frames = [f"{_where(frame.filename)}:{frame.name}" for frame in traceback.extract_tb(trace)]
    text = "\n".join([f"{kind.__module__}.{kind.__qualname__}", *frames])
    return hashlib.sha256(text.encode()).hexdigest()


def error_record(*, exc_info: ExcInfo, origin: str) -> None:
    """Counts one occurrence; never raises, the error being reported matters more."""
    if settings.SENTRY_DSN:
        return
    kind, error, trace = exc_info
    now = timezone.now()
    table = f"public.{connection.ops.quote_name(ErrorReport._meta.db_table)}"
    try:
        # One statement: concurrent workers reporting the same error add up, none is lost.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {table} AS report (fingerprint, exception_type, origin, message,
                    traceback, schema, count, pending, first_seen, last_seen)
                VALUES (%s, %s, %s, %s, %s, %s, 1, 1, %s, %s)
                ON CONFLICT (fingerprint) DO UPDATE SET
                    count = report.count + 1, pending = report.pending + 1,
                    origin = EXCLUDED.origin, message = EXCLUDED.message,
                    traceback = EXCLUDED.traceback, schema = EXCLUDED.schema,
                    last_seen = EXCLUDED.last_seen
                """,  # noqa: S608 - the table name is the model's, quoted; values are parameters
                [
                    fingerprint(exc_info),
                    f"{kind.__module__}.{kind.__qualname__}"[:200],
                    scrub_text(origin)[:300],
                    scrub_text(str(error))[:4000],
                    scrub_text("".join(traceback.format_exception(kind, error, trace)))[-20000:],
                    current_schema(),
                    now,
                    now,
                ],
            )
    except Exception as failure:
        logger.warning("error not recorded", extra={"error": f"{type(failure).__name__}"})


def _request_failed(sender: Any, request: HttpRequest | None = None, **_: Any) -> None:
    exc_info = sys.exc_info()
    if exc_info[0] is None or exc_info[1] is None:
        return
    origin = f"request {request.method} {request.path}" if request is not None else "request"
    error_record(exc_info=(exc_info[0], exc_info[1], exc_info[2]), origin=origin)


def _task_failed(
    sender: Any = None,
    exception: BaseException | None = None,
    traceback: TracebackType | None = None,
    **_: Any,
) -> None:
    if exception is None:
        return
    name = getattr(sender, "name", "?")
    error_record(exc_info=(type(exception), exception, traceback), origin=f"task {name}")


def error_signals_connect() -> None:
    got_request_exception.connect(_request_failed, dispatch_uid="operations-request-failed")
    task_failure.connect(_task_failed, dispatch_uid="operations-task-failed", weak=False)


# --- the digest --------------------------------------------------------------------------------


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _digest_body(reports: list[ErrorReport], *, since: datetime | None, others: int) -> str:
    header = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "since errors were first recorded"
    parts = [f"Errors {header}, new ones first, then by count.\n"]
    for report in reports:
        new = since is None or report.first_seen > since
        parts.append(
            f"{'[NEW] ' if new else ''}{report.pending}x {report.exception_type} "
            f"in {report.origin or '?'} (schema {report.schema or '-'}; "
            f"{report.count} in all since {report.first_seen:%Y-%m-%d})\n"
            f"{report.message[:500]}\n\n{_tail(report.traceback)}\n"
        )
    if others:
        parts.append(f"... and {others} other kind(s) of error, less frequent.")
    return "\n".join(parts)


def errors_digest() -> ErrorDigest | None:
    """Mails the most frequent errors since the previous digest (new kinds first) and starts
    counting afresh; None when nothing happened.

    The mail is sent with no transaction open; counts are lowered by what was mailed only after
    it went, so a failed mail loses nothing and the next run sends it all.
    """
    previous = ErrorDigest.objects.order_by("-sent_at").first()
    since = previous.sent_at if previous else None
    due = list(ErrorReport.objects.filter(pending__gt=0))
    if not due:
        return None
    due.sort(key=lambda r: (since is not None and r.first_seen <= since, -r.pending, r.pk))
    shown = due[: settings.ERROR_DIGEST_SIZE]
    body = _digest_body(shown, since=since, others=len(due) - len(shown))
    subject = f"CustomerInfo: {sum(r.pending for r in due)} errors of {len(due)} kinds"
    logger.warning("error digest", extra={"kinds": len(due), "body": body[:4000]})
    if settings.OPERATOR_EMAILS:
        send_mail(subject, body, None, settings.OPERATOR_EMAILS)
    with transaction.atomic():
        for report in due:
            ErrorReport.objects.filter(pk=report.pk).update(pending=F("pending") - report.pending)
        return ErrorDigest.objects.create(
            sent_at=timezone.now(),
            errors=len(due),
            occurrences=sum(report.pending for report in due),
        )
