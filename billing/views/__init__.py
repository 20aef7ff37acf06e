"""Billing's pages: the public site and self-serve sign-up (``public``), Stripe's webhook
(``webhook``), and the retailer's billing page and first sign-in (``portal``)."""
