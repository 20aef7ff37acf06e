"""Who may open which portal page: the right roles get in, others get a 403 that says why,
anonymous visitors are sent to sign in, and charlie sees nothing of alice's."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
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
