"""The kiosk PWA's shell: the page, its service worker and its web app manifest.

Everything else the tablet needs is static (``frontend/static/kiosk/``) or the kiosk API. The
service worker is served from ``/kiosk/`` rather than ``/static/`` so that its scope is the
kiosk, and it is never cached by the browser: a new release must reach every tablet.
"""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_safe

#: Shown by the tablet and reported in its heartbeat; bump with a change of the kiosk's code.
APP_VERSION = "kiosk-1.1.0"
SCOPE = "/kiosk/"
#: Loaded by the shell through ``{% static %}`` (hashed names in production).
ENTRY_ASSETS = ("kiosk/app.js", "kiosk/kiosk.css", "kiosk/icon.svg")
#: Imported by app.js with relative paths, so the browser asks for their plain names.
MODULE_ASSETS = (
    "kiosk/store.js",
    "kiosk/sender.js",
    "kiosk/form.js",
    "kiosk/i18n.js",
    "kiosk/typo.js",
)
#: Imported lazily (``import()``) once the form is on screen, never on the first load; cached by
#: the service worker on install so an offline tablet checks phone numbers too.
LAZY_ASSETS = ("kiosk/vendor/libphonenumber-js.max.js",)
ICONS = (("kiosk/icon-192.png", "192x192"), ("kiosk/icon-512.png", "512x512"))
NO_CACHE = "no-cache, max-age=0"


def _source(name: str) -> bytes:
    """A static file's bytes, from the source folders or, once collected, from storage."""
    found = finders.find(name)
    if isinstance(found, str):
        return Path(found).read_bytes()
    with staticfiles_storage.open(name) as stored:
        content: bytes = stored.read()
        return content


def _precache_urls() -> list[str]:
    return [
        SCOPE,
        f"{SCOPE}manifest.webmanifest",
        *(static(name) for name in ENTRY_ASSETS),
        *(f"{settings.STATIC_URL}{name}" for name in (*MODULE_ASSETS, *LAZY_ASSETS)),
        *(static(name) for name, _ in ICONS),
    ]


def _service_worker_source() -> str:
    """The worker with its precache list and a version that changes with any cached file."""
    digest = hashlib.sha256(APP_VERSION.encode())
    for name in (*ENTRY_ASSETS, *MODULE_ASSETS, *LAZY_ASSETS, "kiosk/sw.js"):
        digest.update(_source(name))
    header = (
        f"const VERSION = {json.dumps(digest.hexdigest()[:16])};\n"
        f"const PRECACHE = {json.dumps(_precache_urls())};\n"
    )
    return header + _source("kiosk/sw.js").decode()


_cached_service_worker_source = lru_cache(maxsize=1)(_service_worker_source)


def _no_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = NO_CACHE
    return response


@require_safe
def kiosk_shell(request: HttpRequest) -> HttpResponse:
    """The single page of the kiosk; the app renders every screen from the API's answers."""
    tenant = getattr(request, "tenant", None)
    context = {"app_version": APP_VERSION, "tenant_name": getattr(tenant, "name", "")}
    return _no_cache(render(request, "signup/kiosk/shell.html", context))


@require_safe
def kiosk_service_worker(request: HttpRequest) -> HttpResponse:
    source = _service_worker_source() if settings.DEBUG else _cached_service_worker_source()
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = SCOPE
    return _no_cache(response)


@require_safe
def kiosk_manifest(request: HttpRequest) -> HttpResponse:
    tenant = getattr(request, "tenant", None)
    name = getattr(tenant, "name", "") or "CustomerInfo"
    manifest = {
        "name": f"{name} sign-up",
        "short_name": "Sign-up",
        "id": SCOPE,
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "fullscreen",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#0b5cad",
        "icons": [
            {"src": static(icon), "sizes": sizes, "type": "image/png", "purpose": "any"}
            for icon, sizes in ICONS
        ]
        + [{"src": static("kiosk/icon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    response = JsonResponse(manifest, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return _no_cache(response)
