"""The kiosk's sign-up POST answered early in the middleware chain, with the same answer.

Every shopper's sign-up is this one request, and on it the rest of the chain did nothing but
pass it along: fourteen middlewares, each standing aside for the kiosk API or adding a header,
then URL resolving, cost 0.2 ms of CPU per sign-up, about as much as the sign-up's own checks.
This middleware sits right after the API middleware (so an exception still gets the API's error
shape, and oversized bodies are still refused first) and, for a request that is plainly a
tablet's sign-up on a ready shop's host, does what the skipped part of the chain does for it:

- the host routing of ``tenants.middleware`` (the same functions);
- the request checks of ``SecurityMiddleware`` (HTTPS redirect) and ``CommonMiddleware``
  (refused user agents, ``www.`` prefix): if either would answer, the request goes down the
  chain instead;
- the answer, from the same function the view calls first (``signup.submit_fast``);
- the response headers of ``XFrameOptionsMiddleware``, ``CommonMiddleware`` and
  ``SecurityMiddleware``, from their own code, in the order the chain would add them.

Anything else (another path or method, an unknown or public host, a shop not ready, a request
the fast path does not take) goes down the whole chain untouched, so its answer is the chain's.
tests/customerinfo/test_kiosk_lane.py sends the same requests both ways and compares status,
headers and body, so a middleware added later that changes the kiosk's answer fails there.
"""

from collections.abc import Callable

from django.core.exceptions import DisallowedHost, PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware

from signup.submit_fast import submission_fast
from tenants.middleware import (
    public_hosts,
    request_host,
    request_tenant_enter,
    request_tenant_leave,
)
from tenants.models import Tenant
from tenants.selectors import tenant_for_host

SUBMISSIONS_PATH = "/api/kiosk/submissions"


class KioskLaneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        # Their process_request and process_response only; the chain has its own instances.
        self.security = SecurityMiddleware(get_response)
        self.common = CommonMiddleware(get_response)
        self.frame = XFrameOptionsMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info != SUBMISSIONS_PATH or request.method != "POST":
            return self.get_response(request)
        tenant = self._tenant(request)
        if tenant is None:
            return self.get_response(request)
        request_tenant_enter(request, tenant)
        response = submission_fast(request)
        if response is None:
            return self.get_response(request)
        # Each adds headers of its own and reads none of the others', so the order is free.
        secured = self.security.process_response(request, response)
        answer = self.common.process_response(
            request, self.frame.process_response(request, secured)
        )
        request_tenant_leave(tenant)
        return answer

    def _tenant(self, request: HttpRequest) -> Tenant | None:
        """The ready shop whose host the request names, if nothing before the view would
        answer it instead; else None."""
        try:
            host = request_host(request)
        except DisallowedHost:
            return None
        if host in public_hosts():
            return None
        tenant = tenant_for_host(host=host)
        if tenant is None or not tenant.ready:
            return None
        try:
            if self.security.process_request(request) or self.common.process_request(request):
                return None
        except PermissionDenied:  # a refused user agent: the chain answers it
            return None
        return tenant
