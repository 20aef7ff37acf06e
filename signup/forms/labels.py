"""How the portal names languages and field types to a retailer.

The kiosk has its own words for shoppers (frontend/static/kiosk/i18n.js); these are the portal's.
"""

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}

TYPE_NAMES = {
    "email": "Email address",
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone number",
    "birthday": "Birthday (month and day)",
    "postal_code": "Postal code",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "checkbox": "Yes/no checkbox",
    "short_text": "Short text",
}
