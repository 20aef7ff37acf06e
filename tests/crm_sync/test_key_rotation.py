"""Rotating CRM_ENCRYPTION_KEYS across shops: batched, resumable, and safe to finish.

Two shops (alice and charlie) hold destinations encrypted under the old key; a new key is put
first, ``crm_keys_rotate`` re-encrypts, and once it reports done the old key is removed and
every secret still reads back.
"""

import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django_tenants.utils import tenant_context
from pytest_django import Settings

from crm_sync.crypto import CredentialsError, credentials_decrypt
from crm_sync.models import Destination
from crm_sync.services.key_rotation import credentials_keys_rotate
from tenants.models import Tenant

from .factories import webhook_destination

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored(tenant: Tenant) -> dict[int, str]:
    """Each destination's encrypted credentials, as they are in the shop's table."""
    with tenant_context(tenant):
        return dict(Destination.objects.values_list("pk", "credentials"))


def secrets(tenant: Tenant) -> dict[int, str]:
    with tenant_context(tenant):
        return {
            destination.pk: credentials_decrypt(destination.credentials)["secret"]
            for destination in Destination.objects.all()
        }


@pytest.fixture
def shops(alice_tenant: Tenant, charlie_tenant: Tenant, settings: Settings) -> list[Tenant]:
    """Alice with two destinations and charlie with one, all under the old key."""
    settings.CRM_ENCRYPTION_KEYS = [OLD_KEY]
    for tenant, names in ((alice_tenant, ["A1", "A2"]), (charlie_tenant, ["C1"])):
        with tenant_context(tenant):
            for name in names:
                webhook_destination(url="http://127.0.0.1:9/hooks", name=name)
    return [alice_tenant, charlie_tenant]


def run(*arguments: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("crm_keys_rotate", *arguments, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(str(exit_.code)), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def summary(output: str) -> dict[str, str]:
    return dict(pair.split("=") for pair in output.strip().splitlines()[-1].split())


def test_every_shop_is_rewritten_and_the_old_key_can_then_go(
    shops: list[Tenant], settings: Settings
) -> None:
    before = {tenant.pk: stored(tenant) for tenant in shops}
    expected = {tenant.pk: secrets(tenant) for tenant in shops}
    settings.CRM_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    # Before: the check counts what is left and refuses to call it done.
    code, out, _ = run("--check")
    assert code == 1
    assert summary(out)["remaining"] == "3"
    assert all(stored(tenant) == before[tenant.pk] for tenant in shops)

    code, out, _ = run("--batch-size", "1")
    assert code == 0, out
    assert (summary(out)["rewritten"], summary(out)["done"]) == ("3", "yes")
    for tenant in shops:
        assert set(stored(tenant).values()).isdisjoint(before[tenant.pk].values())
        assert f"{tenant.schema_name}: rewritten=" in out

    # The old key is removed: every secret of both shops still reads back.
    settings.CRM_ENCRYPTION_KEYS = [NEW_KEY]
    assert {tenant.pk: secrets(tenant) for tenant in shops} == expected


def test_a_stopped_run_resumes_where_it_was(shops: list[Tenant], settings: Settings) -> None:
    settings.CRM_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    first = credentials_keys_rotate(batch_size=1, limit=2)
    assert (first.rewritten, first.remaining, first.done) == (2, 1, False)
    rewritten_first = {tenant.pk: stored(tenant) for tenant in shops}

    second = credentials_keys_rotate(batch_size=1)
    assert (second.rewritten, second.current, second.remaining, second.done) == (1, 2, 0, True)
    # What the first run wrote is left alone: only the one row it did not reach changed.
    changed = [
        pk
        for tenant in shops
        for pk, token in stored(tenant).items()
        if rewritten_first[tenant.pk][pk] != token
    ]
    assert len(changed) == 1

    again = credentials_keys_rotate()
    assert (again.rewritten, again.current, again.done) == (0, 3, True)


def test_a_row_no_key_can_read_is_named_and_kept_and_the_run_is_not_done(
    shops: list[Tenant], settings: Settings
) -> None:
    alice = shops[0]
    lost_key = Fernet(Fernet.generate_key())
    with tenant_context(alice):
        orphan = Destination.objects.order_by("pk").first()
        assert orphan is not None
        token = lost_key.encrypt(json.dumps({"secret": "whsec_lost"}).encode()).decode()
        Destination.objects.filter(pk=orphan.pk).update(credentials=token)
    settings.CRM_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    code, out, err = run()
    assert code == 1
    assert summary(out)["rewritten"] == "2"
    assert summary(out)["unreadable"] == "1"
    assert f"{alice.schema_name}: destination {orphan.pk} cannot be read" in err
    # Untouched, so the key that wrote it can still be put back to recover it.
    assert stored(alice)[orphan.pk] == token
    with tenant_context(alice), pytest.raises(CredentialsError):
        credentials_decrypt(token)


def test_a_batch_size_below_one_is_refused(shops: list[Tenant]) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        credentials_keys_rotate(batch_size=0)
