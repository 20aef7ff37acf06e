"""Portal forms: plain Django forms, one module per portal page, and the form builder.

Callers import from here (``from signup.forms import X``); the modules are how the code is kept
readable, not part of the interface.
"""

from ..definitions import text_in_language as _in_language
from .builder import builder_apply, builder_parse
from .builder_page import builder_present
from .errors import service_errors_to_form
from .form_settings import FormCreateForm, FormSettingsForm
from .labels import LANGUAGE_NAMES, TYPE_NAMES
from .settings import RetentionForm, ShopperEmailForm
from .signups import DateJumpForm, SubmissionFilterForm
from .stores import LocationEditForm, LocationForm
from .tablets import PairForm

__all__ = [
    "LANGUAGE_NAMES",
    "TYPE_NAMES",
    "DateJumpForm",
    "FormCreateForm",
    "FormSettingsForm",
    "LocationEditForm",
    "LocationForm",
    "PairForm",
    "RetentionForm",
    "ShopperEmailForm",
    "SubmissionFilterForm",
    # signup/attention_forms.py still imports it by this name; signup.definitions has it as
    # text_in_language, where new code should take it from.
    "_in_language",
    "builder_apply",
    "builder_parse",
    "builder_present",
    "service_errors_to_form",
]
