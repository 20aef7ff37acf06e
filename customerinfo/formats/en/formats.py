"""English dates in the portal: year first, 24-hour clock, readable the same on every continent.

Names Django's format modules look for; anything not named here is Django's own English.
"""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
