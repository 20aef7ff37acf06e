"""Factories for tenants: rows only; use tenants.services.tenant_create for a usable schema."""

from factory.declarations import LazyAttribute, Sequence, SubFactory
from factory.django import DjangoModelFactory

from tenants.models import Domain, Tenant, TenantStatus


class TenantFactory(DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = Sequence(lambda n: f"Shop {n}")
    slug = Sequence(lambda n: f"shop-{n}")
    schema_name = LazyAttribute(lambda tenant: "t_" + tenant.slug.replace("-", "_"))
    owner_email = LazyAttribute(lambda tenant: f"owner@{tenant.slug}.example")
    status = TenantStatus.PROVISIONING
    ready = False


class DomainFactory(DjangoModelFactory[Domain]):
    class Meta:
        model = Domain

    tenant = SubFactory(TenantFactory)
    domain = LazyAttribute(lambda domain: f"{domain.tenant.slug}.localhost")
    is_primary = True
