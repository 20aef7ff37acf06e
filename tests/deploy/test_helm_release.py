"""A release of the chart: migrations gate it, TLS is requested, processes stop and live well,
the network is closed but for what the application calls, and the secret completes the settings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

from tests.deploy.conftest import AUTO_DEPLOYS, EXTRA_HOSTS
from tests.deploy.support import (
    GITLAB_CI,
    REPO_ROOT,
    Manifest,
    Rendering,
    container_env,
    containers,
    ingress_hosts,
    pod_spec,
)

STABLE = ("production", "production-extra-hosts", "staging", "review", "tag", "defaults")
#: What the application secret must hold (Auto Deploy: one K8S_SECRET_<NAME> variable each).
APPLICATION_SECRET_KEYS = {
    "SECRET_KEY": "s" * 50 + "-a-production-secret-key-of-some-length",
    "DATABASE_URL": "postgres://app:pw@db.customerinfo.internal:5432/customerinfo",
    "REDIS_URL": "redis://redis.customerinfo.internal:6379/0",
    "CRM_ENCRYPTION_KEYS": "x5R2CgSDoZ1Y4mcpq4yC8qCDrV4d0QRPgqvkzoZIxJs=",
    "STRIPE_SECRET_KEY": "sk_live_0123456789",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789",
    "METRICS_TOKEN": "a-scrape-token-of-some-length",
}
DEPLOY_DOC = REPO_ROOT / "docs" / "deploy.md"


def _helm_timeout_seconds() -> int:
    """Helm's --timeout as the pipeline sets it in HELM_UPGRADE_EXTRA_ARGS."""
    pipeline = yaml.safe_load(GITLAB_CI.read_text())
    extra_args = pipeline["variables"]["HELM_UPGRADE_EXTRA_ARGS"]
    found = re.search(r"--timeout[= ](?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", extra_args)
    assert found, f"no --timeout in HELM_UPGRADE_EXTRA_ARGS: {extra_args}"
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds


# --------------------------------------------------------------------------- The release's gate


@pytest.mark.parametrize("scenario", STABLE)
def test_migrations_gate_the_release(renderings: dict[str, Rendering], scenario: str) -> None:
    job = renderings[scenario].by_component("Job", "migrate")
    annotations = job["metadata"]["annotations"]
    # Before any new web, worker or beat pod, on the first install and on every upgrade.
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    # Kept after it ran, so its log can be read, until the next release replaces it.
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    spec = job["spec"]
    assert spec["ttlSecondsAfterFinished"] >= 3 * 24 * 3600
    assert spec["backoffLimit"] >= 1
    # The Job gives up (and shows why) before Helm stops waiting for it.
    assert spec["activeDeadlineSeconds"] < _helm_timeout_seconds()
    pod = pod_spec(job)
    assert pod["restartPolicy"] == "Never"
    # It runs before the release's own ServiceAccount exists.
    assert pod["serviceAccountName"] == "default"
    (migrate,) = pod["initContainers"]
    (catalog,) = pod["containers"]
    assert migrate["command"] == ["python", "manage.py", "migrate_tenants"]
    assert catalog["command"] == ["python", "manage.py", "billing_sync_catalog"]


def test_without_the_catalog_sync_the_hook_only_migrates(
    renderings: dict[str, Rendering],
) -> None:
    job = renderings["fixed"].by_component("Job", "migrate")
    assert "initContainers" not in pod_spec(job)
    (migrate,) = pod_spec(job)["containers"]
    assert migrate["command"][-1] == "migrate_tenants"


def test_the_web_readiness_does_not_wait_for_tenant_schemas(
    renderings: dict[str, Rendering],
) -> None:
    """No deadlock: the hook finishes before web starts; /readyz checks the public schema only."""
    web = renderings["production"].by_component("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "initContainers" not in pod_spec(web)


# --------------------------------------------------------------------------------------- TLS


def test_cert_manager_issues_the_wildcard_and_the_base_domain(
    renderings: dict[str, Rendering],
) -> None:
    (ingress,) = renderings["production"].of_kind("Ingress")
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-dns01",
        "nginx.ingress.kubernetes.io/upstream-hash-by": "$host",
    }
    assert ingress["spec"]["tls"] == [
        {
            "hosts": ["customerinfo.example", "*.customerinfo.example"],
            "secretName": "production-tls",
        }
    ]


def test_extra_hosts_get_a_certificate_of_their_own(renderings: dict[str, Rendering]) -> None:
    (ingress,) = renderings["production-extra-hosts"].of_kind("Ingress")
    wildcard, extra = ingress["spec"]["tls"]
    assert wildcard["secretName"] == "production-tls"
    assert extra == {"hosts": list(EXTRA_HOSTS), "secretName": "production-additional-hosts-tls"}


def test_an_issuer_or_an_existing_certificate_can_be_used(
    renderings: dict[str, Rendering],
) -> None:
    (issued,) = renderings["options"].of_kind("Ingress")
    assert issued["metadata"]["annotations"] == {
        "cert-manager.io/issuer": "acme-dns01",
        "nginx.ingress.kubernetes.io/upstream-hash-by": "$host",
    }
    (existing,) = renderings["fixed"].of_kind("Ingress")
    assert "annotations" not in existing["metadata"]
    assert existing["spec"]["tls"] == [
        {
            "hosts": ["customerinfo.test", "*.customerinfo.test"],
            "secretName": "customerinfo-test-wildcard",
        }
    ]


@pytest.mark.parametrize("scenario", STABLE)
def test_every_stable_host_is_covered_by_tls(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    (ingress,) = renderings[scenario].of_kind("Ingress")
    covered = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}
    assert set(ingress_hosts(ingress)) == covered


# --------------------------------------------------------------------------------- Processes


def _workers(renderings: dict[str, Rendering]) -> list[Manifest]:
    return [
        worker
        for rendering in renderings.values()
        for worker in rendering.all_of_component("Deployment", "worker")
    ]


def test_a_worker_may_finish_its_longest_task_before_it_is_killed(
    renderings: dict[str, Rendering],
) -> None:
    hard_limit = settings.CELERY_TASK_TIME_LIMIT
    visibility_timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    for worker in _workers(renderings):
        grace = pod_spec(worker)["terminationGracePeriodSeconds"]
        # SIGTERM is Celery's warm shutdown: the running task gets its hard limit to finish...
        assert hard_limit < grace, worker["metadata"]["name"]
        # ...and Redis must not hand it to another worker meanwhile.
        assert grace < visibility_timeout, worker["metadata"]["name"]
        (container,) = pod_spec(worker)["containers"]
        # Celery itself is PID 1 and receives the SIGTERM (no shell in between).
        assert container["command"][:2] == ["celery", "-A"]


def _heartbeat_probes(rendering: Rendering) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(container, probe) of every Celery process."""
    found = []
    for component in ("worker", "beat"):
        for deployment in rendering.all_of_component("Deployment", component):
            (container,) = pod_spec(deployment)["containers"]
            for probe in ("startupProbe", "livenessProbe"):
                found.append((container, container[probe]))
    return found


def test_worker_and_beat_are_alive_while_their_heartbeat_is_fresh(
    renderings: dict[str, Rendering],
) -> None:
    probes = _heartbeat_probes(renderings["production"])
    assert len(probes) == 4
    for container, probe in probes:
        command = probe["exec"]["command"]
        assert command[:3] == ["python", "-m", "customerinfo.core.heartbeat"]
        # The probe reads the file the process writes.
        assert command[3] == container_env(container)["CELERY_HEARTBEAT_FILE"]
        assert command[3].startswith("/tmp/")  # noqa: S108 - the pod's emptyDir
        assert probe["timeoutSeconds"] >= 5


def _run_probe(command: list[str], heartbeat_file: Path) -> int:
    argv = [sys.executable, *command[1:3], str(heartbeat_file), *command[4:]]
    result = subprocess.run(  # noqa: S603 - the chart's own probe command
        argv,
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode


def test_the_rendered_liveness_probes_run(renderings: dict[str, Rendering], tmp_path: Path) -> None:
    """The exact argv of the chart's probes, against a fresh and a stale heartbeat file."""
    rendering = renderings["production"]
    for component, limit in (("worker", 60), ("beat", 120)):
        deployment = rendering.by_component("Deployment", component)
        (container,) = pod_spec(deployment)["containers"]
        command = container["livenessProbe"]["exec"]["command"]
        assert command[-2:] == ["--max-age", str(limit)]
        heartbeat_file = tmp_path / component
        assert _run_probe(command, heartbeat_file) == 1  # not started yet
        heartbeat_file.touch()
        assert _run_probe(command, heartbeat_file) == 0
        stale = time.time() - limit - 5
        os.utime(heartbeat_file, (stale, stale))
        assert _run_probe(command, heartbeat_file) == 1


def test_web_leaves_the_load_balancer_before_it_stops(renderings: dict[str, Rendering]) -> None:
    web = renderings["production"].by_component("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert 0 < pause < pod_spec(web)["terminationGracePeriodSeconds"] - 30


# ----------------------------------------------------------------------------------- Network


def _egress(rendering: Rendering) -> list[dict[str, Any]]:
    policy = rendering.named(
        "NetworkPolicy", rendering.by_component("Deployment", "web")["metadata"]["name"]
    )
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


def _ports(rule: dict[str, Any]) -> set[int]:
    return {port["port"] for port in rule.get("ports", [])}


def test_the_network_policy_covers_every_pod_of_the_release(rendering: Rendering) -> None:
    web = rendering.by_component("Deployment", "web")
    policy = rendering.named("NetworkPolicy", web["metadata"]["name"])
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for workload in rendering.workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), workload["metadata"]["name"]
    # Only web has a port named http; every other pod of the release accepts nothing.
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]


def test_workers_reach_the_internet_dns_postgresql_and_redis_only(
    renderings: dict[str, Rendering],
) -> None:
    dns, postgresql, redis, internet = _egress(renderings["production"])
    assert _ports(dns) == {53}
    assert {port["protocol"] for port in dns["ports"]} == {"UDP", "TCP"}
    assert _ports(postgresql) == {5432}
    assert _ports(redis) == {6379}
    assert "ports" not in internet
    ipv4, ipv6 = (peer["ipBlock"] for peer in internet["to"])
    assert ipv4["cidr"] == "0.0.0.0/0"
    expected = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"}
    assert expected <= set(ipv4["except"])
    assert ipv6["cidr"] == "::/0"
    assert {"fc00::/7", "fe80::/10"} <= set(ipv6["except"])


def test_cluster_ranges_and_peers_narrow_the_policy(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["options"]
    _, postgresql, redis, internet, smtp = _egress(rendering)
    assert postgresql["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
    assert redis["to"] == [{"ipBlock": {"cidr": "10.20.1.0/24"}}]
    ipv4, ipv6 = (peer["ipBlock"] for peer in internet["to"])
    assert "198.18.0.0/15" in ipv4["except"]
    assert "2001:db8:42::/56" in ipv6["except"]
    assert smtp == {"ports": [{"port": 587}], "to": [{"ipBlock": {"cidr": "10.30.0.25/32"}}]}
    policy = rendering.named("NetworkPolicy", "customerinfo")
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]


# ------------------------------------------------------------------------------- Configuration


def test_the_secret_completes_a_production_configuration(
    renderings: dict[str, Rendering],
) -> None:
    """The chart's environment plus the documented secret keys pass `check --deploy`."""
    web = renderings["production"].by_component("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    environment = {
        "PATH": os.environ["PATH"],
        **container_env(container),
        **APPLICATION_SECRET_KEYS,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_deploy_guide_names_every_secret_and_switch() -> None:
    guide = DEPLOY_DOC.read_text()
    for key in APPLICATION_SECRET_KEYS:
        assert f"K8S_SECRET_{key}" in guide, key
    for variable in (
        "AUTO_DEVOPS_CHART",
        "HELM_UPGRADE_EXTRA_ARGS",
        "STAGING_ENABLED",
        "REVIEW_DISABLED",
        "CANARY_ENABLED",
        "REPLICAS",
        "POSTGRES_ENABLED",
        "helm rollback",
        "expand",
        "contract",
        "DNS-01",
    ):
        assert variable in guide, variable


def test_containers_get_the_secret_of_their_release(rendering: Rendering) -> None:
    secret = rendering.values.get("application", {}).get("secretName")
    for workload in rendering.workloads():
        for container in containers(workload):
            if secret:
                assert container["envFrom"] == [{"secretRef": {"name": secret}}]
            else:
                assert "envFrom" not in container


def test_the_deploys_use_the_environments_release_name(renderings: dict[str, Rendering]) -> None:
    for scenario, deploy in AUTO_DEPLOYS.items():
        web = renderings[scenario].by_component("Deployment", "web")
        assert web["metadata"]["name"] == deploy.release
