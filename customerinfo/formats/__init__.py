"""The portal's own date formats per language, where Django's do not suit (FORMAT_MODULE_PATH).

English dates: Django's are the United States' ("03/14/2025 2:05 p.m."), ambiguous for shops in
Europe; French and Spanish keep Django's own ("14/03/2025 14:05"). Spanish numbers group with a
dot ("4.001"); French keep Django's no-break space.
"""
