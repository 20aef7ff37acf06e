"""``manage.py tenant_create``: add a retailer from the command line."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.errors import TenantError
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Creates a retailer (tenant) with its owner account and provisions its schema now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Address of the retailer: <slug>.<BASE_DOMAIN>")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", help="Left unset, the owner must reset it.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_create(
                name=options["name"],
                slug=options["slug"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                provision_now=True,
            )
        except TenantError as error:
            raise CommandError(f"{error.code}: {error.message}") from error
        self.stdout.write(f"Created {tenant.name} in schema {tenant.schema_name}.")
