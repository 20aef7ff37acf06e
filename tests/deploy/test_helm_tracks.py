"""GitLab Auto Deploy's releases: its exact flags, tracks sharing a database, review apps.

Canary and rollout releases run next to the stable one against the same database, so beat and
the migration hook belong to the stable track alone, and a canary joins the stable Ingress as
its nginx canary instead of claiming the hosts a second time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from tests.deploy.auto_deploy import (
    AUTO_DEPLOY_KEYS,
    COMMIT_SHA,
    PROJECT_PATH_SLUG,
    REGISTRY_IMAGE,
    RETIRED_KEYS,
    AutoDeploy,
    flag_keys,
)
from tests.deploy.conftest import (
    AUTO_DEPLOYS,
    EXTRA_HOSTS,
    PRODUCTION,
    PRODUCTION_TRACKS,
    REVIEW,
    REVIEW_VALUES,
)
from tests.deploy.support import (
    Manifest,
    Rendering,
    container_env,
    containers,
    ingress_hosts,
    is_canary_ingress,
    pod_spec,
    render_refusal,
)

CANARIES = ("production-canary-10", "production-canary-100", "production-rollout-25")


@pytest.mark.parametrize("scenario", AUTO_DEPLOYS)
def test_scenarios_pass_exactly_what_auto_deploy_passes(scenario: str) -> None:
    deploy = AUTO_DEPLOYS[scenario]
    keys = flag_keys(deploy.set_flags())
    assert keys <= AUTO_DEPLOY_KEYS
    assert not keys & RETIRED_KEYS
    # Every key but service.commonName, which depends on KUBE_INGRESS_BASE_DOMAIN.
    assert AUTO_DEPLOY_KEYS - keys - {"image.tag"} <= {"service.commonName"}
    assert flag_keys(deploy.set_string_flags()) == {"image.tag"}
    assert not any(key.startswith("ingress.tls") for key in keys)


def test_auto_deploy_values_reach_the_objects(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["production"]
    # auto-deploy-image waits with `kubectl rollout status deployment/<release>`.
    web = rendering.named("Deployment", "production")
    assert web["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    autoscaler = rendering.named("HorizontalPodAutoscaler", "production")
    assert autoscaler["spec"]["minReplicas"] == 3  # replicaCount is the autoscaler's floor
    for workload in rendering.workloads():
        spec = pod_spec(workload)
        assert spec["imagePullSecrets"] == [{"name": f"gitlab-registry-{PROJECT_PATH_SLUG}"}]
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["app.gitlab.com/app"] == PROJECT_PATH_SLUG
        assert annotations["app.gitlab.com/env"] == "production"
        assert annotations["checksum/application-secret"].startswith("9b74c989")
        for container in containers(workload):
            assert container["image"] == f"{REGISTRY_IMAGE}/main:{COMMIT_SHA}"
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert container["envFrom"] == [{"secretRef": {"name": "production-secret"}}]
            env = container_env(container)
            assert env["BASE_DOMAIN"] == "customerinfo.example"
            assert "DATABASE_URL" not in env  # empty database_url: the secret's value wins


def test_a_tag_deploys_the_registry_image_under_the_tag_as_text(
    renderings: dict[str, Rendering],
) -> None:
    for workload in renderings["tag"].workloads():
        for container in containers(workload):
            assert container["image"] == f"{REGISTRY_IMAGE}:2.10"


def _components(renderings: dict[str, Rendering], kind: str, component: str) -> list[Manifest]:
    return [
        item
        for scenario in PRODUCTION_TRACKS
        for item in renderings[scenario].all_of_component(kind, component)
    ]


def test_one_environment_has_one_beat_and_one_migration_job(
    renderings: dict[str, Rendering],
) -> None:
    (beat,) = _components(renderings, "Deployment", "beat")
    (job,) = _components(renderings, "Job", "migrate")
    for owned in (beat, job):
        assert owned["metadata"]["labels"]["track"] == "stable"
    # Every release of the environment still runs web and workers.
    assert len(_components(renderings, "Deployment", "web")) == len(PRODUCTION_TRACKS)
    assert len(_components(renderings, "Deployment", "worker")) == len(PRODUCTION_TRACKS)


@pytest.mark.parametrize("scenario", ["staging", "review", "tag", "production-extra-hosts"])
def test_every_stable_release_owns_its_database(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    rendering = renderings[scenario]
    assert rendering.by_component("Deployment", "beat")["spec"]["replicas"] == 1
    assert rendering.by_component("Job", "migrate")


@pytest.mark.parametrize("scenario", CANARIES)
def test_a_canary_release_is_named_for_its_track_and_stays_small(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    deploy = AUTO_DEPLOYS[scenario]
    rendering = renderings[scenario]
    assert deploy.release == f"production-{deploy.track}"
    # Auto Deploy waits on deployment/<release>, the canary's own web.
    assert rendering.by_component("Deployment", "web")["metadata"]["name"] == deploy.release
    worker = rendering.by_component("Deployment", "worker")
    assert worker["spec"]["replicas"] == 1
    scaled = {
        item["spec"]["scaleTargetRef"]["name"]
        for item in rendering.of_kind("HorizontalPodAutoscaler")
    }
    assert scaled == {deploy.release}
    assert "runs no beat and no migrations" in rendering.notes


def _claims(renderings: dict[str, Rendering], scenarios: tuple[str, ...]) -> Counter[str]:
    """Hosts claimed by Ingresses that are not nginx canaries."""
    return Counter(
        host
        for scenario in scenarios
        for ingress in renderings[scenario].of_kind("Ingress")
        if not is_canary_ingress(ingress)
        for host in ingress_hosts(ingress)
    )


def test_no_two_ingresses_claim_a_host(renderings: dict[str, Rendering]) -> None:
    claims = _claims(renderings, PRODUCTION_TRACKS)
    assert claims == Counter(["customerinfo.example", "*.customerinfo.example"])
    staging = _claims(renderings, ("staging",))
    assert not staging.keys() & claims.keys()
    assert max(staging.values()) == 1


def test_the_stable_ingress_is_no_canary(renderings: dict[str, Rendering]) -> None:
    (ingress,) = renderings["production"].of_kind("Ingress")
    assert not is_canary_ingress(ingress)
    assert "nginx.ingress.kubernetes.io/canary-weight" not in ingress["metadata"]["annotations"]


@pytest.mark.parametrize("scenario", CANARIES)
def test_a_canary_joins_the_stable_ingress_as_its_nginx_canary(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    (stable,) = renderings["production"].of_kind("Ingress")
    rendering = renderings[scenario]
    (canary,) = rendering.of_kind("Ingress")
    assert canary["metadata"]["name"] != stable["metadata"]["name"]
    assert canary["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": str(AUTO_DEPLOYS[scenario].percentage),
    }
    # The same hosts and paths (how nginx pairs a canary with its Ingress), no TLS of its own.
    assert ingress_hosts(canary) == ingress_hosts(stable)
    assert [rule["http"]["paths"][0]["path"] for rule in canary["spec"]["rules"]] == [
        rule["http"]["paths"][0]["path"] for rule in stable["spec"]["rules"]
    ]
    assert canary["spec"].get("ingressClassName") == stable["spec"].get("ingressClassName")
    assert "tls" not in canary["spec"]
    # Its share goes to its own Service, which selects only the canary's pods.
    (service,) = rendering.of_kind("Service")
    backends = {
        rule["http"]["paths"][0]["backend"]["service"]["name"] for rule in canary["spec"]["rules"]
    }
    assert backends == {service["metadata"]["name"]}
    assert (
        service["spec"]["selector"]["app.kubernetes.io/instance"] == AUTO_DEPLOYS[scenario].release
    )


def test_each_shops_host_goes_to_the_same_web_pod_unless_turned_off(
    renderings: dict[str, Rendering],
) -> None:
    hash_by = "nginx.ingress.kubernetes.io/upstream-hash-by"
    (stable,) = renderings["production"].of_kind("Ingress")
    assert stable["metadata"]["annotations"][hash_by] == "$host"
    (fixed,) = renderings["fixed"].of_kind("Ingress")
    assert hash_by not in fixed["metadata"].get("annotations", {})


def test_extra_hosts_are_served_by_the_stable_ingress(renderings: dict[str, Rendering]) -> None:
    (ingress,) = renderings["production-extra-hosts"].of_kind("Ingress")
    assert ingress_hosts(ingress) == [
        "customerinfo.example",
        "*.customerinfo.example",
        *EXTRA_HOSTS,
    ]


# ------------------------------------------------------------------------------ Review apps


def _refusal(deploy: AutoDeploy) -> str:
    return render_refusal(deploy.values(), release=deploy.release, namespace="review")


def test_review_apps_are_refused_unless_turned_on() -> None:
    message = _refusal(AutoDeploy(REVIEW))
    assert "review/feature-x is a review app, and review apps are off" in message


def test_a_review_app_is_refused_on_a_production_database() -> None:
    on_production = replace(REVIEW, database_url="postgres://app:pw@DB.customerinfo.internal/app")
    message = _refusal(AutoDeploy(on_production, extra_values=REVIEW_VALUES))
    assert "refusing a review app on the database at db.customerinfo.internal" in message


def test_a_review_app_needs_a_database_of_its_own() -> None:
    # Without Auto Deploy's PostgreSQL, DATABASE_URL would come from the (maybe unscoped) secret.
    message = _refusal(AutoDeploy(replace(REVIEW, database_url=""), extra_values=REVIEW_VALUES))
    assert "a review app needs its own database" in message


def test_review_apps_need_the_forbidden_database_hosts_named() -> None:
    message = _refusal(AutoDeploy(REVIEW, extra_values={"review": {"enabled": True}}))
    assert "review.forbiddenDatabaseHosts must name" in message


def test_a_review_app_runs_on_its_own_database_and_redis(
    renderings: dict[str, Rendering],
) -> None:
    rendering = renderings["review"]
    redis = rendering.named("Service", f"{REVIEW.slug}-redis")
    redis_url = f"redis://{redis['metadata']['name']}:6379/0"
    for workload in rendering.workloads():
        for container in containers(workload):
            env = container_env(container)
            # `env` wins over the application secret's `envFrom`.
            assert env["DATABASE_URL"] == REVIEW.database_url
            assert env["REDIS_URL"] == redis_url
            assert env["CELERY_BROKER_URL"] == redis_url
    redis_policy = rendering.named("NetworkPolicy", f"{REVIEW.slug}-redis")
    (allowed,) = redis_policy["spec"]["ingress"]
    assert allowed["from"] == [
        {
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "customerinfo",
                    "app.kubernetes.io/instance": REVIEW.slug,
                }
            }
        }
    ]
    # The application's own policy (internet egress) does not select the Redis pod.
    application_policy = rendering.named("NetworkPolicy", REVIEW.slug)
    redis_pods = rendering.named("Deployment", f"{REVIEW.slug}-redis")
    pod_labels = redis_pods["spec"]["template"]["metadata"]["labels"]
    assert (
        not application_policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    )


def test_staging_and_production_run_without_a_review_redis(
    renderings: dict[str, Rendering],
) -> None:
    for scenario in ("production", "staging", "production-canary-10"):
        rendering = renderings[scenario]
        assert rendering.all_of_component("Deployment", "redis") == []
        for workload in rendering.workloads():
            for container in containers(workload):
                assert "REDIS_URL" not in container_env(container)


def test_a_managed_database_and_a_weight_outside_0_to_100_are_refused() -> None:
    stable = AutoDeploy(PRODUCTION)
    managed = {**stable.values(), "postgresql": {"managed": True}}
    assert "postgresql.managed is not supported" in render_refusal(
        managed, release="production", namespace="production"
    )
    overweight = AutoDeploy(PRODUCTION, track="canary", percentage=150)
    assert "must be a percentage, not 150" in render_refusal(
        overweight.values(), release=overweight.release, namespace="production"
    )
