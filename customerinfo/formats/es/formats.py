"""Spanish numbers in the portal: "4.001", grouped by a dot as Spanish retailers write figures
(Django's own Spanish groups with a space, the RAE's advice, which reads as two numbers in a
table). Anything not named here is Django's own Spanish."""

THOUSAND_SEPARATOR = "."
