"""English dates in the portal: year first, 24-hour clock, readable the same on every continent.

Names Django's format modules look for; anything not named here is Django's own English.
Written-out dates put the day first ("24 November 2026"): Django's "Nov. 24, 2026" reads
differently in London and New York, and the French and Spanish pages say the day first too.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y H:i"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
