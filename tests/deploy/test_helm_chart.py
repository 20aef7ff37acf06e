"""The Helm chart in every scenario: lint, schema-valid manifests, safe and runnable workloads.

Tracks, GitLab Auto Deploy's flags and review apps: test_helm_tracks.py. The release's gate,
TLS, processes and the network: test_helm_release.py.
"""

from __future__ import annotations

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import (
    APP_UID,
    CHART_DIR,
    DOCKERFILE,
    Manifest,
    Rendering,
    assert_provided,
    container_env,
    containers,
    files_referenced_by,
    parse_dockerfile,
    pod_spec,
    venv_executable,
)

# The oldest Kubernetes minor we still deploy to, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
TMP_DIRECTORY = "/tmp"  # noqa: S108 - a path inside the container, not on this machine
LINTED = ("defaults", "production", "production-canary-10", "review", "fixed", "options")


def _all_pods(rendering: Rendering) -> list[Manifest]:
    return rendering.of_kind("Deployment") + rendering.of_kind("Job")


def test_chart_metadata() -> None:
    metadata = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert metadata["apiVersion"] == "v2"
    assert metadata["name"] == "customerinfo"
    assert (CHART_DIR / "templates" / "_helpers.tpl").is_file()
    assert (CHART_DIR / "templates" / "NOTES.txt").is_file()


@pytest.mark.parametrize("scenario", LINTED)
def test_helm_lint_is_clean(renderings: dict[str, Rendering], scenario: str) -> None:
    report = helm.lint(
        CHART_DIR,
        renderings[scenario].values,
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


def test_names_are_valid_and_unique(rendering: Rendering) -> None:
    seen = [(item["kind"], item["metadata"]["name"]) for item in rendering.manifests]
    assert len(seen) == len(set(seen))
    for _, name in seen:
        assert len(name) <= 63, name
    assert rendering.notes.strip()


def test_every_container_runs_unprivileged(rendering: Rendering) -> None:
    application = {id(item) for item in rendering.workloads()}
    for workload in _all_pods(rendering):
        spec = pod_spec(workload)
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] != 0
        if id(workload) in application:
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
            # The only writable paths are emptyDirs.
            mounted = {mount["name"] for mount in container["volumeMounts"]}
            assert mounted, where
            assert mounted <= temporary, where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys(), where


def test_application_containers_write_only_to_tmp(rendering: Rendering) -> None:
    for workload in rendering.workloads():
        for container in containers(workload):
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert mounts == {TMP_DIRECTORY}, container["name"]


def test_every_container_is_configured_for_production(rendering: Rendering) -> None:
    for workload in rendering.workloads():
        for container in containers(workload):
            env = container_env(container)
            assert env["CUSTOMERINFO_ENV"] == "production"
            assert env["BASE_DOMAIN"]


def _commands(rendering: Rendering) -> list[list[str]]:
    found: list[list[str]] = []
    for workload in rendering.workloads():
        for container in containers(workload):
            if "command" in container:
                found.append(container["command"] + container.get("args", []))
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in container.get(probe, {}):
                    found.append(container[probe]["exec"]["command"])
    return found


def test_commands_reference_programs_and_files_that_exist(rendering: Rendering) -> None:
    commands = _commands(rendering)
    assert commands
    for argv in commands:
        venv_executable(argv[0])
        for needed in files_referenced_by(argv):
            assert_provided(needed)


def test_web_runs_the_images_own_command_on_the_port_it_exposes(rendering: Rendering) -> None:
    """The image's CMD (gunicorn and its configuration) is the one source of the server's argv."""
    final_stage = parse_dockerfile(DOCKERFILE.read_text())[-1]
    assert final_stage.last("CMD") is not None
    exposed = {
        int(word.partition("/")[0])
        for instruction in final_stage.all("EXPOSE")
        for word in instruction.arguments.split()
    }
    for web in rendering.all_of_component("Deployment", "web"):
        (container,) = pod_spec(web)["containers"]
        assert "command" not in container
        assert "args" not in container
        (port,) = container["ports"]
        assert port["name"] == "http"
        assert port["containerPort"] in exposed


def test_service_selects_the_web_pods_of_its_own_track(rendering: Rendering) -> None:
    (service,) = [
        item
        for item in rendering.of_kind("Service")
        if item["metadata"]["labels"]["app.kubernetes.io/component"] == "web"
    ]
    web = rendering.by_component("Deployment", "web")
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert web["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert service["spec"]["selector"]["app.kubernetes.io/instance"] == web["metadata"]["name"]


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


def test_default_values_leave_secrets_unset_and_warn(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["defaults"]
    for workload in rendering.workloads():
        for container in containers(workload):
            assert "envFrom" not in container
    assert "application.secretName is empty" in rendering.notes


def test_fixed_replicas_without_autoscalers(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["fixed"]
    assert rendering.of_kind("HorizontalPodAutoscaler") == []
    assert rendering.by_component("Deployment", "web")["spec"]["replicas"] == 4
    assert rendering.by_component("Deployment", "worker")["spec"]["replicas"] == 3
    # An existing ServiceAccount: nothing created, every pod (the hook's too) runs as it.
    assert rendering.of_kind("ServiceAccount") == []
    for workload in rendering.workloads():
        assert pod_spec(workload)["serviceAccountName"] == "customerinfo-workload-identity"


def test_queue_length_autoscaling_is_opt_in(renderings: dict[str, Rendering]) -> None:
    def external_metrics(rendering: Rendering) -> list[dict[str, object]]:
        autoscaler = rendering.by_component("HorizontalPodAutoscaler", "worker")
        return [item for item in autoscaler["spec"]["metrics"] if item["type"] == "External"]

    assert external_metrics(renderings["production"]) == []
    (metric,) = external_metrics(renderings["options"])
    assert metric["external"] == {
        "metric": {"name": "redis_key_size", "selector": {"matchLabels": {"key": "default"}}},
        "target": {"type": "AverageValue", "averageValue": "20"},
    }
