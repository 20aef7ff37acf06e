"""The Notifications page: which alerts and digest a member gets, and their scheduled export."""

import copy
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import ExportSchedule, NotificationPreference
from .signups import SubmissionFilterForm

#: The sign-up list's filters a scheduled export can keep (its dates are the period's own).
EXPORT_FILTERS = ("email", "location", "form", "consent")


class NotificationsForm(forms.Form):
    tablet_offline = forms.BooleanField(
        required=False,
        label=_("A tablet is offline with sign-ups unsent for over an hour"),
    )
    destination_paused = forms.BooleanField(
        required=False, label=_("A CRM is paused and sign-ups to it are on hold")
    )
    weekly_digest = forms.BooleanField(
        required=False,
        label=_("A weekly digest, Monday morning: sign-ups per store and what needs attention"),
    )
    export_schedule = forms.ChoiceField(
        choices=ExportSchedule.choices,
        required=False,
        widget=forms.RadioSelect,
        label=_("Scheduled export of sign-ups (CSV, emailed as a link)"),
    )

    def __init__(self, *args: Any, staff: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if staff:
            # Staff hear of their stores' tablets and week only: a CRM is every store's, and
            # exports are for owners and managers.
            for name in ("destination_paused", "export_schedule"):
                del self.fields[name]
            return
        filters = SubmissionFilterForm.base_fields
        for name in EXPORT_FILTERS:
            self.fields[name] = copy.deepcopy(filters[name])
        self.fields["location"].help_text = _("Which sign-ups the scheduled export holds.")

    @classmethod
    def initial_of(
        cls, preference: NotificationPreference, list_filters: dict[str, str]
    ) -> dict[str, Any]:
        """The saved choices; the sign-up list's filters when the member came from it."""
        saved = dict(preference.export_filters)
        chosen = {name: list_filters[name] for name in EXPORT_FILTERS if list_filters.get(name)}
        return {
            "tablet_offline": preference.tablet_offline,
            "destination_paused": preference.destination_paused,
            "weekly_digest": preference.weekly_digest,
            "export_schedule": preference.export_schedule,
            **{name: saved.get(name, "") for name in EXPORT_FILTERS},
            **chosen,
        }

    def export_filters(self) -> dict[str, str]:
        """The chosen filters as ``SignupFilters.as_json`` writes them; empty ones left out."""
        if "export_schedule" not in self.fields:
            return {}
        data = self.cleaned_data
        values = {
            "email": (data.get("email") or "").strip(),
            "location": str(data["location"].pk) if data.get("location") else "",
            "form": str(data["form"].pk) if data.get("form") else "",
            "consent": data.get("consent") or "",
        }
        return {name: value for name, value in values.items() if value}
