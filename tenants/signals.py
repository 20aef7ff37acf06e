"""A change or deletion of a tenant or a domain changes what a host routes to: each one is
announced to the processes' host maps (``tenants.selectors``). Connected in ``apps.ready``, so
every process that can write them (web, workers, commands) announces its changes.

A row just created needs no announcement: no map holds its host yet (a host not in the map is
read by itself), so creating a thousand tenants does not make every process reload a thousand
times."""

from typing import Any

from django.db.models.signals import post_delete, post_save

from .models import Domain, Tenant
from .selectors import hosts_changed


def _changed(*, created: bool = False, **_kwargs: Any) -> None:
    if not created:
        hosts_changed()


def hosts_signals_connect() -> None:
    for model in (Tenant, Domain):
        post_save.connect(_changed, sender=model, dispatch_uid=f"hosts-changed-{model.__name__}")
        post_delete.connect(
            _changed, sender=model, dispatch_uid=f"hosts-changed-{model.__name__}-deleted"
        )
