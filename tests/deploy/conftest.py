"""Fixtures for the deployment tests: the chart is rendered once per scenario per session."""

from __future__ import annotations

import pytest

from tests.deploy.support import (
    GITLAB_AUTO_DEPLOY_SET_FLAGS,
    GITLAB_RELEASE,
    Rendering,
    render_chart,
    values_from_set_flags,
)

SCENARIOS = ("defaults", "gitlab-auto-deploy", "fixed-replicas")


def _render(scenario: str) -> Rendering:
    if scenario == "defaults":
        return render_chart({}, release="customerinfo", namespace="default", revision=1)
    if scenario == "gitlab-auto-deploy":
        return render_chart(
            values_from_set_flags(GITLAB_AUTO_DEPLOY_SET_FLAGS),
            release=GITLAB_RELEASE,
            namespace="acme-customerinfo-4242-production",
            revision=17,
        )
    if scenario == "fixed-replicas":
        values = values_from_set_flags(
            [
                "replicaCount=4",
                "web.autoscaling.enabled=false",
                "worker.autoscaling.enabled=false",
                "worker.replicaCount=3",
                "config.baseDomain=customerinfo.test",
                "ingress.tls.enabled=false",
            ]
        )
        return render_chart(values, release="staging", namespace="staging", revision=2)
    raise AssertionError(f"unknown scenario {scenario}")


@pytest.fixture(scope="session")
def renderings() -> dict[str, Rendering]:
    """Every scenario rendered once for the whole session (rendering loads the Helm SDK)."""
    return {scenario: _render(scenario) for scenario in SCENARIOS}


@pytest.fixture(params=SCENARIOS)
def rendering(request: pytest.FixtureRequest, renderings: dict[str, Rendering]) -> Rendering:
    """Each scenario in turn, for checks that must hold whatever the values."""
    scenario: str = request.param
    return renderings[scenario]
