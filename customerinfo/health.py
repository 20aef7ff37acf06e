"""Liveness, readiness and metrics endpoints, answered before host routing.

Kubernetes probes and Prometheus call the pod by IP, which is neither the public host nor a
tenant host, so these paths are served by a middleware placed first, without looking at the
Host header.
"""

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port
from prometheus_client import CollectorRegistry, generate_latest

from customerinfo.core.tenancy import use_public_schema
from tenants.middleware import public_hosts
from tenants.selectors import tenant_for_host

logger = logging.getLogger(__name__)

#: A readiness check returns None when all is well, a note when it passes degraded, and raises
#: when the pod must leave the Service.
Check = Callable[[], str | None]


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
    """The public schema only: the release's migration Job has finished before any new pod
    starts, and tenant schemas are not the pod's business (a failed one fails that Job)."""
    connection = connections[DEFAULT_DB_ALIAS]
    use_public_schema()
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise RuntimeError(f"{len(plan)} migration(s) of the public schema are not applied")


class RedisReadiness:
    """Redis as this process's readiness sees it.

    Every web pod shares one Redis, so a blip would fail every pod's probe at once and empty the
    Service. A failure therefore counts only once it has lasted HEALTH_REDIS_GRACE_SECONDS;
    until then the pod stays ready and says it is degraded. A process that has never reached
    Redis is not ready at all, so a release with a wrong REDIS_URL stops its own rollout.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.reached = False
        self.failing_since: float | None = None

    def check(self) -> str | None:
        try:
            check_redis()
        except Exception as error:
            now = self.clock()
            if self.failing_since is None:
                self.failing_since = now
            failing_for = now - self.failing_since
            grace = settings.HEALTH_REDIS_GRACE_SECONDS
            if not self.reached:
                raise RuntimeError(f"not reached since this process started: {error}") from error
            if failing_for >= grace:
                raise RuntimeError(f"failing for {failing_for:.0f} s: {error}") from error
            return f"failing for {failing_for:.0f} s, fails readiness after {grace:.0f} s: {error}"
        self.reached = True
        self.failing_since = None
        return None


redis_readiness = RedisReadiness()


def check_redis_with_grace() -> str | None:
    return redis_readiness.check()


READINESS_CHECKS: dict[str, Check] = {
    "database": check_database,
    "redis": check_redis_with_grace,
    "migrations": check_migrations,
}


def readiness() -> tuple[bool, dict[str, str]]:
    """Runs every check; a failing database makes the migrations check fail too, and says so."""
    results: dict[str, str] = {}
    ready = True
    for name, check in READINESS_CHECKS.items():
        try:
            note = check()
        except Exception as error:
            logger.warning("readiness check failed", extra={"check": name, "error": str(error)})
            results[name] = f"failed: {error}"
            ready = False
        else:
            if note:
                logger.warning("readiness check degraded", extra={"check": name, "error": note})
            results[name] = f"degraded: {note}" if note else "ok"
    return ready, results


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            ready, checks = readiness()
            failing = [name for name, result in checks.items() if result.startswith("failed")]
            degraded = any(result.startswith("degraded") for result in checks.values())
            body = {
                "status": "unavailable" if not ready else "degraded" if degraded else "ok",
                "checks": checks,
                "failing": failing,
            }
            return JsonResponse(body, status=200 if ready else 503)
        if request.path == "/metrics" and serves_metrics(request):
            return metrics(request)
        return self.get_response(request)


#: The text format every Prometheus release reads (generate_latest writes it).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def serves_metrics(request: HttpRequest) -> bool:
    """/metrics answers on the pod's address and the public host, never on a retailer's host.

    The figures name every retailer, so a shop's own domain must not even show that the path
    exists: there it falls through to the host router and gets the 404 of any unknown path.
    The Host header is read raw: Prometheus scrapes the pod by IP, which ALLOWED_HOSTS refuses.
    """
    host, _ = split_domain_port(request.META.get("HTTP_HOST", ""))
    if is_ip_address(host) or host in public_hosts():
        return True
    if host.endswith(f".{settings.BASE_DOMAIN}"):
        return False
    # A shop's own domain (Domain rows other than <slug>.<base domain>).
    return tenant_for_host(host=host) is None


def metrics_authorized(request: HttpRequest) -> bool:
    """Production always has a token (settings refuse to start without one)."""
    token: str = settings.METRICS_TOKEN
    if not token:
        return True
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def metrics_registry() -> CollectorRegistry:
    """Every figure but the outbox's (crm_sync.metrics renders its own)."""
    from billing.metrics import CloseCollector
    from operations.metrics import collectors as operations_collectors
    from signup.metrics import TabletQueueCollector

    registry = CollectorRegistry()
    for collector in [*operations_collectors(), TabletQueueCollector(), CloseCollector()]:
        registry.register(collector)
    return registry


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, behind a bearer token (METRICS_TOKEN).

    No request counter of our own: gunicorn's workers are separate processes, whose counters
    prometheus_client can only add up through files in a shared folder, cleaned at each worker's
    restart; and a request the pods never answer (a 502 or 504 of the ingress while they are
    down) would not be counted at all. The 5xx rate comes from the ingress controller's own
    nginx_ingress_controller_requests, which sees every request (docs/alerts.md).
    """
    from crm_sync.metrics import metrics_text as crm_metrics_text

    if not metrics_authorized(request):
        return JsonResponse(
            {"error": {"code": "unauthorized", "message": "Bad token."}}, status=401
        )
    body = crm_metrics_text() + generate_latest(metrics_registry())
    return HttpResponse(body, content_type=METRICS_CONTENT_TYPE)
