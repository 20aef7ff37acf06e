"""``manage.py tenant_create``: add a retailer from the command line."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from customerinfo.core.accounts.services import invitation_link
from tenants.errors import TenantError
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Creates a retailer (tenant) with its owner account and provisions its schema now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Address of the retailer: <slug>.<BASE_DOMAIN>")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument(
            "--owner-password",
            help="Left unset, the owner is invited: a link to choose a password is printed.",
        )
        parser.add_argument(
            "--site-url",
            help="Where the shop is reached, for the link (default https://<slug>.<BASE_DOMAIN>).",
        )

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
        if options["owner_password"]:
            return
        # Without a password the owner could never sign in: Django sends no reset link to an
        # account without a usable password. An invitation is the path made for that.
        site_url = options["site_url"] or f"https://{tenant.get_primary_domain()}"
        with tenant_context(tenant), transaction.atomic():
            owner = User.objects.select_for_update().get(email=tenant.owner_email)
            owner.invited_at = timezone.now()
            owner.save(update_fields=["invited_at"])
            link = invitation_link(member=owner, site_url=site_url)
        self.stdout.write(f"Send the owner this link to choose a password: {link}")
