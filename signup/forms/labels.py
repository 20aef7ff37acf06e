"""How the portal names languages and field types to a retailer.

The kiosk has its own words for shoppers (frontend/static/kiosk/i18n.js); these are the portal's.
"""

from django.utils.translation import gettext_lazy as _

# Each language by its own name, never translated: a reader finds theirs whatever the page's
# language (the store page's choice and the builder's text boxes say the same).
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}

# Lazy: the map is built at import, and each page shows it in its reader's language.
TYPE_NAMES = {
    "email": _("Email address"),
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "phone": _("Phone number"),
    "birthday": _("Birthday (month and day)"),
    "postal_code": _("Postal code"),
    "single_choice": _("Single choice"),
    "multiple_choice": _("Multiple choice"),
    "checkbox": _("Yes/no checkbox"),
    "short_text": _("Short text"),
}
