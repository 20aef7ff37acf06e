"""Who may open which portal page: the right roles get in, others get a 403 that says why,
anonymous visitors are sent to sign in, and charlie sees nothing of alice's."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from signup import services
from signup.models import Device, Form, Location, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import (
    device_create,
    form_create,
    location_create,
    rejection_create,
    set_aside_create,
    staff_create,
    submission_create,
)

pytestmark = pytest.mark.django_db

OWNER, MANAGER, STAFF = "owner", "manager", "staff"
EVERYONE = {OWNER, MANAGER, STAFF}
MANAGERS = {OWNER, MANAGER}


@dataclass
class Objects:
    tenant: Tenant
    form: Form
    location: Location
    device: Device
    member: User
    set_aside: Submission
    rejection: RejectedSubmission


@pytest.fixture
def objects(alice_tenant: Tenant, bob: User) -> Objects:
    with tenant_context(alice_tenant):
        form = form_create(name="Alice secret form")
        location = location_create(code="alice-store", name="Alice secret store")
        device, _ = device_create(location, name="Alice secret tablet")
        submission_create(device, "shopper-of-alice@example.com")
        set_aside = set_aside_create(device, "set-aside-of-alice@example.com")
        rejection = rejection_create(device, "rejected-of-alice@example")
    return Objects(
        tenant=alice_tenant,
        form=form,
        location=location,
        device=device,
        member=bob,
        set_aside=set_aside,
        rejection=rejection,
    )


#: (method, path with {form} {location} {device} {member} {signup} {rejected} placeholders,
#: roles allowed)
PAGES: list[tuple[str, str, set[str]]] = [
    ("get", "/", EVERYONE),
    ("get", "/forms/", MANAGERS),
    ("get", "/forms/new/", MANAGERS),
    ("get", "/forms/{form}/", MANAGERS),
    ("post", "/forms/{form}/preview/", MANAGERS),
    ("post", "/forms/{form}/settings/", MANAGERS),
    ("get", "/stores/", MANAGERS),
    ("get", "/stores/new/", MANAGERS),
    ("get", "/stores/{location}/", MANAGERS),
    ("get", "/tablets/", EVERYONE),
    ("get", "/tablets/pair/", MANAGERS),
    ("get", "/tablets/{device}/revoke/", MANAGERS),
    ("get", "/signups/", EVERYONE),
    ("get", "/signups/export.csv", MANAGERS),
    ("get", "/signups/attention/", EVERYONE),
    ("get", "/signups/attention/export.csv", MANAGERS),
    ("get", "/signups/attention/signups/{signup}/", EVERYONE),
    ("post", "/signups/attention/signups/{signup}/release/", MANAGERS),
    ("get", "/signups/attention/signups/{signup}/discard/", MANAGERS),
    ("get", "/signups/attention/rejected/{rejected}/", EVERYONE),
    ("post", "/signups/attention/rejected/{rejected}/release/", MANAGERS),
    ("get", "/signups/attention/rejected/{rejected}/discard/", MANAGERS),
    ("get", "/team/", {OWNER}),
    ("post", "/team/{member}/", {OWNER}),
    ("get", "/settings/", MANAGERS),
    ("post", "/settings/shopper-export/", MANAGERS),
    ("post", "/settings/shopper-erase/", MANAGERS),
    ("get", "/audit/", MANAGERS),
]


def _path(template: str, objects: Objects) -> str:
    return template.format(
        form=objects.form.pk,
        location=objects.location.pk,
        device=objects.device.pk,
        member=objects.member.pk,
        signup=objects.set_aside.pk,
        rejected=objects.rejection.pk,
    )


def _request(client: Client, method: str, path: str) -> int:
    response = client.get(path) if method == "get" else client.post(path, {})
    return response.status_code


@pytest.mark.parametrize(("method", "template", "allowed"), PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(
    alice_client: Client, objects: Objects, method: str, template: str, allowed: set[str]
) -> None:
    path = _path(template, objects)
    response = alice_client.get(path) if method == "get" else alice_client.post(path, {})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("page", PAGES, ids=[f"{m} {t}" for m, t, _ in PAGES])
def test_each_role_gets_in_or_a_readable_403(
    alice_client: Client,
    alice_tenant: Tenant,
    alice: User,
    objects: Objects,
    page: tuple[str, str, set[str]],
) -> None:
    method, template, allowed = page
    path = _path(template, objects)
    with tenant_context(alice_tenant):
        sam = staff_create()
    people = {OWNER: alice, MANAGER: objects.member, STAFF: sam}
    for role, person in people.items():
        client = Client(HTTP_HOST=alice_client.defaults["HTTP_HOST"])
        login(client, alice_tenant, person)
        response = client.get(path) if method == "get" else client.post(path, {})
        if role in allowed:
            # In: a page, a form's answer or a redirect onwards, never 403, 404 or sign-in.
            assert response.status_code not in (403, 404), (role, path)
            assert not response.get("Location", "").startswith("/login/"), (role, path)
        else:
            assert response.status_code == 403, (role, path)
            assert b"You cannot do this" in response.content
            assert b"cannot" in response.content


def test_staff_sees_only_their_links(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get("/").content.decode()
    assert 'href="/tablets/"' in page
    assert 'href="/signups/"' in page
    assert 'href="/signups/attention/"' in page
    assert 'href="/settings/notifications/"' in page  # their stores' tablets and week
    for hidden in ("/forms/", "/stores/", "/team/", "/settings/", "/audit/"):
        assert f'href="{hidden}"' not in page


def test_manager_sees_no_team_link(alice_client: Client, alice_tenant: Tenant, bob: User) -> None:
    login(alice_client, alice_tenant, bob)
    page = alice_client.get("/forms/").content.decode()
    assert 'href="/forms/" aria-current="page"' in page
    assert 'href="/team/"' not in page


def test_owner_sees_every_link(alice_client: Client, alice_tenant: Tenant, alice: User) -> None:
    login(alice_client, alice_tenant, alice)
    page = alice_client.get("/").content.decode()
    for link in (
        "/forms/",
        "/stores/",
        "/tablets/",
        "/signups/",
        "/signups/attention/",
        "/team/",
        "/settings/",
        "/audit/",
    ):
        assert f'href="{link}"' in page


LIST_PAGES = [
    "/",
    "/forms/",
    "/stores/",
    "/tablets/",
    "/signups/",
    "/signups/attention/",
    "/team/",
    "/settings/",
    "/audit/",
]


@pytest.mark.parametrize("path", LIST_PAGES)
def test_charlie_sees_nothing_of_alices(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, objects: Objects, path: str
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    for secret in (
        "Alice secret",
        "shopper-of-alice@example.com",
        "alice-store",
        "of-alice",
        "bob@alice.example",
        "alice@alice.example",
    ):
        assert secret not in page, (path, secret)


DETAIL_PAGES = [
    ("get", "/forms/{form}/"),
    ("post", "/forms/{form}/preview/"),
    ("post", "/forms/{form}/settings/"),
    ("get", "/stores/{location}/"),
    ("get", "/tablets/{device}/revoke/"),
    ("post", "/tablets/{device}/revoke/"),
    ("post", "/team/{member}/"),
    ("get", "/signups/attention/signups/{signup}/"),
    ("post", "/signups/attention/signups/{signup}/release/"),
    ("post", "/signups/attention/signups/{signup}/discard/"),
    ("get", "/signups/attention/rejected/{rejected}/"),
    ("post", "/signups/attention/rejected/{rejected}/release/"),
    ("post", "/signups/attention/rejected/{rejected}/discard/"),
]


@pytest.mark.parametrize("page", DETAIL_PAGES, ids=[f"{m} {t}" for m, t in DETAIL_PAGES])
def test_alices_ids_are_not_found_on_charlies_host(
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    objects: Objects,
    page: tuple[str, str],
) -> None:
    method, template = page
    login(charlie_client, charlie_tenant, charlie)
    assert _request(charlie_client, method, _path(template, objects)) == 404
    with tenant_context(objects.tenant):
        assert Device.objects.get(pk=objects.device.pk).revoked_at is None
        assert User.objects.get(pk=objects.member.pk).is_active


def test_charlies_csv_export_holds_none_of_alices_sign_ups(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, objects: Objects
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.get("/signups/export.csv")
    body = response.getvalue().decode()  # the streamed body, joined
    assert body.count("\n") == 1  # the header only
    assert "shopper-of-alice" not in body


def test_charlie_cannot_erase_alices_shopper(
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    alice_tenant: Tenant,
    objects: Objects,
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.post(
        "/settings/shopper-erase/",
        {"erase-email": "shopper-of-alice@example.com", "confirm": "yes"},
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        from signup.models import Submission

        assert Submission.objects.filter(email="shopper-of-alice@example.com").exists()


# --- staff limited to their stores: every route of the portal, classified ----------------------

#: What a staff member limited to store A gets on each route of the retailer's host, given B's
#: objects where the route takes one. A route missing here fails the walk below: whoever adds
#: one says whether it shows store-bound data, and to whom.
#: - ``"list"``: staff open it (200) and nothing of store B is on it, while A's data is;
#: - ``"object"``: staff open A's object (200) and get 404 for B's;
#: - ``"managers"``: staff get 403 (owners and managers see every store);
#: - ``"none"``: holds no store-bound data (the kiosk's token API, sign-in, the staff member's own
#:   account and choices, whose store names are checked by ``"list"`` where they show).
STORE_ROUTES: dict[str, str] = {
    "kiosk-submit": "none",
    "kiosk": "none",
    "kiosk-sw": "none",
    "kiosk-manifest": "none",
    "api-schema": "none",
    "kiosk-pair": "none",
    "kiosk-form": "none",
    "kiosk-heartbeat": "none",
    "kiosk-submit-check": "none",
    "kiosk-rejections": "none",
    "crm-destinations": "managers",
    "crm-destination-kind": "managers",
    "crm-destination-create": "managers",
    "crm-destination": "managers",
    "crm-destination-edit": "managers",
    "crm-destination-test": "managers",
    "crm-destination-pause": "managers",
    "crm-destination-resume": "managers",
    "crm-secret-rotate": "managers",
    "crm-destination-replay": "managers",
    "crm-delivery-replay": "managers",
    "crm-submission-deliveries": "object",
    "billing-page": "managers",
    "billing-manage": "managers",
    "billing-resume": "managers",
    "billing-welcome": "none",
    "portal-home": "list",
    "portal-forms": "managers",
    "portal-form-create": "managers",
    "portal-form-edit": "managers",
    "portal-form-preview": "managers",
    "portal-form-settings": "managers",
    "portal-form-duplicate": "managers",
    "portal-form-logo": "managers",
    "logo-file": "none",
    "portal-locations": "managers",
    "portal-location-create": "managers",
    "portal-location-edit": "managers",
    "portal-devices": "list",
    "portal-device-pair": "managers",
    "portal-device-revoke": "managers",
    "portal-submissions": "list",
    "portal-submissions-export": "managers",
    "portal-submission-detail": "object",
    "portal-exports": "managers",
    "portal-export": "managers",
    "portal-export-download": "managers",
    "portal-attention": "list",
    "portal-attention-export": "managers",
    "portal-attention-signup": "object",
    "portal-attention-signup-release": "managers",
    "portal-attention-signup-discard": "managers",
    "portal-attention-rejected": "object",
    "portal-attention-rejected-release": "managers",
    "portal-attention-rejected-discard": "managers",
    "portal-settings": "managers",
    "portal-notifications": "list",
    "portal-shopper-export": "managers",
    "portal-shopper-erase": "managers",
    "portal-audit": "managers",
    "portal-team": "managers",
    "portal-member-update": "managers",
    "language-set": "none",
    "login-code": "none",
    "two-factor": "managers",
    "invitation-accept": "none",
    "login": "none",
    "logout": "none",
    "password_change": "none",
    "password_change_done": "none",
    "password_reset": "none",
    "password_reset_confirm": "none",
    "password_reset_done": "none",
    "password_reset_complete": "none",
}


@dataclass
class Store:
    location: Location
    device: Device
    signup: Submission
    set_aside: Submission
    rejection: RejectedSubmission


def _store(code: str) -> Store:
    """A store whose name, code, tablet and shoppers all carry ``code``, with a sign-up, a
    set-aside one and a rejected one, a tablet that needs someone and a pairing code pending."""
    location = location_create(code=code, name=f"{code} store")
    device, _ = device_create(location, name=f"{code} tablet")
    Device.objects.filter(pk=device.pk).update(queue_depth=2)
    signup = submission_create(device, f"{code}-shopper@example.com")
    set_aside = set_aside_create(device, f"{code}-aside@example.com")
    rejection = rejection_create(device, f"{code}-rejected@example")
    services.pairing_code_create(actor=None, location=location, device_name=f"{code} new tablet")
    return Store(location, device, signup, set_aside, rejection)


def _routes(patterns: list[Any]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern


def _object_arguments(name: str, store: Store) -> dict[str, Any]:
    """The route's arguments naming ``store``'s object (every ``"object"`` route has one)."""
    return {
        "crm-submission-deliveries": {"submission_id": store.signup.pk},
        "portal-submission-detail": {"pk": store.signup.pk},
        "portal-attention-signup": {"pk": store.set_aside.pk},
        "portal-attention-rejected": {"pk": store.rejection.pk},
    }[name]


def _placeholder_arguments(pattern: URLPattern) -> dict[str, Any]:
    """Any well-formed arguments: a staff member is refused before they are looked up."""
    values = {"int": 1, "uuid": uuid.uuid4(), "slug": "webhook", "str": "x"}
    return {
        name: values.get(type(converter).__name__.removesuffix("Converter").lower(), "x")
        for name, converter in pattern.pattern.converters.items()
    }


def test_staff_limited_to_a_store_see_nothing_of_another_on_any_route(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form_create()
        alpha, bravo = _store("alpha-marker"), _store("bravo-marker")
        sam = staff_create()
        services.location_staff_set(actor=None, location=alpha.location, staff=[sam])
    login(alice_client, alice_tenant, sam)
    patterns = list(_routes(get_resolver("customerinfo.urls_tenants").url_patterns))
    unclassified = sorted({str(p.name) for p in patterns} - set(STORE_ROUTES))
    assert unclassified == [], "classify these routes in STORE_ROUTES"
    walked = 0
    for pattern in patterns:
        name = str(pattern.name)
        kind = STORE_ROUTES[name]
        if kind == "none":
            continue
        walked += 1
        if kind == "managers":
            path = reverse(name, kwargs=_placeholder_arguments(pattern))
            assert alice_client.get(path).status_code == 403, path
        elif kind == "object":
            mine = alice_client.get(reverse(name, kwargs=_object_arguments(name, alpha)))
            assert mine.status_code == 200, name
            assert "alpha-marker" in mine.content.decode(), name
            theirs = alice_client.get(reverse(name, kwargs=_object_arguments(name, bravo)))
            assert theirs.status_code == 404, name
            assert "bravo-marker" not in theirs.content.decode(), name
        else:
            response = alice_client.get(reverse(name))
            assert response.status_code == 200, name
            page = response.content.decode()
            assert "bravo-marker" not in page, name
            assert "alpha-marker" in page, name
    assert walked >= 40
