from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import Domain, SchemaMigration, Tenant


class DomainInline(admin.TabularInline[Domain, Tenant]):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["name", "slug", "schema_name", "status", "ready", "created_at"]
    list_filter = ["status", "ready"]
    search_fields = ["name", "slug", "schema_name", "owner_email"]
    readonly_fields = ["schema_name", "ready", "provisioned_at", "provisioning_error", "created_at"]
    exclude = ["owner_password_hash"]
    inlines = [DomainInline]
    actions = ["retry_provisioning"]

    @admin.action(description="Retry provisioning of the selected tenants")
    def retry_provisioning(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset.filter(ready=False):
            try:
                services.tenant_provision(tenant_id=tenant.pk)
            except Exception as error:
                self.message_user(request, f"{tenant}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{tenant} is ready.", messages.SUCCESS)


@admin.register(SchemaMigration)
class SchemaMigrationAdmin(admin.ModelAdmin[SchemaMigration]):
    list_display = ["schema_name", "state", "started_at", "finished_at"]
    list_filter = ["state"]
    search_fields = ["schema_name"]
    readonly_fields = [f.name for f in SchemaMigration._meta.fields]
