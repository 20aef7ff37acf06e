"""Logos: an image a manager uploads for a form, checked, kept in storage, served by us.

The type is read from the file's first bytes (PNG, JPEG, WebP), never from its name or the
browser's word. SVG is refused: it is a document that can carry script, and a logo needs none.
"""

from copy import deepcopy
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction

from customerinfo.core.accounts.models import User
from customerinfo.core.errors import ServiceError
from customerinfo.core.tenancy import current_schema

from ..models import Form, Logo
from .forms import form_draft_update

#: What a logo may be: content type and file extension, by the signature its bytes start with.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
#: The path the logo is served at on the retailer's host (signup.views.logos.logo_file).
LOGO_PATH = "/logos/"


def logos_storage() -> Storage:
    return storages["logos"]


def logo_sniff(head: bytes) -> tuple[str, str] | None:
    """The content type and extension of an image by its first bytes; None if not one we take."""
    for signature, content_type, extension in SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def logo_url(logo: Logo) -> str:
    return f"{LOGO_PATH}{logo.file_name.rsplit('/', 1)[-1]}"


def logo_upload(*, actor: User | None, form: Form, upload: IO[bytes], size: int) -> Logo:
    """Keeps ``upload`` as the logo of ``form``'s draft; published with the draft's next version.

    Raises ServiceError ``logo_too_large`` or ``logo_type`` with a readable message.
    """
    limit = settings.LOGO_MAX_BYTES
    if size > limit:
        raise ServiceError(
            "logo_too_large",
            f"The logo is {size // 1024} KB; it may be at most {limit // 1024} KB.",
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ServiceError(
            "logo_too_large",
            f"The logo may be at most {limit // 1024} KB.",
        )
    sniffed = logo_sniff(content[:16])
    if sniffed is None:
        raise ServiceError(
            "logo_type",
            "The logo must be a PNG, JPEG or WebP image (SVG is not accepted).",
        )
    content_type, extension = sniffed
    logo = Logo(content_type=content_type, size=len(content), uploaded_by=actor)
    # The schema in the name keeps retailers' files apart in a storage they all share.
    logo.file_name = f"{current_schema()}/{logo.id}.{extension}"
    stored = logos_storage().save(logo.file_name, ContentFile(content))
    if stored != logo.file_name:  # pragma: no cover - a random name is never taken
        raise ServiceError("logo_store_failed", "The logo could not be stored; try again.")
    definition = deepcopy(form.draft)
    definition.setdefault("branding", {})["logo_url"] = logo_url(logo)
    try:
        with transaction.atomic():
            logo.save(force_insert=True)
            form_draft_update(actor=actor, form=form, definition=definition)
    except BaseException:
        logos_storage().delete(logo.file_name)
        raise
    return logo
