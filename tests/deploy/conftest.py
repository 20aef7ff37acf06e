"""The chart's scenarios, each rendered once per session (rendering loads the Helm SDK).

Most are GitLab Auto Deploy runs with exactly the flags auto-deploy-image passes
(tests/deploy/auto_deploy.py); two render the chart by hand with the options Auto Deploy never
touches, so that every branch of the templates is rendered and validated somewhere.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.deploy.auto_deploy import AutoDeploy, Environment
from tests.deploy.support import Rendering, render_chart, values_from_set_flags

PRODUCTION = Environment(
    slug="production",
    name="production",
    url="https://customerinfo.example",
    namespace="acme-customerinfo-4242-production",
    kube_ingress_base_domain="apps.example.net",
)
STAGING = Environment(
    slug="staging",
    name="staging",
    url="http://acme-customerinfo-staging.apps.example.net",
    namespace="acme-customerinfo-4242-staging",
)
REVIEW = Environment(
    slug="review-feature-x-3k2j1h",
    name="review/feature-x",
    url="http://4242-review-feature-x-3k2j1h.apps.example.net",
    namespace="acme-customerinfo-4242-review-feature-x-3k2j1h",
    database_url="postgres://user:pw@review-feature-x-3k2j1h-postgresql:5432/review",
    kube_ingress_base_domain="apps.example.net",
)
#: What the project's review/*-scoped HELM_UPGRADE_EXTRA_ARGS adds (--values).
REVIEW_VALUES = {
    "review": {
        "enabled": True,
        "forbiddenDatabaseHosts": ["db.customerinfo.internal", "db-staging.customerinfo.internal"],
    }
}
EXTRA_HOSTS = ("signup.acme-retail.example", "customerinfo.acme-retail.example")

AUTO_DEPLOYS: dict[str, AutoDeploy] = {
    "production": AutoDeploy(PRODUCTION, replicas=3),
    "production-canary-10": AutoDeploy(PRODUCTION, track="canary", percentage=10),
    "production-canary-100": AutoDeploy(PRODUCTION, track="canary", percentage=100),
    "production-rollout-25": AutoDeploy(PRODUCTION, track="rollout", percentage=25, replicas=1),
    "production-extra-hosts": AutoDeploy(
        replace(PRODUCTION, additional_hosts=EXTRA_HOSTS), replicas=3
    ),
    "staging": AutoDeploy(STAGING),
    "review": AutoDeploy(REVIEW, commit_ref_slug="feature-x", extra_values=REVIEW_VALUES),
    "tag": AutoDeploy(PRODUCTION, replicas=3, commit_tag="2.10"),
}
#: The tracks of one environment that run side by side against one database.
PRODUCTION_TRACKS = (
    "production",
    "production-canary-10",
    "production-canary-100",
    "production-rollout-25",
)

MANUAL: dict[str, list[str]] = {
    # `helm install` with the chart's defaults.
    "defaults": [],
    # Fixed replicas, an existing certificate, no catalog sync, an existing ServiceAccount, no
    # shop affinity.
    "fixed": [
        "replicaCount=4",
        "web.autoscaling.enabled=false",
        "worker.autoscaling.enabled=false",
        "worker.replicaCount=3",
        "config.baseDomain=customerinfo.test",
        "ingress.tls.certManager.enabled=false",
        "ingress.tls.secretName=customerinfo-test-wildcard",
        "migrations.syncBillingCatalog=false",
        "serviceAccount.create=false",
        "serviceAccount.name=customerinfo-workload-identity",
        "ingress.shopAffinity=false",
    ],
    # Queue-length autoscaling, a namespaced Issuer, narrowed network peers.
    "options": [
        "worker.autoscaling.queueLength.enabled=true",
        "ingress.tls.certManager.issuerKind=Issuer",
        "ingress.tls.certManager.issuerName=acme-dns01",
        "networkPolicy.internet.clusterCIDRs={198.18.0.0/15,2001:db8:42::/56}",
        "networkPolicy.web.from[0].namespaceSelector.matchLabels.name=ingress-nginx",
        "networkPolicy.postgresql.to[0].ipBlock.cidr=10.20.0.0/24",
        "networkPolicy.redis.to[0].ipBlock.cidr=10.20.1.0/24",
        # One expression: separate --set flags would each replace the list element here.
        "networkPolicy.extraEgress[0].ports[0].port=587,"
        "networkPolicy.extraEgress[0].to[0].ipBlock.cidr=10.30.0.25/32",
    ],
}
SCENARIOS = (*AUTO_DEPLOYS, *MANUAL)


def _render(scenario: str) -> Rendering:
    if scenario in AUTO_DEPLOYS:
        deploy = AUTO_DEPLOYS[scenario]
        return render_chart(
            deploy.values(),
            release=deploy.release,
            namespace=deploy.environment.namespace,
            revision=17,
        )
    return render_chart(
        values_from_set_flags(MANUAL[scenario]),
        release="customerinfo",
        namespace="customerinfo",
        revision=1,
    )


@pytest.fixture(scope="session")
def renderings() -> dict[str, Rendering]:
    """Every scenario rendered once for the whole session."""
    return {scenario: _render(scenario) for scenario in SCENARIOS}


@pytest.fixture(params=SCENARIOS)
def rendering(request: pytest.FixtureRequest, renderings: dict[str, Rendering]) -> Rendering:
    """Each scenario in turn, for checks that must hold whatever the values."""
    scenario: str = request.param
    return renderings[scenario]
