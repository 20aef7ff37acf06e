"""One module per CRM, each a Provider subclass; ``provider_class`` finds one by kind."""

from .base import ConsentEvidence, Contact, Provider, Result, Verdict
from .hubspot import HubSpotProvider
from .klaviyo import KlaviyoProvider
from .mailchimp import MailchimpProvider
from .salesforce import SalesforceProvider
from .webhook import WebhookProvider

PROVIDERS: dict[str, type[Provider]] = {
    provider.kind: provider
    for provider in (
        WebhookProvider,
        HubSpotProvider,
        SalesforceProvider,
        MailchimpProvider,
        KlaviyoProvider,
    )
}


class ProviderUnavailableError(LookupError):
    """This release has no provider for a kind of CRM (say, after a rollback)."""


def provider_class(kind: str) -> type[Provider]:
    try:
        return PROVIDERS[kind]
    except KeyError:
        raise ProviderUnavailableError(
            f"This release of CustomerInfo cannot send to {kind!r} destinations."
        ) from None


__all__ = [
    "PROVIDERS",
    "ConsentEvidence",
    "Contact",
    "Provider",
    "ProviderUnavailableError",
    "Result",
    "Verdict",
    "provider_class",
]
