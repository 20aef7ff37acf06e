"""Forms: drafts, publishing frozen versions, consent wording."""

from collections.abc import Mapping
from copy import deepcopy

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record, sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from ..definitions import ConsentWording, default_definition, definition_validate
from ..models import (
    ConsentText,
    Form,
    FormVersion,
)


def form_create(
    *,
    actor: User | None,
    name: str,
    is_default: bool = False,
    definition: Mapping[str, object] | None = None,
    template: str = "",
) -> Form:
    """A new form; ``template`` names the gallery template its definition came from, if any."""
    if not name.strip():
        raise ServiceError("validation_failed", "A form needs a name.")
    draft = definition_validate(definition if definition is not None else default_definition())
    with transaction.atomic():
        if is_default:
            Form.objects.filter(is_default=True).update(is_default=False)
        form = Form.objects.create(name=name.strip(), draft=draft, is_default=is_default)
        new: dict[str, object] = {"name": form.name}
        if template:
            new["template"] = template
        audit_record(actor=actor, action=AuditAction.FORM_CREATE, target=form, new=new)
    return form


def form_duplicate(*, actor: User | None, form: Form) -> Form:
    """A draft copy of ``form`` named "Copy of <name>": same draft, never published, no store.

    Stores name their form, so a copy no store names is shown by none; and it is never the brand
    form, which would change what every store without a form shows. The audit row is a creation
    that says what it was copied from (no action of its own: the copy is a new form like any).
    """
    longest = Form._meta.get_field("name").max_length
    name = (gettext("Copy of %(name)s") % {"name": form.name})[:longest]
    draft = definition_validate(deepcopy(form.draft))
    with transaction.atomic():
        copy = Form.objects.create(name=name, draft=draft, is_default=False)
        audit_record(
            actor=actor,
            action=AuditAction.FORM_CREATE,
            target=copy,
            new={"name": copy.name, "copied_from": {"id": form.pk, "name": form.name}},
        )
    return copy


def form_update(*, actor: User | None, form: Form, name: str, is_default: bool) -> Form:
    """Renames a form and makes it (or stops it being) the brand form every store falls back to."""
    if not name.strip():
        raise ServiceError("validation_failed", "A form needs a name.")
    with transaction.atomic():
        old = {"name": form.name, "is_default": form.is_default}
        if is_default and not form.is_default:
            Form.objects.filter(is_default=True).update(is_default=False)
        form.name, form.is_default = name.strip(), is_default
        form.save(update_fields=["name", "is_default", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.FORM_UPDATE,
            target=form,
            old=old,
            new={"name": form.name, "is_default": form.is_default},
        )
    return form


def form_draft_update(*, actor: User | None, form: Form, definition: Mapping[str, object]) -> Form:
    draft = definition_validate(definition)
    old = form.draft
    form.draft = draft
    form.save(update_fields=["draft", "updated_at"])
    audit_record(actor=actor, action=AuditAction.FORM_DRAFT_UPDATE, target=form, old=old, new=draft)
    return form


def _consent_text(*, channel: str, locale: str, text: str) -> ConsentText:
    text_hash = sha256(text)
    consent_text, _ = ConsentText.objects.get_or_create(
        channel=channel, locale=locale, text_hash=text_hash, defaults={"text": text}
    )
    return consent_text


def form_publish(*, actor: User | None, form: Form) -> FormVersion:
    """Freezes the draft as the next version; tablets pick it up on their next heartbeat.

    The frozen definition names, for each consent and language, the ConsentText row and hash
    of its wording, so a consent can be tied to its exact words without reading the form again.
    """
    definition = deepcopy(definition_validate(form.draft))
    with transaction.atomic():
        Form.objects.select_for_update().filter(pk=form.pk).first()
        for channel, consent in definition.get("consents", {}).items():
            if not consent.get("enabled"):
                continue
            references: dict[str, ConsentWording] = {}
            for locale in definition["languages"]:
                text = consent["text"][locale]
                if channel == "sms":
                    # The disclosure is part of what the shopper agreed to.
                    text = f"{text}\n{consent['disclosure'][locale]}"
                stored = _consent_text(channel=channel, locale=locale, text=text)
                references[locale] = {"id": stored.pk, "hash": stored.text_hash}
            consent["wording"] = references
        number = (form.versions.aggregate(highest=Max("number"))["highest"] or 0) + 1
        version = FormVersion.objects.create(
            form=form, number=number, definition=definition, published_by=actor
        )
        form.current_version = version
        form.save(update_fields=["current_version", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.FORM_PUBLISH,
            target=form,
            old={"version": number - 1},
            new={"version": number},
        )
    return version
