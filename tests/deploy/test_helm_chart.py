"""The Helm chart: lint, schema-valid manifests, GitLab Auto Deploy values, safe workloads."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import (
    APP_UID,
    CHART_DIR,
    GITLAB_AUTO_DEPLOY_SET_FLAGS,
    GITLAB_RELEASE,
    Manifest,
    Rendering,
    assert_provided,
    containers,
    files_referenced_by,
    pod_spec,
    require_application_file,
    values_from_set_flags,
    venv_executable,
)

# The oldest Kubernetes minor we still deploy to, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
WORKLOAD_KINDS = ("Deployment", "Job")
HOOK_ANNOTATION = "helm.sh/hook"
TMP_DIRECTORY = "/tmp"  # noqa: S108 - a path inside the container, not on this machine


def _workloads(rendering: Rendering) -> list[Manifest]:
    return [item for kind in WORKLOAD_KINDS for item in rendering.of_kind(kind)]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}


def test_chart_metadata() -> None:
    metadata = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert metadata["apiVersion"] == "v2"
    assert metadata["name"] == "customerinfo"
    assert (CHART_DIR / "templates" / "_helpers.tpl").is_file()
    assert (CHART_DIR / "templates" / "NOTES.txt").is_file()


@pytest.mark.parametrize(
    "set_flags", [[], GITLAB_AUTO_DEPLOY_SET_FLAGS], ids=["defaults", "gitlab-auto-deploy"]
)
def test_helm_lint_is_clean(set_flags: list[str]) -> None:
    report = helm.lint(
        CHART_DIR,
        values_from_set_flags(set_flags),
        strict=True,
        kube_version=f"v{KUBERNETES_VERSIONS[0]}",
    )
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); warnings and errors are not allowed.
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert problems == []


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_manifests_validate_strictly(rendering: Rendering, kubernetes_version: str) -> None:
    assert rendering.manifests
    for manifest in rendering.manifests:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)


def test_renders_every_component(rendering: Rendering) -> None:
    components = {
        item["metadata"]["labels"]["app.kubernetes.io/component"]
        for item in rendering.of_kind("Deployment")
    }
    assert components == {"web", "worker", "beat"}
    assert len(rendering.of_kind("Service")) == 1
    assert len(rendering.of_kind("Ingress")) == 1
    assert len(rendering.of_kind("ServiceAccount")) == 1
    assert len(rendering.of_kind("Job")) == 1
    assert "CronJob" not in {item["kind"] for item in rendering.manifests}
    assert rendering.notes.strip()


def test_names_are_valid_and_unique(rendering: Rendering) -> None:
    seen = [(item["kind"], item["metadata"]["name"]) for item in rendering.manifests]
    assert len(seen) == len(set(seen))
    for _, name in seen:
        assert len(name) <= 63, name


def test_beat_is_a_singleton(rendering: Rendering) -> None:
    beat = rendering.by_component("Deployment", "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    scaled = {
        item["spec"]["scaleTargetRef"]["name"]
        for item in rendering.of_kind("HorizontalPodAutoscaler")
    }
    assert beat["metadata"]["name"] not in scaled


def test_every_container_runs_unprivileged(rendering: Rendering) -> None:
    for workload in _workloads(rendering):
        spec = pod_spec(workload)
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] == APP_UID
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        temporary = {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["runAsUser"] != 0, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            # The only writable path (gunicorn heartbeats, the beat schedule) is an emptyDir.
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert mounts.get(TMP_DIRECTORY) in temporary, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys(), where


def test_every_container_is_configured_for_production(rendering: Rendering) -> None:
    for workload in _workloads(rendering):
        for container in containers(workload):
            env = _env(container)
            assert env["CUSTOMERINFO_ENV"] == "production"
            assert env["BASE_DOMAIN"]


def test_web_has_probes_on_the_health_endpoints(rendering: Rendering) -> None:
    web = rendering.by_component("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8000}
    expected = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in expected.items():
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_commands_reference_programs_and_files_that_exist(rendering: Rendering) -> None:
    for workload in _workloads(rendering):
        for container in containers(workload):
            argv = container["command"] + container.get("args", [])
            venv_executable(argv[0])
            for needed in files_referenced_by(argv):
                require_application_file(needed)
                assert_provided(needed)


def test_tenant_migrations_run_as_their_own_job_per_revision(rendering: Rendering) -> None:
    (job,) = rendering.of_kind("Job")
    (container,) = pod_spec(job)["containers"]
    assert container["command"][-2:] == ["manage.py", "migrate_tenants"]
    # Not a Helm hook: hooks are cut off after 5 minutes by default.
    assert HOOK_ANNOTATION not in job["metadata"].get("annotations", {})
    spec = job["spec"]
    assert spec["backoffLimit"] >= 1
    assert spec["ttlSecondsAfterFinished"] > 0
    assert pod_spec(job)["restartPolicy"] == "Never"
    revisions = {"defaults": 1, "gitlab-auto-deploy": 17, "fixed-replicas": 2}
    assert any(job["metadata"]["name"].endswith(f"-{number}") for number in revisions.values())


def test_job_name_changes_with_each_revision(renderings: dict[str, Rendering]) -> None:
    (job,) = renderings["gitlab-auto-deploy"].of_kind("Job")
    assert job["metadata"]["name"] == f"{GITLAB_RELEASE}-migrate-tenants-17"
    (first,) = renderings["defaults"].of_kind("Job")
    assert first["metadata"]["name"] == "customerinfo-migrate-tenants-1"


def test_ingress_serves_the_bare_and_the_wildcard_domain(rendering: Rendering) -> None:
    (ingress,) = rendering.of_kind("Ingress")
    (service,) = rendering.of_kind("Service")
    web = rendering.by_component("Deployment", "web")
    (container,) = pod_spec(web)["containers"]
    base_domain = _env(container)["BASE_DOMAIN"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts[:2] == [base_domain, f"*.{base_domain}"]
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {
            "name": service["metadata"]["name"],
            "port": {"name": "http"},
        }
    for tls in ingress["spec"].get("tls", []):
        assert set(hosts) <= set(tls["hosts"])


def test_service_selects_the_web_pods(rendering: Rendering) -> None:
    (service,) = rendering.of_kind("Service")
    web = rendering.by_component("Deployment", "web")
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert web["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_autoscalers_and_disruption_budgets_cover_web_and_worker(rendering: Rendering) -> None:
    for component in ("web", "worker"):
        deployment = rendering.by_component("Deployment", component)
        budget = rendering.by_component("PodDisruptionBudget", component)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        autoscalers = [
            item
            for item in rendering.of_kind("HorizontalPodAutoscaler")
            if item["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        ]
        if autoscalers:
            (autoscaler,) = autoscalers
            assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
            # The autoscaler owns the replica count; a fixed one would fight it on upgrades.
            assert "replicas" not in deployment["spec"]
        else:
            assert deployment["spec"]["replicas"] >= 1


def test_gitlab_auto_deploy_values_reach_the_objects(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["gitlab-auto-deploy"]
    # auto-deploy-image waits with `kubectl rollout status deployment/<release>`.
    web = rendering.named("Deployment", GITLAB_RELEASE)
    assert web["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    autoscaler = rendering.named("HorizontalPodAutoscaler", GITLAB_RELEASE)
    assert autoscaler["spec"]["minReplicas"] == 3  # replicaCount is the autoscaler's floor
    for workload in _workloads(rendering):
        spec = pod_spec(workload)
        assert spec["imagePullSecrets"] == [{"name": "gitlab-registry-acme-customerinfo"}]
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert annotations["app.gitlab.com/app"] == "acme-customerinfo"
        assert annotations["app.gitlab.com/env"] == "production"
        assert annotations["checksum/application-secret"].startswith("9b74c989")
        for container in containers(workload):
            assert container["image"] == (
                "registry.gitlab.com/acme/customerinfo/main:"
                "3f2c9e1b7a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"
            )
            assert container["imagePullPolicy"] == "IfNotPresent"
            assert container["envFrom"] == [{"secretRef": {"name": f"{GITLAB_RELEASE}-secret"}}]
            env = _env(container)
            assert env["BASE_DOMAIN"] == "acme-customerinfo.apps.example.net"
            assert "DATABASE_URL" not in env  # empty database_url: the secret's value wins
    (ingress,) = rendering.of_kind("Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert "signup.acme.example" in hosts
    assert ingress["spec"]["tls"][0]["secretName"] == "acme-customerinfo-wildcard-tls"
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt-dns01",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/proxy-body-size": "8",
    }


def test_default_values_leave_secrets_unset_and_warn(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["defaults"]
    for workload in _workloads(rendering):
        for container in containers(workload):
            assert "envFrom" not in container
    assert "application.secretName is empty" in rendering.notes


def test_fixed_replicas_without_autoscalers(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["fixed-replicas"]
    assert rendering.of_kind("HorizontalPodAutoscaler") == []
    assert rendering.by_component("Deployment", "web")["spec"]["replicas"] == 4
    assert rendering.by_component("Deployment", "worker")["spec"]["replicas"] == 3
    (ingress,) = rendering.of_kind("Ingress")
    assert "tls" not in ingress["spec"]
    assert ingress["spec"]["rules"][1]["host"] == "*.customerinfo.test"
