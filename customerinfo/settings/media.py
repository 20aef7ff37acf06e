"""Uploaded logos: where they are kept and how large they may be."""

from pathlib import Path
from typing import Any

from .environment import BASE_DIR, env
from .exports import STORAGES as _EXPORT_STORAGES

_DATA_DIR = Path(env.str("CUSTOMERINFO_DATA_DIR", default=str(BASE_DIR / ".data")))

#: The largest logo accepted: tablets download it over shop Wi-Fi, and a logo needs no more.
LOGO_MAX_BYTES: int = env.int("LOGO_MAX_BYTES", default=512 * 1024)

#: Where uploaded logos are written: a folder under the data directory by default, or, like
#: exports, an S3-compatible bucket (LOGO_STORAGE_BACKEND and LOGO_STORAGE_OPTIONS as JSON).
#: They are always served through the retailer's own host (signup.views.logos), never by the
#: storage's URL, so the pages' Content-Security-Policy needs no other image origin.
_logo_options: dict[str, Any] = env.json("LOGO_STORAGE_OPTIONS", default={}) or {
    "location": str(_DATA_DIR / "logos")
}
STORAGES = {
    **_EXPORT_STORAGES,
    "logos": {
        "BACKEND": env.str(
            "LOGO_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": _logo_options,
    },
}
