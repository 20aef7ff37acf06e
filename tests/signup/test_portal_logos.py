"""Logo uploads: checked by content and size, kept in storage, served from the retailer's own
host only, shown in the portal's header."""

import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape
from django_tenants.utils import tenant_context
from pytest_django import Settings

from signup import services
from signup.models import Form, Logo
from signup.services.logos import logo_sniff
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import form_create, staff_create

pytestmark = pytest.mark.django_db


def png(width: int = 2, height: int = 1) -> bytes:
    """A real, tiny PNG (red pixels), made here so the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture(autouse=True)
def _logos_in_a_folder_of_their_own(settings: Settings, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "logos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


def upload(client: Client, form: Form, content: bytes, name: str = "logo.png") -> str:
    response = client.post(
        f"/forms/{form.pk}/logo/", {"logo": SimpleUploadedFile(name, content)}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def test_sniffing_reads_the_bytes_not_the_name() -> None:
    assert logo_sniff(png()) == ("image/png", "png")
    assert logo_sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == ("image/jpeg", "jpg")
    assert logo_sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert logo_sniff(SVG) is None
    assert logo_sniff(b"GIF89a") is None


def test_a_png_is_kept_and_served_from_the_shop_host(
    manager_client: Client, alice_tenant: Tenant, tmp_path: Path
) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    page = upload(manager_client, form, png())
    assert "Logo uploaded. Publish the form for tablets to show it." in page
    with tenant_context(alice_tenant):
        logo = Logo.objects.get()
        form.refresh_from_db()
        url = form.draft["branding"]["logo_url"]
    assert url == f"/logos/{logo.id}.png"
    assert (logo.content_type, logo.size) == ("image/png", len(png()))
    assert (tmp_path / logo.file_name).read_bytes() == png()
    assert logo.file_name.startswith(f"{alice_tenant.schema_name}/")
    served = Client(HTTP_HOST=manager_client.defaults["HTTP_HOST"]).get(url)  # no sign-in
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == png()  # type: ignore[attr-defined]
    assert served["Content-Type"] == "image/png"
    assert "immutable" in served["Cache-Control"]
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (SVG, "logo.png", "must be a PNG, JPEG or WebP image (SVG is not accepted)"),
        (SVG, "logo.svg", "must be a PNG, JPEG or WebP image (SVG is not accepted)"),
        (b"<html><script>alert(1)</script>", "logo.jpg", "must be a PNG, JPEG or WebP"),
        (png() + b"\x00" * 600_000, "big.png", "may be at most 512 KB"),
    ],
    ids=["svg-named-png", "svg", "html-named-jpg", "too-large"],
)
def test_what_is_not_a_small_image_is_refused(
    manager_client: Client, alice_tenant: Tenant, content: bytes, name: str, message: str
) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
        draft = form.draft
    page = upload(manager_client, form, content, name)
    assert message in page
    with tenant_context(alice_tenant):
        assert not Logo.objects.exists()
        form.refresh_from_db()
        assert form.draft == draft


def test_no_file_is_a_readable_error(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    response = manager_client.post(f"/forms/{form.pk}/logo/", {}, follow=True)
    assert "Choose an image file to upload as the logo." in response.content.decode()


def test_staff_cannot_upload(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
        login(alice_client, alice_tenant, staff_create())
    response = alice_client.post(
        f"/forms/{form.pk}/logo/", {"logo": SimpleUploadedFile("logo.png", png())}
    )
    assert response.status_code == 403
    with tenant_context(alice_tenant):
        assert not Logo.objects.exists()


def test_charlie_cannot_fetch_or_replace_alices_logo(
    manager_client: Client,
    alice_tenant: Tenant,
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: object,
) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    upload(manager_client, form, png())
    with tenant_context(alice_tenant):
        url = Form.objects.get(pk=form.pk).draft["branding"]["logo_url"]
    # The same address on charlie's host names nothing: the row is in alice's schema.
    assert charlie_client.get(url).status_code == 404
    login(charlie_client, charlie_tenant, charlie)  # type: ignore[arg-type]
    assert charlie_client.get(url).status_code == 404
    response = charlie_client.post(
        f"/forms/{form.pk}/logo/", {"logo": SimpleUploadedFile("logo.png", png())}
    )
    assert response.status_code == 404
    with tenant_context(charlie_tenant):
        assert not Logo.objects.exists()
    # Nor a guess at another extension, or a name that is not a logo's.
    assert manager_client.get(url.replace(".png", ".jpg")).status_code == 404
    assert manager_client.get("/logos/not-a-logo.png").status_code == 404


def test_the_header_shows_the_published_logo_else_the_name(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form = form_create()
    page = manager_client.get("/stores/").content.decode()
    assert 'class="brand-logo"' not in page
    assert f'<a class="brand" href="/">{escape(alice_tenant.name)}</a>' in page
    upload(manager_client, form, png())
    with tenant_context(alice_tenant):
        form.refresh_from_db()
        url = form.draft["branding"]["logo_url"]
        # The header shows what shoppers see: the published version's logo.
        assert f'src="{url}"' not in manager_client.get("/stores/").content.decode()
        services.form_publish(actor=None, form=form)
    page = manager_client.get("/stores/").content.decode()
    assert f'<img class="brand-logo" src="{url}" alt="{escape(alice_tenant.name)}">' in page
