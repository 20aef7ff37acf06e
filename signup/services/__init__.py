"""Writes of the sign-up app, one module per sub-domain; keyword-only.

Callers import from here (``from signup import services``); the modules are how the code is
kept readable, not part of the interface.
"""

from customerinfo.core.audit import audit_record, sha256

from .exports import (
    export_is_downloadable,
    export_link,
    export_request,
    export_run,
    exports_purge,
    exports_storage,
)
from .forms import form_create, form_draft_update, form_duplicate, form_publish, form_update
from .privacy import (
    PURGE_BATCH_SIZE,
    retailer_settings,
    retention_purge,
    retention_update,
    shopper_erase,
    shopper_export,
)
from .recovery import (
    MAX_PAYLOAD,
    REJECTED_CODES,
    rejection_discard,
    rejection_record,
    rejection_release,
    set_aside_discard,
    set_aside_release,
    submission_check,
    submission_receive,
)
from .store_staff import location_staff_set
from .stores import location_create, location_update
from .submissions import (
    DEVICE_REFUSED,
    DeviceRefusedError,
    LocationClosedError,
    form_version,
    form_version_cache_clear,
    submission_create,
    submission_prepare,
)
from .tablets import (
    MAX_HELD_REASONS,
    MAX_QUEUE_REPORT,
    device_for_report,
    device_for_token,
    device_heartbeat,
    device_pair,
    device_revoke,
    pairing_code_create,
)

__all__ = [
    "DEVICE_REFUSED",
    "MAX_HELD_REASONS",
    "MAX_PAYLOAD",
    "MAX_QUEUE_REPORT",
    "PURGE_BATCH_SIZE",
    "REJECTED_CODES",
    "DeviceRefusedError",
    "LocationClosedError",
    "audit_record",
    "device_for_report",
    "device_for_token",
    "device_heartbeat",
    "device_pair",
    "device_revoke",
    "export_is_downloadable",
    "export_link",
    "export_request",
    "export_run",
    "exports_purge",
    "exports_storage",
    "form_create",
    "form_draft_update",
    "form_duplicate",
    "form_publish",
    "form_update",
    "form_version",
    "form_version_cache_clear",
    "location_create",
    "location_staff_set",
    "location_update",
    "pairing_code_create",
    "rejection_discard",
    "rejection_record",
    "rejection_release",
    "retailer_settings",
    "retention_purge",
    "retention_update",
    "set_aside_discard",
    "set_aside_release",
    "sha256",
    "shopper_erase",
    "shopper_export",
    "submission_check",
    "submission_create",
    "submission_prepare",
    "submission_receive",
]
