"""Key rotation: every shop's CRM credentials re-encrypted under the first of CRM_ENCRYPTION_KEYS.

The operator puts a new key first and deploys (MultiFernet still reads every key), runs this,
and removes the old key only once it reports nothing left under it. Rows are rewritten in
short transactions of ``batch_size``; a row already under the newest key is left alone, so an
interrupted run, or one stopped by ``limit``, resumes where it stopped when it is run again.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django_tenants.utils import tenant_context

from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from ..crypto import CredentialsError, credentials_rotate
from ..models import Destination


@dataclass
class KeyRotationReport:
    """What a run found and did, over every shop."""

    shops: int = 0
    #: Rows re-encrypted by this run (0 when only checking).
    rewritten: int = 0
    #: Rows already under the newest key.
    current: int = 0
    #: Rows still under an older key (left by ``limit`` or a check-only run).
    remaining: int = 0
    #: ``(schema, destination id)`` of rows no configured key can read: the key that wrote them
    #: was removed too early. Their destinations fail until the retailer re-enters the secret.
    unreadable: list[tuple[str, int]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True when the old keys may be removed: every row is under the newest key."""
        return self.remaining == 0 and not self.unreadable


def _under_newest_key(token: str, newest: Fernet) -> bool:
    try:
        newest.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def credentials_keys_rotate(
    *,
    batch_size: int = 100,
    limit: int | None = None,
    check_only: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> KeyRotationReport:
    """Re-encrypts, shop by shop, every destination not yet under the newest key.

    ``limit`` caps the rows rewritten by this run; ``check_only`` rewrites nothing and counts.
    ``progress(schema, rewritten, remaining)`` is called after each shop that had work.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    newest = Fernet(settings.CRM_ENCRYPTION_KEYS[0].encode())
    report = KeyRotationReport()
    use_public_schema()
    for tenant in Tenant.objects.filter(ready=True).order_by("pk"):
        report.shops += 1
        with tenant_context(tenant):
            rewritten, remaining = _rotate_shop(
                schema=tenant.schema_name,
                newest=newest,
                batch_size=batch_size,
                budget=None if limit is None else limit - report.rewritten,
                check_only=check_only,
                report=report,
            )
        report.rewritten += rewritten
        report.remaining += remaining
        if progress is not None and (rewritten or remaining):
            progress(tenant.schema_name, rewritten, remaining)
    return report


def _rotate_shop(
    *,
    schema: str,
    newest: Fernet,
    batch_size: int,
    budget: int | None,
    check_only: bool,
    report: KeyRotationReport,
) -> tuple[int, int]:
    """``(rewritten, remaining)`` for the current shop, walking its rows by id in batches."""
    rewritten = remaining = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            # Locked so a retailer saving new credentials meanwhile is not overwritten by the
            # old secret; the batch keeps the lock short.
            batch = list(
                Destination.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .exclude(credentials="")
                .order_by("pk")
                .only("pk", "credentials")[:batch_size]
            )
            for destination in batch:
                if _under_newest_key(destination.credentials, newest):
                    report.current += 1
                    continue
                try:
                    rotated = credentials_rotate(destination.credentials)
                except CredentialsError:
                    report.unreadable.append((schema, destination.pk))
                    continue
                if check_only or (budget is not None and rewritten >= budget):
                    remaining += 1
                    continue
                # update(), not save(): the retailer changed nothing, updated_at stays theirs.
                Destination.objects.filter(pk=destination.pk).update(credentials=rotated)
                rewritten += 1
        if len(batch) < batch_size:
            return rewritten, remaining
        last_pk = batch[-1].pk
