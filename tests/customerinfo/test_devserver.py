from pathlib import Path

import pytest

from customerinfo import devserver
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_demo_tenant_is_made_once_and_its_credentials_kept(tmp_path: Path) -> None:
    email, password = devserver.ensure_demo_tenant(data=tmp_path)
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.ready
    assert email == devserver.DEMO_OWNER_EMAIL
    assert len(password) >= 16

    assert devserver.ensure_demo_tenant(data=tmp_path) == (email, password)
    assert Tenant.objects.filter(slug="demo").count() == 1
    assert oct(devserver.demo_credentials_file(tmp_path).stat().st_mode)[-3:] == "600"


def test_demo_sink_destination_is_made_once_and_follows_the_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_tenants.utils import tenant_context

    from crm_sync.models import Destination
    from crm_sync.sink import sink_secret_key
    from customerinfo.core.redis import redis_client
    from signup.models import Form, Location

    devserver.ensure_demo_tenant(data=tmp_path)
    devserver.ensure_demo_store()
    devserver.ensure_demo_store()
    url = devserver.ensure_demo_sink(base_domain="localhost")
    assert url == f"http://localhost:{devserver.PORT}/sink/demo/"
    monkeypatch.setattr(devserver, "PORT", 9999)
    moved = devserver.ensure_demo_sink(base_domain="localhost")
    with tenant_context(Tenant.objects.get(slug="demo")):
        (destination,) = Destination.objects.all()
        assert Location.objects.get().code == "demo"
        assert Form.objects.get(is_default=True).current_version is not None
    assert destination.settings["url"] == moved == "http://localhost:9999/sink/demo/"
    assert redis_client().get(sink_secret_key("demo"))
