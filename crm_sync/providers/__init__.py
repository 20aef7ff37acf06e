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


def provider_class(kind: str) -> type[Provider]:
    return PROVIDERS[kind]


__all__ = [
    "PROVIDERS",
    "ConsentEvidence",
    "Contact",
    "Provider",
    "Result",
    "Verdict",
    "provider_class",
]
