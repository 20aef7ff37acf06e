"""Content-Security-Policy and Permissions-Policy on every kind of answer, and templates that
need nothing the policy forbids."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from pytest_django import Settings

from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
#: Where the project's own templates and browser code live.
SOURCE_FOLDERS = ("customerinfo", "signup", "crm_sync", "billing", "tenants", "outbox")
#: The fake Stripe's page is served by the fake's own server, standing in for Stripe's site.
NOT_OURS = ("billing/stripe_fake/",)

STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def assert_strict(response: object) -> dict[str, str]:
    headers = response.headers  # type: ignore[attr-defined]
    policy = directives(headers["Content-Security-Policy"])
    for name, value in STRICT.items():
        assert policy[name] == value, (name, policy[name])
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
    permissions = headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions
    return policy


def test_portal_pages_and_sign_in(owner_client: Client) -> None:
    for path in ("/", "/stores/", "/tablets/", "/forms/", "/crm/", "/billing/", "/settings/"):
        response = owner_client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    assert_strict(Client(HTTP_HOST=owner_client.defaults["HTTP_HOST"]).get("/login/"))


def test_kiosk_shell_worker_manifest_and_api(alice_client: Client, kiosk: Kiosk) -> None:
    for path in ("/kiosk/", "/kiosk/sw.js", "/kiosk/manifest.webmanifest"):
        response = alice_client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    form = alice_client.get("/api/kiosk/form", headers={"Authorization": f"Device {kiosk.token}"})
    assert form.status_code == 200
    assert_strict(form)
    refused = alice_client.get("/api/kiosk/form", headers={"Authorization": "Device nope"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"]
    assert_strict(refused)
    static = alice_client.get("/static/kiosk/app.js")
    assert static.status_code == 200
    assert_strict(static)


def test_public_host_pages_health_and_errors(public_client: Client) -> None:
    for path, status in (("/", 200), ("/healthz", 200), ("/no-such-page/", 404)):
        response = public_client.get(path)
        assert response.status_code == status, path
        assert_strict(response)
    # An unknown shop's host is answered by the router, before any view.
    assert_strict(Client(HTTP_HOST="nobody.localhost").get("/"))


def test_mailbox_page(public_client: Client, settings: Settings) -> None:
    settings.DEV_MAILBOX = True
    response = public_client.get("/mail/")
    assert response.status_code == 200
    assert_strict(response)


def test_admin_alone_may_use_style_attributes(public_client: Client) -> None:
    response = public_client.get("/admin/login/")
    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"
    assert "Permissions-Policy" in response.headers


def test_forms_may_lead_to_our_hosts_and_stripe(public_client: Client, settings: Settings) -> None:
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    targets = directives(public_client.get("/").headers["Content-Security-Policy"])["form-action"]
    assert targets.split() == [
        "'self'",
        f"{settings.BASE_DOMAIN}:*",
        f"*.{settings.BASE_DOMAIN}:*",
        "https://checkout.stripe.com",
        "https://billing.stripe.com",
        "http://127.0.0.1:12111",
    ]
    settings.STRIPE_API_BASE = ""
    targets = directives(public_client.get("/").headers["Content-Security-Policy"])["form-action"]
    assert "http://127.0.0.1:12111" not in targets


def test_a_view_override_is_honoured(public_client: Client, settings: Settings) -> None:
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'self'"]}
    }
    policy = directives(public_client.get("/").headers["Content-Security-Policy"])
    assert policy["img-src"] == "'self'"


# --- the rule over templates and browser code ----------------------------------------------

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""[\s"'/]style\s*=""", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"""[\s"'/]on[a-z]+\s*=\s*["'{]""", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def _our_files(suffix: str) -> list[Path]:
    found = [
        path
        for folder in SOURCE_FOLDERS
        for path in (ROOT / folder).rglob(f"*{suffix}")
        if not any(str(path.relative_to(ROOT)).startswith(skip) for skip in NOT_OURS)
    ]
    return sorted(found)


def inline_problems(text: str) -> list[str]:
    """What in an HTML text a strict policy would block."""
    problems = []
    for attributes, body in SCRIPT.findall(text):
        if body.strip() and "application/json" not in attributes:
            problems.append("inline <script>")
        if "src=" not in attributes and "application/json" not in attributes:
            problems.append("<script> without src")
    for pattern, name in (
        (STYLE_ELEMENT, "<style> element"),
        (STYLE_ATTRIBUTE, "style attribute"),
        (HANDLER_ATTRIBUTE, "on* handler attribute"),
        (JAVASCRIPT_URL, "javascript: URL"),
    ):
        if pattern.search(text):
            problems.append(name)
    return problems


def test_the_rule_finds_what_it_must() -> None:
    assert inline_problems("<script>alert(1)</script>") == [
        "inline <script>",
        "<script> without src",
    ]
    assert inline_problems('<p style="color:red">') == ["style attribute"]
    assert inline_problems('<img src=x onerror="go()">') == ["on* handler attribute"]
    assert inline_problems("<a href='javascript:go()'>") == ["javascript: URL"]
    assert inline_problems("<style>p{}</style>") == ["<style> element"]
    assert inline_problems('<script type="module" src="/static/a.js"></script>') == []
    assert inline_problems('<meta content="x"><p data-onward="1">') == []


def test_no_template_needs_inline_code_or_style() -> None:
    templates = _our_files(".html")
    assert len(templates) > 40
    problems = {
        str(path.relative_to(ROOT)): found
        for path in templates
        if (found := inline_problems(path.read_text()))
    }
    assert problems == {}


def test_browser_code_writes_no_inline_style_or_handler_markup() -> None:
    scripts = [
        path for path in (ROOT / "frontend" / "static").rglob("*.js") if "vendor" not in path.parts
    ]
    assert scripts
    problems = {
        str(path.relative_to(ROOT)): found
        for path in scripts
        if (found := [p for p in inline_problems(path.read_text()) if "script" not in p])
    }
    assert problems == {}


def test_the_policy_setting_is_strict() -> None:
    configured = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    for name in ("script-src", "style-src", "connect-src", "default-src"):
        assert configured[name] == ["'self'"], name
