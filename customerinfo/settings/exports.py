"""Sign-up exports: when a CSV is streamed at once or prepared by a worker, and where it is kept."""

from pathlib import Path
from typing import Any

from .base import STORAGES as _BASE_STORAGES
from .environment import BASE_DIR, env

#: Exports of up to this many sign-ups stream straight to the browser; larger ones are written by
#: a worker, since a request would hit the web server's timeout (gunicorn's 30 s by default) and
#: deliver a truncated file under a 200.
SIGNUP_EXPORT_STREAM_MAX_ROWS: int = env.int("SIGNUP_EXPORT_STREAM_MAX_ROWS", default=10_000)

#: How long a prepared export can be downloaded; the file is deleted after that.
SIGNUP_EXPORT_LINK_HOURS: int = env.int("SIGNUP_EXPORT_LINK_HOURS", default=24)

#: Where prepared exports are written. The default is a folder under the data directory, which
#: suits one machine; with separate web and worker pods, point it at storage both can reach
#: (a shared volume, or an S3-compatible bucket through django-storages, with its options as
#: JSON in SIGNUP_EXPORT_STORAGE_OPTIONS). Files are never served by the storage's own URL.
_DATA_DIR = Path(env.str("CUSTOMERINFO_DATA_DIR", default=str(BASE_DIR / ".data")))
_export_options: dict[str, Any] = env.json("SIGNUP_EXPORT_STORAGE_OPTIONS", default={}) or {
    "location": str(_DATA_DIR / "exports")
}
STORAGES = {
    **_BASE_STORAGES,
    "exports": {
        "BACKEND": env.str(
            "SIGNUP_EXPORT_STORAGE_BACKEND",
            default="django.core.files.storage.FileSystemStorage",
        ),
        "OPTIONS": _export_options,
    },
}
