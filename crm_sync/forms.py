"""Portal forms of CRM sync: a destination (per-kind settings and write-only credentials, field
mapping, which forms and stores it takes sign-ups from) and the replay of a time range.

What each kind of CRM asks for is declared once, in ``KIND_FIELDS``; the form, the page and the
split between ``settings`` (shown back) and ``credentials`` (never shown back) all follow it.

The field mapping (``mapping_text``) is checked against the CRM's property types before it is
saved: a mapping the CRM could not take (a checkbox into a Mailchimp merge field, a birthday into
a Salesforce date, a choice with words into a number) is refused with the reason. Declared types
(``drinks = interests (multi-select)``) are kept in the settings (``property_types``).
"""

from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from signup.models import Form, Location

if TYPE_CHECKING:  # django-stubs' name for a lazy string; Django itself has none to import
    from django.utils.functional import _StrPromise

from .endpoints import UrlError, url_normalise
from .mapping_text import (
    mapping_errors,
    mapping_parse_typed,
    mapping_sources,
    mapping_text,
)
from .models import Destination, DestinationKind
from .providers import PROVIDERS
from .providers.mapping import PROPERTY_TYPE_NAMES, SIGNUP_DATE


@dataclass(frozen=True)
class KindField:
    """One setting or credential of a kind of CRM."""

    name: str
    label: "str | _StrPromise"
    help: "str | _StrPromise" = ""
    #: Credentials are encrypted, never shown back, and left unchanged when submitted empty.
    secret: bool = False
    #: Only marks the input; what is really required is the provider's to say.
    required: bool = True
    #: A yes/no setting (a checkbox), stored as true or false.
    boolean: bool = False


KIND_FIELDS: dict[str, tuple[KindField, ...]] = {
    DestinationKind.WEBHOOK: (
        KindField(
            "url", _("Endpoint URL"), _("Where each sign-up is POSTed, e.g. https://…/hooks.")
        ),
        KindField(
            "secret",
            _("Signing secret"),
            _("A whsec_… secret. Leave empty and we generate one and show it to you once."),
            secret=True,
            required=False,
        ),
    ),
    DestinationKind.HUBSPOT: (
        KindField(
            "base_url",
            _("API address"),
            _("Leave empty for https://api.hubapi.com."),
            required=False,
        ),
        KindField(
            "access_token",
            _("Private app access token"),
            _(
                "From Settings → Integrations → Private apps; scopes crm.objects.contacts.write "
                "and crm.schemas.contacts.read."
            ),
            secret=True,
        ),
    ),
    DestinationKind.SALESFORCE: (
        KindField(
            "login_url",
            _("My Domain login URL"),
            _("https://yourdomain.my.salesforce.com (not login.salesforce.com)."),
        ),
        KindField("api_version", _("API version"), _("Leave empty for v61.0."), required=False),
        KindField(
            "external_id_field",
            _("External id field on Lead"),
            _("Leave empty for CustomerInfo_Id__c."),
            required=False,
        ),
        KindField(
            "default_company",
            _("Company of new leads"),
            _("Leave empty to use the store's name."),
            required=False,
        ),
        KindField("client_id", _("Consumer key (client id)"), secret=True),
        KindField("client_secret", _("Consumer secret"), secret=True),
    ),
    DestinationKind.MAILCHIMP: (
        KindField(
            "list_id", _("Audience id"), _("Audience → Settings → Audience name and defaults.")
        ),
        KindField(
            "base_url",
            _("API address"),
            _("Leave empty: it follows from the API key's datacenter."),
            required=False,
        ),
        KindField(
            "consent_merge_field",
            _("Merge field for the consent wording"),
            _("Optional: a text merge tag (e.g. CONSENT) that receives which wording was agreed."),
            required=False,
        ),
        KindField(
            "postal_code_merge_field",
            _("Merge field for the postal code"),
            _("Optional: a text merge tag (e.g. ZIP)."),
            required=False,
        ),
        KindField("api_key", _("API key"), _("Ends in its datacenter, like …-us21."), secret=True),
    ),
    DestinationKind.KLAVIYO: (
        KindField("list_id", _("List id"), _("Lists & segments → the list → Settings.")),
        KindField(
            "base_url",
            _("API address"),
            _("Leave empty for https://a.klaviyo.com."),
            required=False,
        ),
        KindField(
            "welcome_flows",
            _("Send welcome flows"),
            _(
                "Subscribe sign-ups as Klaviyo's own forms do, so the list's “Added to list” flows "
                "(welcome emails) run. Unticked, they are imported as past consent and no flow "
                "runs. Forms with double opt-in always let the list ask for confirmation."
            ),
            required=False,
            boolean=True,
        ),
        KindField(
            "shared_phone_sms",
            _("SMS for shared numbers"),
            _(
                "When a shopper's number already belongs to another Klaviyo profile (a partner's, "
                "say), subscribe that profile to SMS with the shopper's consent. Unticked, the "
                "shopper is signed up for email and SMS is left out, with the reason in the log."
            ),
            required=False,
            boolean=True,
        ),
        KindField("api_key", _("Private API key"), _("Starts with pk_."), secret=True),
    ),
}


def kinds_available() -> list[tuple[str, str]]:
    """The kinds a retailer can choose: those whose provider is installed, named in the
    active language (called per request)."""
    return [(value, str(label)) for value, label in DestinationKind.choices if value in PROVIDERS]


class DestinationForm(forms.Form):
    """A destination of one kind. With ``destination``, edits it: secrets are write-only."""

    name = forms.CharField(label=_("Name"), max_length=120)

    def __init__(
        self, *args: Any, kind: str, destination: Destination | None = None, **kwargs: Any
    ) -> None:
        if destination is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(destination)
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.destination = destination
        for spec in KIND_FIELDS[kind]:
            if spec.boolean:
                self.fields[spec.name] = forms.BooleanField(
                    label=spec.label, help_text=spec.help, required=False
                )
                continue
            if spec.secret:
                help_text = spec.help
                if destination is not None:
                    # Secrets are never sent back to the browser: empty keeps the stored one.
                    help_text = _("Stored and hidden. Leave empty to keep it; type to replace it.")
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
        self.sources = mapping_sources()
        self.known_keys = sorted(self.sources)
        self.property_types: dict[str, str] = {}
        self.fields["field_mapping"] = forms.CharField(
            required=False,
            label=_("Field mapping"),
            help_text=gettext(
                "One “form field = CRM property” per line, for fields the CRM does not get "
                "by itself, e.g. “drink = favourite_drink”. Add the property's type in "
                "brackets when it is a custom property of another type than the answer's, e.g. "
                "“household = household_size (number)”; types: %(types)s. What can be mapped: "
                "%(keys)s (%(signup_date)s is the day of the sign-up)."
            )
            % {
                "types": ", ".join(sorted(PROPERTY_TYPE_NAMES)),
                "keys": ", ".join(self.known_keys),
                "signup_date": SIGNUP_DATE,
            },
            widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        )
        self.fields["forms"] = forms.ModelMultipleChoiceField(
            queryset=Form.objects.all(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label=_("Sign-ups from these forms"),
            help_text=_("None ticked: every form."),
        )
        self.fields["locations"] = forms.ModelMultipleChoiceField(
            queryset=Location.objects.all(),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            label=_("Sign-ups from these stores"),
            help_text=_("None ticked: every store."),
        )
        self.fields["enabled"] = forms.BooleanField(
            required=False, label=_("Enabled (new sign-ups are sent to it)")
        )

    @staticmethod
    def initial_for(destination: Destination) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": destination.name,
            "field_mapping": mapping_text(
                destination.field_mapping or {}, destination.settings.get("property_types")
            ),
            "forms": list(destination.forms.values_list("pk", flat=True)),
            "locations": list(destination.locations.values_list("pk", flat=True)),
            "enabled": destination.enabled,
        }
        for spec in KIND_FIELDS[destination.kind]:
            if not spec.secret:
                default = False if spec.boolean else ""
                initial[spec.name] = destination.settings.get(spec.name, default)
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
        mapping, types, errors = mapping_parse_typed(
            self.cleaned_data["field_mapping"], known=self.known_keys
        )
        # Checked before anything is sent: a mapping the CRM cannot take is refused here, with
        # the reason, rather than failing every sign-up later.
        errors += mapping_errors(self.kind, mapping, types, self.sources)
        if errors:
            raise forms.ValidationError(errors)
        self.property_types = types
        return mapping

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[spec.name] for spec in KIND_FIELDS[self.kind]]

    def settings(self) -> dict[str, Any]:
        """What is not secret. Keys this form does not show are kept, never dropped."""
        stored = dict(self.destination.settings) if self.destination is not None else {}
        stored.pop("property_types", None)
        shown = {
            spec.name: self.cleaned_data[spec.name]
            if spec.boolean
            else self.cleaned_data[spec.name].strip()
            for spec in KIND_FIELDS[self.kind]
            if not spec.secret
        }
        if self.property_types:
            shown["property_types"] = self.property_types
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
        label=_("Why (shown on this page)"),
        help_text=_("Optional, e.g. “CRM maintenance tonight”."),
    )


DATETIME_LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ReplayForm(forms.Form):
    """A time range of sign-ups, typed in ``zone``; both ends are optional."""

    since = forms.DateTimeField(
        required=False,
        label=_("From"),
        input_formats=DATETIME_LOCAL_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        required=False,
        label=_("To"),
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
            self.add_error("until", gettext("“To” must be later than “From”."))
        return data
