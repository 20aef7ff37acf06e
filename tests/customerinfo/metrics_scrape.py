"""Reads /metrics as Prometheus would: from the pod's address, parsed by prometheus_client."""

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

#: The pod's address, as Prometheus scrapes it.
POD_ADDRESS = "10.0.0.7:8000"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(*, token: str = "") -> Samples:
    """Every sample by (name, sorted labels); the scrape must succeed."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = Client(HTTP_HOST=POD_ADDRESS).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content[:500]
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def of_family(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """One family's samples by their labels."""
    return {labels: value for (sample, labels), value in samples.items() if sample == name}
