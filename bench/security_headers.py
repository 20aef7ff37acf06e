"""What the security headers cost an answer: the Content-Security-Policy and Permissions-Policy
middlewares (customerinfo.core.headers) on a kiosk API answer, against django-csp's own
middleware, which builds the policy string afresh for every answer.

Run with ``uv run python bench/security_headers.py``. No database is needed. The last line
printed holds the figures as key=value pairs (microseconds per answer).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customerinfo.settings")

import django

django.setup()

from csp.middleware import CSPMiddleware  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from customerinfo.core.headers import (  # noqa: E402
    ContentSecurityPolicyMiddleware,
    PermissionsPolicyMiddleware,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20000"))


def answer(_: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True}, status=201)


def per_answer(middleware: object, request: HttpRequest) -> float:
    for _ in range(500):  # warm up (the cached policy, the settings)
        middleware(request)  # type: ignore[operator]
    started = time.perf_counter()
    for _ in range(ROUNDS):
        middleware(request)  # type: ignore[operator]
    return (time.perf_counter() - started) / ROUNDS * 1e6


def main() -> None:
    request = RequestFactory().post("/api/kiosk/submissions", HTTP_HOST="shop.localhost")
    nothing = per_answer(answer, request)
    ours = per_answer(ContentSecurityPolicyMiddleware(answer), request) - nothing
    library = per_answer(CSPMiddleware(answer), request) - nothing
    permissions = per_answer(PermissionsPolicyMiddleware(answer), request) - nothing
    print(
        f"rounds={ROUNDS} csp_us={ours:.2f} csp_uncached_us={library:.2f} "
        f"permissions_policy_us={permissions:.2f}"
    )


if __name__ == "__main__":
    main()
