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
