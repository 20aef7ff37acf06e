"""Tasks of several destinations: what the relay hands out, sent in one worker task.

Each group is one destination's rows in one tenant's schema, sent by ``sending.deliveries_send``
with this process's HTTP client for the kind (``http``), so a task of six quiet shops' sign-ups
costs one task's start and six CRM calls. The groups of a task are sent side by side on up to
``CRM_SEND_THREADS`` threads: a send mostly waits (on the CRM, PostgreSQL, Redis), and one after
the other a task of six held its last shop's sign-up back by the five calls before it. Each
thread has its own database connection, and so its own schema; nothing else is shared but the
HTTP clients and the Redis pool, both safe across threads.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django_tenants.utils import get_public_schema_name, tenant_context

from customerinfo.core.tenancy import public_schema
from tenants.models import Tenant

from .sending import deliveries_send

logger = logging.getLogger(__name__)


_threads: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _threads  # noqa: PLW0603 - one pool per process, made on first use
    if _threads is None:
        _threads = ThreadPoolExecutor(
            max_workers=settings.CRM_SEND_THREADS, thread_name_prefix="crm-send"
        )
    return _threads


def _send(tenant: Tenant, group: dict[str, Any], *, threaded: bool) -> dict[str, int]:
    """One group in its tenant's schema; a failure is logged and sends nothing."""
    if threaded:
        # The thread's own connection, kept between tasks: dropped here if broken or too old.
        close_old_connections()
    try:
        with tenant_context(tenant):
            report = deliveries_send(destination_id=group["destination_id"], ids=group["ids"])
    except Exception:
        logger.exception(
            "sending a destination's deliveries failed; the relay hands them out again",
            extra={"destination_id": group["destination_id"]},
        )
        return {}
    return dict(report.counts)


def deliveries_send_groups(*, groups: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Sends each group's deliveries in its tenant's schema; returns the outcomes summed. A
    group that fails (our database or Redis) does not stop the others: its rows come back with
    their lease, like a killed worker's."""
    names = {group["schema_name"] for group in groups} - {get_public_schema_name()}
    with public_schema():
        tenants = {
            tenant.schema_name: tenant for tenant in Tenant.objects.filter(schema_name__in=names)
        }
    # A tenant still being provisioned (or gone) has its rows handed out again later.
    work = [
        (tenants[group["schema_name"]], group)
        for group in groups
        if group["schema_name"] in tenants and tenants[group["schema_name"]].ready
    ]
    if len(work) > 1 and settings.CRM_SEND_THREADS > 1:
        reports = list(_pool().map(lambda item: _send(item[0], item[1], threaded=True), work))
    else:
        reports = [_send(tenant, group, threaded=False) for tenant, group in work]
    totals: dict[str, int] = defaultdict(int)
    for report in reports:
        for outcome, count in report.items():
            totals[outcome] += count
    return dict(totals)
