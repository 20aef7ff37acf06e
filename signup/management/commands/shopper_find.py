"""``manage.py shopper_find``: which shops hold a shopper's email address or phone number."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from signup.selectors.shoppers import shops_holding_shopper


class Command(BaseCommand):
    help = (
        "Lists the shops holding sign-ups of an email address or phone number, for a privacy "
        "request: each shop's owners then export or erase them in their portal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="")
        parser.add_argument("--phone", default="", help="as stored: +33612345678")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            shops = shops_holding_shopper(email=options["email"], phone=options["phone"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        for shop in shops:
            self.stdout.write(
                f"{shop.slug} signups={shop.signups} refused={shop.refused} ({shop.name})"
            )
        self.stdout.write(f"shops={len(shops)}")
