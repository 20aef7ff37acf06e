"""Every page's id references point at something: a rule over all the HTML pages.

A screen reader reads an input's ``aria-describedby`` elements after its label (the help, the
error); a reference to an id the page does not have reads nothing, silently, and no visual test
notices. So every page of both hosts is rendered, as it first appears and, for a page whose form
posts to itself, again after an empty submission (the state with its errors showing), and each
``aria-describedby``, ``aria-labelledby``, ``aria-errormessage`` and ``<label for>`` must name ids
the page has.
"""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tenants.utils import tenant_context

from crm_sync.providers import PROVIDERS
from signup.models import Submission
from tenants.models import Tenant
from tests.crm_sync.factories import webhook_destination
from tests.signup.factories import kiosk_create, rejection_create, set_aside_create

pytestmark = pytest.mark.django_db

#: Attributes that name other elements by id, several separated by spaces.
REFERENCES = ("aria-describedby", "aria-labelledby", "aria-errormessage")
#: Routes that answer something other than an HTML page, or act on a GET.
NOT_PAGES = re.compile(
    r"^(api/|admin/|kiosk/sw\.js|kiosk/manifest|.*\.csv$|.*download/$|logout/|welcome/|sink/)"
)


class References(HTMLParser):
    """The ids a page has and the references it makes (attribute, value, the element's tag)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.references: list[tuple[str, str, str]] = []
        #: Fields a person fills in, in forms that post to the page itself.
        self.fields_posted_here = 0
        self._in_form_posting_here = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if values.get("id"):
            self.ids.add(values["id"])
        for name in REFERENCES:
            for ref in values.get(name, "").split():
                self.references.append((name, ref, tag))
        if tag == "label" and values.get("for"):
            self.references.append(("for", values["for"], tag))
        if tag == "form":
            self._in_form_posting_here = values.get(
                "method", ""
            ).lower() == "post" and not values.get("action")
        if (
            self._in_form_posting_here
            and tag in {"input", "select", "textarea"}
            and values.get("type") not in {"hidden", "submit", "button"}
        ):
            self.fields_posted_here += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form_posting_here = False

    def missing(self) -> list[str]:
        return [
            f"<{tag} {name}={ref!r}>" for name, ref, tag in self.references if ref not in self.ids
        ]


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + str(pattern.pattern), pattern.name


def _paths(urlconf: str, arguments: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every page of ``urlconf``: routes without arguments as they are (a new page is checked
    the day it is added), the others once per set of ``arguments`` given for their name (a page
    that shows one object is checked once ``_tenant_arguments`` makes one for it)."""
    paths = []
    for route, name in _routes(get_resolver(urlconf).url_patterns):
        if NOT_PAGES.match(route):
            continue
        if "<" not in route:
            paths.append(reverse(name, urlconf=urlconf))
        for kwargs in arguments.get(name, []):
            paths.append(reverse(name, urlconf=urlconf, kwargs=kwargs))
    return paths


def _check(client: Client, path: str) -> list[str]:
    """Problems of the page at ``path``, as shown and after an empty submission of its form."""
    problems = []
    shown = client.get(path)
    assert shown.status_code < 500, path
    if "text/html" not in shown.get("Content-Type", "") or shown.status_code >= 300:
        return []
    page = References(shown.content.decode())
    problems += [f"GET {path}: {missing}" for missing in page.missing()]
    if page.fields_posted_here:
        # A form to fill in: sent empty, it comes back with its errors (a confirmation's
        # button alone is an action, not sent).
        sent = client.post(path, {})
        assert sent.status_code < 500, f"POST {path}"
        if "text/html" in sent.get("Content-Type", "") and sent.status_code < 300:
            problems += [
                f"POST {path}: {missing}" for missing in References(sent.content.decode()).missing()
            ]
    return problems


def _tenant_arguments(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """Objects for the pages that show one: a store, a form, a tablet, a CRM destination,
    sign-ups that need attention."""
    with tenant_context(tenant):
        kiosk = kiosk_create()
        destination = webhook_destination(url="https://crm.example/hook")
        held = set_aside_create(kiosk.device, "aside@example.com")
        rejected = rejection_create(kiosk.device, "not-an-email")
        signup = Submission.objects.exclude(pk=held.pk).first() or held
    form, store = {"pk": kiosk.form.pk}, {"pk": kiosk.location.pk}
    return {
        "portal-form-edit": [form],
        "portal-form-preview": [form],
        "portal-form-settings": [form],
        "portal-location-edit": [store],
        "portal-device-revoke": [{"pk": kiosk.device.pk}],
        "crm-destination-create": [{"kind": kind} for kind in PROVIDERS],
        "crm-destination": [{"pk": destination.pk}],
        "crm-destination-edit": [{"pk": destination.pk}],
        "crm-submission-deliveries": [{"submission_id": signup.pk}],
        "portal-attention-signup": [{"pk": held.pk}],
        "portal-submission-detail": [{"pk": held.pk}, {"pk": signup.pk}],
        "portal-attention-signup-discard": [{"pk": held.pk}],
        "portal-attention-rejected": [{"pk": rejected.pk}],
        "portal-attention-rejected-discard": [{"pk": rejected.pk}],
        "password_reset_confirm": [{"uidb64": "MQ", "token": "set-password"}],
        # The form itself needs a live invitation in the session: the browser test checks it.
        "invitation-accept": [{"uidb64": "MQ", "token": "choose-password"}],
    }


def test_every_reference_on_the_portal_names_an_element(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    paths = _paths("customerinfo.urls_tenants", _tenant_arguments(alice_tenant))
    # The pages with forms to fill in are all there, each with an object where it shows one.
    for path in ["/password/", "/settings/", "/stores/new/", "/tablets/pair/", "/crm/new/webhook/"]:
        assert path in paths
    assert len([path for path in paths if re.search(r"/\d+/", path)]) >= 7
    problems = [problem for path in paths for problem in _check(owner_client, path)]
    assert problems == []


def test_every_reference_signed_out_names_an_element(alice_client: Client) -> None:
    for path in ["/login/", "/password/reset/", "/password/reset/sent/", "/password/reset/done/"]:
        assert _check(alice_client, path) == [], path


def test_every_reference_on_the_public_host_names_an_element(public_client: Client) -> None:
    paths = _paths("customerinfo.urls_public", {})
    assert "/start/" in paths
    problems = [problem for path in paths for problem in _check(public_client, path)]
    assert problems == []


def test_the_rule_sees_a_reference_to_nothing() -> None:
    page = References(
        '<label for="a">A</label><input id="a" aria-describedby="a-help b-missing">'
        '<p id="a-help">Help</p><label for="gone">Gone</label>'
    )
    assert page.missing() == [
        "<input aria-describedby='b-missing'>",
        "<label for='gone'>",
    ]
