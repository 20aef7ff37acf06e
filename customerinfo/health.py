"""Liveness, readiness and metrics endpoints, answered before host routing.

Kubernetes probes and Prometheus call the pod by IP, which is neither the public host nor a
tenant host, so these paths are served by a middleware placed first, without looking at the
Host header.
"""

import hmac
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from customerinfo.core.tenancy import use_public_schema

logger = logging.getLogger(__name__)

Check = Callable[[], None]


def check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_migrations() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    use_public_schema()
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) of the public schema are not applied")


READINESS_CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis,
    "migrations": check_migrations,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """Runs every check; a failing database makes the migrations check fail too, and says so."""
    results: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as error:
            logger.warning("readiness check failed", extra={"check": name, "error": str(error)})
            results[name] = f"failed: {error}"
        else:
            results[name] = "ok"
    return all(value == "ok" for value in results.values()), results


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            ready, checks = readiness()
            failing = [name for name, result in checks.items() if result != "ok"]
            body = {
                "status": "ok" if ready else "unavailable",
                "checks": checks,
                "failing": failing,
            }
            return JsonResponse(body, status=200 if ready else 503)
        if request.path == "/metrics":
            return metrics(request)
        return self.get_response(request)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format; behind a bearer token when METRICS_TOKEN is set."""
    from crm_sync.metrics import metrics_text

    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return JsonResponse(
                {"error": {"code": "unauthorized", "message": "Bad token."}}, status=401
            )
    return HttpResponse(metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8")
