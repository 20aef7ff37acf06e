# Type stubs for the parts of django-tenants this project uses (the package ships none).
from typing import Any, ClassVar

from django.db import models

class TenantMixin(models.Model):
    auto_drop_schema: ClassVar[bool]
    auto_create_schema: ClassVar[bool]
    schema_name: models.CharField[str, str]
    domain_url: str | None
    def get_primary_domain(self) -> Any: ...
    def create_schema(
        self, check_if_exists: bool = ..., sync_schema: bool = ..., verbosity: int = ...
    ) -> bool: ...

class DomainMixin(models.Model):
    domain: models.CharField[str, str]
    tenant: Any
    is_primary: models.BooleanField[bool, bool]
