"""Operations: backups and their proof, who hears when something breaks, and Sentry.

Every secret here is ``X_FILE``-able (``env`` is django-environ's FileAwareEnv).
"""

import os
from pathlib import Path

from .environment import BASE_DIR, ENVIRONMENT, env

#: Operators: a failed backup or restore check, and the daily digest of errors, go to them.
#: Defaults to the billing operators, who are the same people in most deployments.
OPERATOR_EMAILS: list[str] = env.list(
    "OPERATOR_EMAILS", default=env.list("BILLING_OPERATOR_EMAILS", default=[])
)

# --- backups -----------------------------------------------------------------------------------

#: ``local`` keeps backups in BACKUP_DIR; ``s3`` in any S3-compatible bucket.
BACKUP_STORAGE: str = env.str("BACKUP_STORAGE", default="local")
#: Under ``make run`` this is ``.data/backups`` beside the embedded database's own folder.
BACKUP_DIR: Path = Path(
    env.str(
        "BACKUP_DIR",
        default=str(Path(os.environ.get("CUSTOMERINFO_DATA_DIR", BASE_DIR / ".data")) / "backups"),
    )
)
#: Where dumps are written before upload and downloaded for a check (an emptyDir in Kubernetes).
#: Empty: the system's temporary folder.
BACKUP_WORK_DIR: str = env.str("BACKUP_WORK_DIR", default="")
BACKUP_S3_ENDPOINT_URL: str = env.str("BACKUP_S3_ENDPOINT_URL", default="")
BACKUP_S3_REGION: str = env.str("BACKUP_S3_REGION", default="us-east-1")
BACKUP_S3_BUCKET: str = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_PREFIX: str = env.str("BACKUP_S3_PREFIX", default="customerinfo/")
BACKUP_S3_ACCESS_KEY_ID: str = env.str("BACKUP_S3_ACCESS_KEY_ID", default="")
BACKUP_S3_SECRET_ACCESS_KEY: str = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="")
#: Server-side encryption asked of the bucket: ``AES256`` or ``aws:kms`` (with the key below).
BACKUP_S3_SERVER_SIDE_ENCRYPTION: str = env.str(
    "BACKUP_S3_SERVER_SIDE_ENCRYPTION", default="AES256"
)
BACKUP_S3_KMS_KEY_ID: str = env.str("BACKUP_S3_KMS_KEY_ID", default="")
#: Attempts per request to the bucket (botocore's standard retry mode, with backoff).
BACKUP_S3_MAX_ATTEMPTS: int = env.int("BACKUP_S3_MAX_ATTEMPTS", default=5)

#: Grandfather-father-son retention: the newest backup of each of the last N days, weeks, months.
BACKUP_KEEP_DAILY: int = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY: int = env.int("BACKUP_KEEP_WEEKLY", default=4)
BACKUP_KEEP_MONTHLY: int = env.int("BACKUP_KEEP_MONTHLY", default=12)

#: pg_dump holds a lock per table until it ends, and the server's lock table is shared by every
#: session (max_locks_per_transaction x max_connections): one dump file per this many tables.
BACKUP_TABLES_PER_DUMP: int = env.int("BACKUP_TABLES_PER_DUMP", default=1000)
#: pg_dump / pg_restore processes run at once.
BACKUP_JOBS: int = env.int("BACKUP_JOBS", default=2)
#: Folder of pg_dump / pg_restore; empty: found on PATH (the image's postgresql-client), then
#: the embedded server's own (make run).
BACKUP_PG_BIN_DIR: str = env.str("BACKUP_PG_BIN_DIR", default="")
#: A server where the check may create and drop its scratch database; empty: the app's own.
BACKUP_VERIFY_DATABASE_URL: str = env.str("BACKUP_VERIFY_DATABASE_URL", default="")
#: Shops whose sign-ups the manifest samples, read back by the check.
BACKUP_SAMPLE_TENANTS: int = env.int("BACKUP_SAMPLE_TENANTS", default=20)

# --- errors ------------------------------------------------------------------------------------

#: With a DSN, errors go to Sentry; without, they are kept in operations.ErrorReport and mailed
#: to OPERATOR_EMAILS as a daily digest.
SENTRY_DSN: str = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT: str = env.str("SENTRY_ENVIRONMENT", default=ENVIRONMENT)
SENTRY_RELEASE: str = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE: float = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
#: Tracebacks in one digest, most frequent first (new ones before all others).
ERROR_DIGEST_SIZE: int = env.int("ERROR_DIGEST_SIZE", default=20)
