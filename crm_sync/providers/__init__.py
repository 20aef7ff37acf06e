"""One module per CRM, each a Provider subclass; ``provider_class`` finds one by kind."""

from .base import ConsentEvidence, Contact, Provider, Result, Verdict
from .webhook import WebhookProvider

PROVIDERS: dict[str, type[Provider]] = {provider.kind: provider for provider in (WebhookProvider,)}


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
