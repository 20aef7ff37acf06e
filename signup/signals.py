"""What the sign-up app tells whoever listens, without knowing who does.

Billing bills one seat per paired tablet; the sign-up app sits below billing and must not import
it, so it announces the change and billing (``billing.apps``) listens.
"""

from django.dispatch import Signal

#: A tablet was paired or revoked in the current tenant's schema. Sent after the change commits;
#: no arguments beyond ``sender``.
tablets_changed = Signal()
