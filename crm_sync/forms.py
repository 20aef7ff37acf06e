"""Portal forms of CRM sync: a destination (per-kind settings and write-only credentials, field
mapping, which forms and stores it takes sign-ups from) and the replay of a time range.

What each kind of CRM asks for is declared once, in ``KIND_FIELDS``; the form, the page and the
split between ``settings`` (shown back) and ``credentials`` (never shown back) all follow it.
"""

import re
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from django import forms
from django.utils import timezone

from signup.definitions import STANDARD_TYPES
from signup.models import Form, FormVersion, Location

from .endpoints import UrlError, url_normalise
from .models import Destination, DestinationKind
from .providers import PROVIDERS


@dataclass(frozen=True)
class KindField:
    """One setting or credential of a kind of CRM."""

    name: str
    label: str
    help: str = ""
    #: Credentials are encrypted, never shown back, and left unchanged when submitted empty.
    secret: bool = False
    #: Only marks the input; what is really required is the provider's to say.
    required: bool = True


KIND_FIELDS: dict[str, tuple[KindField, ...]] = {
    DestinationKind.WEBHOOK: (
        KindField("url", "Endpoint URL", "Where each sign-up is POSTed, e.g. https://…/hooks."),
        KindField(
            "secret",
            "Signing secret",
            "A whsec_… secret. Leave empty and we generate one and show it to you once.",
            secret=True,
            required=False,
        ),
    ),
    DestinationKind.HUBSPOT: (
        KindField(
            "base_url",
            "API address",
            "Leave empty for https://api.hubapi.com.",
            required=False,
        ),
        KindField(
            "access_token",
            "Private app access token",
            "From Settings → Integrations → Private apps; scopes crm.objects.contacts.write "
            "and crm.schemas.contacts.read.",
            secret=True,
        ),
    ),
    DestinationKind.SALESFORCE: (
        KindField(
            "login_url",
            "My Domain login URL",
            "https://yourdomain.my.salesforce.com (not login.salesforce.com).",
        ),
        KindField("api_version", "API version", "Leave empty for v61.0.", required=False),
        KindField(
            "external_id_field",
            "External id field on Lead",
            "Leave empty for CustomerInfo_Id__c.",
            required=False,
        ),
        KindField(
            "default_company",
            "Company of new leads",
            "Leave empty to use the store's name.",
            required=False,
        ),
        KindField("client_id", "Consumer key (client id)", secret=True),
        KindField("client_secret", "Consumer secret", secret=True),
    ),
    DestinationKind.MAILCHIMP: (
        KindField("list_id", "Audience id", "Audience → Settings → Audience name and defaults."),
        KindField(
            "base_url",
            "API address",
            "Leave empty: it follows from the API key's datacenter.",
            required=False,
        ),
        KindField(
            "consent_merge_field",
            "Merge field for the consent wording",
            "Optional: a text merge tag (e.g. CONSENT) that receives which wording was agreed.",
            required=False,
        ),
        KindField(
            "postal_code_merge_field",
            "Merge field for the postal code",
            "Optional: a text merge tag (e.g. ZIP).",
            required=False,
        ),
        KindField("api_key", "API key", "Ends in its datacenter, like …-us21.", secret=True),
    ),
    DestinationKind.KLAVIYO: (
        KindField("list_id", "List id", "Lists & segments → the list → Settings."),
        KindField(
            "base_url", "API address", "Leave empty for https://a.klaviyo.com.", required=False
        ),
        KindField("api_key", "Private API key", "Starts with pk_.", secret=True),
    ),
}


def kinds_available() -> list[tuple[str, str]]:
    """The kinds a retailer can choose: those whose provider is installed."""
    return [(value, label) for value, label in DestinationKind.choices if value in PROVIDERS]


def mapping_keys_known() -> list[str]:
    """Form field keys a mapping may name: the standard fields and every form's own questions.

    Published versions count as well as drafts: sign-ups of an older version still go out.
    """
    keys = set(STANDARD_TYPES)
    definitions = [*Form.objects.values_list("draft", flat=True)]
    definitions += FormVersion.objects.values_list("definition", flat=True)
    for definition in definitions:
        fields = definition.get("fields") if isinstance(definition, dict) else None
        for spec in fields if isinstance(fields, list) else []:
            if isinstance(spec, dict) and isinstance(spec.get("key"), str):
                keys.add(spec["key"])
    return sorted(keys)


_MAPPING_LINE = re.compile(r"^(?P<field>[^=]*)=(?P<property>.*)$")
MAX_PROPERTY_LENGTH = 100


def mapping_parse(text: str, *, known: list[str]) -> tuple[dict[str, str], list[str]]:
    """``field = property`` lines -> mapping, and one readable error per bad line.

    Blank lines and lines starting with # are skipped, so a retailer can keep notes.
    """
    mapping: dict[str, str] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _MAPPING_LINE.match(line)
        if match is None:
            errors.append(f"Line {number}: write it as “form field = CRM property”.")
            continue
        form_field, crm_property = match["field"].strip(), match["property"].strip()
        if not form_field or not crm_property:
            errors.append(f"Line {number}: both sides of “=” are needed.")
        elif form_field not in known:
            errors.append(f"Line {number}: “{form_field}” is not a field of any of your forms.")
        elif form_field in mapping:
            errors.append(f"Line {number}: “{form_field}” is already mapped above.")
        elif len(crm_property) > MAX_PROPERTY_LENGTH:
            errors.append(f"Line {number}: the CRM property name is too long.")
        else:
            mapping[form_field] = crm_property
    return mapping, errors


def mapping_text(mapping: dict[str, Any]) -> str:
    return "\n".join(
        f"{form_field} = {crm_property}" for form_field, crm_property in mapping.items()
    )


class DestinationForm(forms.Form):
    """A destination of one kind. With ``destination``, edits it: secrets are write-only."""

    name = forms.CharField(max_length=120)

    def __init__(
        self, *args: Any, kind: str, destination: Destination | None = None, **kwargs: Any
    ) -> None:
        if destination is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(destination)
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.destination = destination
        for spec in KIND_FIELDS[kind]:
            if spec.secret:
                help_text = spec.help
                if destination is not None:
                    # Secrets are never sent back to the browser: empty keeps the stored one.
                    help_text = "Stored and hidden. Leave empty to keep it; type to replace it."
                self.fields[spec.name] = forms.CharField(
                    label=spec.label,
                    help_text=help_text,
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(
                        render_value=False, attrs={"autocomplete": "new-password"}
                    ),
                )
            else:
                self.fields[spec.name] = forms.CharField(
                    label=spec.label, help_text=spec.help, required=False, max_length=500
                )
            # The provider says what is missing, in its own words; the marker only guides.
            if spec.required and not (spec.secret and destination is not None):
                self.fields[spec.name].widget.attrs["aria-required"] = "true"
        self.known_keys = mapping_keys_known()
        self.fields["field_mapping"] = forms.CharField(
            required=False,
            label="Field mapping",
            help_text=(
                "One “form field = CRM property” per line, for fields the CRM does not get "
                "by itself, e.g. “drink = favourite_drink”. Your forms' fields: "
                + ", ".join(self.known_keys)
                + "."
            ),
            widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        )
        self.fields["forms"] = forms.ModelMultipleChoiceField(
            queryset=Form.objects.all(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="Sign-ups from these forms",
            help_text="None ticked: every form.",
        )
        self.fields["locations"] = forms.ModelMultipleChoiceField(
            queryset=Location.objects.all(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label="Sign-ups from these stores",
            help_text="None ticked: every store.",
        )
        self.fields["enabled"] = forms.BooleanField(
            required=False, label="Enabled (new sign-ups are sent to it)"
        )

    @staticmethod
    def initial_for(destination: Destination) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": destination.name,
            "field_mapping": mapping_text(destination.field_mapping or {}),
            "forms": list(destination.forms.values_list("pk", flat=True)),
            "locations": list(destination.locations.values_list("pk", flat=True)),
            "enabled": destination.enabled,
        }
        for spec in KIND_FIELDS[destination.kind]:
            if not spec.secret:
                initial[spec.name] = destination.settings.get(spec.name, "")
        return initial

    def clean(self) -> dict[str, Any]:
        """Every URL typed is read by ``crm_sync.endpoints`` and kept in its normal form; one
        that cannot be read is an error on its input (the service checks again on save)."""
        data = super().clean() or {}
        provider = PROVIDERS.get(self.kind)
        for name, role in (provider.url_settings if provider else {}).items():
            value = data.get(name)
            if not value:
                continue
            try:
                data[name] = url_normalise(value, role=role)
            except UrlError as error:
                self.add_error(name, forms.ValidationError(error.message, code=error.code))
        return data

    def clean_field_mapping(self) -> dict[str, str]:
        mapping, errors = mapping_parse(self.cleaned_data["field_mapping"], known=self.known_keys)
        if errors:
            raise forms.ValidationError(errors)
        return mapping

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[spec.name] for spec in KIND_FIELDS[self.kind]]

    def settings(self) -> dict[str, Any]:
        """What is not secret. Keys this form does not show are kept, never dropped."""
        stored = dict(self.destination.settings) if self.destination is not None else {}
        shown = {
            spec.name: self.cleaned_data[spec.name].strip()
            for spec in KIND_FIELDS[self.kind]
            if not spec.secret
        }
        return {**stored, **shown}

    def credentials(self) -> dict[str, str]:
        """The secrets typed in; an empty one keeps the stored value (destination_update)."""
        return {
            spec.name: self.cleaned_data[spec.name]
            for spec in KIND_FIELDS[self.kind]
            if spec.secret
        }


class PauseForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Why (shown on this page)",
        help_text="Optional, e.g. “CRM maintenance tonight”.",
    )


DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ReplayForm(forms.Form):
    """A time range of sign-ups, typed in ``zone``; both ends are optional."""

    since = forms.DateTimeField(
        required=False,
        label="From",
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        required=False,
        label="To",
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, zone: tzinfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.zone = zone

    def full_clean(self) -> None:
        # DateTimeField makes naive input aware in the current time zone; the page promises
        # the store's zone, so that is the current one while the inputs are read.
        with timezone.override(self.zone):
            super().full_clean()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "“To” must be later than “From”.")
        return data
