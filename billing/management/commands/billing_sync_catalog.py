"""``manage.py billing_sync_catalog``: the catalog in Stripe, as the settings describe it.

Run on every deploy (the chart's migration Job does); a second run changes nothing."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from stripe import StripeError

from billing.services import catalog_sync


class Command(BaseCommand):
    help = "Finds or creates the Stripe prices and meter of the catalog, by lookup key."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            prices = catalog_sync()
        except StripeError as error:
            raise CommandError(f"Stripe refused the catalog: {error}") from error
        for price in prices:
            self.stdout.write(f"{price.lookup_key}: {price.stripe_price_id}")
