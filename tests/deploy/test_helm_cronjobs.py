"""The backup CronJobs: a nightly `backup_create`, its `backup_verify` later the same night.

They run the worker's image with the worker's environment and secret, write only to emptyDirs
(the dumps to a sized work folder named by BACKUP_WORK_DIR), never overlap, belong to the stable
track only, stay out of review apps unless asked for, and reach the database and the bucket
through the release's network policy.
"""

from __future__ import annotations

from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest

from tests.deploy.auto_deploy import AutoDeploy
from tests.deploy.conftest import PRODUCTION_TRACKS, REVIEW, REVIEW_VALUES
from tests.deploy.support import (
    CHART_DIR,
    Manifest,
    Rendering,
    assert_provided,
    container_env,
    deep_merge,
    files_referenced_by,
    render_chart,
    values_from_set_flags,
    venv_executable,
)

KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
BACKUP, VERIFY = "backup", "backup-verify"
COMMANDS = {
    BACKUP: ["python", "manage.py", "backup_create"],
    VERIFY: ["python", "manage.py", "backup_verify"],
}
#: Everything the backup values offer, set at once.
CONFIGURED = [
    "backup.s3.bucket=acme-backups",
    "backup.s3.endpointUrl=https://minio.backups.internal:9000",
    "backup.s3.region=eu-west-3",
    "backup.s3.prefix=production/",
    "backup.s3.serverSideEncryption=aws:kms",
    "backup.s3.kmsKeyId=alias/customerinfo-backups",
    "backup.env.BACKUP_JOBS=4",
    "backup.workDir.sizeLimit=50Gi",
    "backup.verify.databaseUrlSecret.name=customerinfo-verify-database",
    "backup.networkPolicyEgress[0].ports[0].port=9000,"
    "backup.networkPolicyEgress[0].to[0].ipBlock.cidr=10.40.0.10/32",
]


def _manual(flags: list[str]) -> Rendering:
    return render_chart(
        values_from_set_flags(flags), release="customerinfo", namespace="customerinfo", revision=1
    )


@pytest.fixture(scope="module")
def configured() -> Rendering:
    return _manual(CONFIGURED)


def _cronjob(rendering: Rendering, component: str) -> Manifest:
    return rendering.by_component("CronJob", component)


def _pod(cronjob: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def _container(cronjob: Manifest) -> dict[str, Any]:
    (container,) = _pod(cronjob)["containers"]
    assert "initContainers" not in _pod(cronjob)
    found: dict[str, Any] = container
    return found


def _minutes_of_day(schedule: str) -> int:
    """A daily schedule's time of day: `M H * * *` with a single minute and hour."""
    minute, hour, *every = schedule.split()
    assert every == ["*", "*", "*"], f"{schedule} is not daily"
    return int(hour) * 60 + int(minute)


@pytest.mark.parametrize("scenario", ["defaults", "production", "staging", "tag"])
def test_a_stable_release_backs_up_nightly_then_verifies(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    rendering = renderings[scenario]
    # Auto Deploy passes nothing about backups: these are the chart's defaults.
    assert "backup" not in rendering.values
    backup, verify = _cronjob(rendering, BACKUP), _cronjob(rendering, VERIFY)
    assert backup["spec"]["schedule"] == "15 2 * * *"
    assert verify["spec"]["schedule"] == "15 4 * * *"
    # The check restores the newest complete backup: it starts once that night's has had time.
    backup_deadline = backup["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    gap = _minutes_of_day(verify["spec"]["schedule"]) - _minutes_of_day(backup["spec"]["schedule"])
    assert gap * 60 >= backup_deadline
    for cronjob in (backup, verify):
        spec = cronjob["spec"]
        assert spec["timeZone"] == "Etc/UTC"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] <= 3600
        assert 1 <= spec["successfulJobsHistoryLimit"] <= 5
        assert 1 <= spec["failedJobsHistoryLimit"] <= 5
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] <= 1
        # Finished before the next night's run (and the backup before its check).
        assert 0 < job["activeDeadlineSeconds"] < 24 * 3600
        assert _pod(cronjob)["restartPolicy"] == "Never"
        # The controller appends 11 characters to name each Job (63 at most).
        assert len(cronjob["metadata"]["name"]) <= 52


def test_the_commands_exist(renderings: dict[str, Rendering]) -> None:
    for component, command in COMMANDS.items():
        container = _container(_cronjob(renderings["production"], component))
        assert container["command"] == command
        assert "args" not in container
        venv_executable(command[0])
        for needed in files_referenced_by(command):
            assert_provided(needed)


@pytest.mark.parametrize("scenario", ["defaults", "production"])
def test_they_run_the_workers_image_environment_and_secret(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    rendering = renderings[scenario]
    worker = rendering.by_component("Deployment", "worker")
    (worker_container,) = worker["spec"]["template"]["spec"]["containers"]
    worker_env = worker_container["env"]
    for component in COMMANDS:
        cronjob = _cronjob(rendering, component)
        container = _container(cronjob)
        assert container["image"] == worker_container["image"]
        assert container.get("envFrom") == worker_container.get("envFrom")
        if scenario == "production":
            assert container["envFrom"], "the application secret reaches the CronJobs"
        # The worker's variables (its heartbeat file aside), in its order, then the backup's.
        shared = [item for item in worker_env if item["name"] != "CELERY_HEARTBEAT_FILE"]
        assert container["env"][: len(shared)] == shared
        env = container_env(container)
        assert env["BACKUP_STORAGE"] == "s3"
        assert env["BACKUP_WORK_DIR"] == "/backup-work"
        assert "BACKUP_VERIFY_DATABASE_URL" not in env
        assert container["securityContext"] == worker_container["securityContext"]
        pod, worker_pod = _pod(cronjob), worker["spec"]["template"]["spec"]
        for key in ("securityContext", "serviceAccountName", "automountServiceAccountToken"):
            assert pod[key] == worker_pod[key], key
        assert pod.get("imagePullSecrets") == worker_pod.get("imagePullSecrets")
        labels = cronjob["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == component


def test_dumps_are_written_to_a_sized_emptydir_only(renderings: dict[str, Rendering]) -> None:
    for component in COMMANDS:
        cronjob = _cronjob(renderings["defaults"], component)
        pod, container = _pod(cronjob), _container(cronjob)
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert volumes["backup-work"] == {"name": "backup-work", "emptyDir": {"sizeLimit": "20Gi"}}
        assert all("emptyDir" in volume for volume in volumes.values())
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert mounts == {"/tmp": "tmp", "/backup-work": "backup-work"}  # noqa: S108
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["runAsNonRoot"] is True
        # The work folder fits within what the pod may use of the node's disk.
        limits = container["resources"]["limits"]
        assert {"cpu", "memory", "ephemeral-storage"} <= limits.keys()
        assert _gibibytes(limits["ephemeral-storage"]) > 20
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()


def _gibibytes(quantity: str) -> float:
    units = {"Mi": 1 / 1024, "Gi": 1, "Ti": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_the_values_reach_the_jobs(configured: Rendering) -> None:
    expected = {
        "BACKUP_STORAGE": "s3",
        "BACKUP_S3_BUCKET": "acme-backups",
        "BACKUP_S3_ENDPOINT_URL": "https://minio.backups.internal:9000",
        "BACKUP_S3_REGION": "eu-west-3",
        "BACKUP_S3_PREFIX": "production/",
        "BACKUP_S3_SERVER_SIDE_ENCRYPTION": "aws:kms",
        "BACKUP_S3_KMS_KEY_ID": "alias/customerinfo-backups",
        "BACKUP_JOBS": "4",
    }
    for component in COMMANDS:
        cronjob = _cronjob(configured, component)
        env = container_env(_container(cronjob))
        assert expected.items() <= env.items()
        work = next(item for item in _pod(cronjob)["volumes"] if item["name"] == "backup-work")
        assert work["emptyDir"] == {"sizeLimit": "50Gi"}
    # Only the check reads the scratch server's URL, from a Secret key, never as plain text.
    (url,) = [
        item
        for item in _container(_cronjob(configured, VERIFY))["env"]
        if item["name"] == "BACKUP_VERIFY_DATABASE_URL"
    ]
    assert url == {
        "name": "BACKUP_VERIFY_DATABASE_URL",
        "valueFrom": {
            "secretKeyRef": {
                "name": "customerinfo-verify-database",
                "key": "BACKUP_VERIFY_DATABASE_URL",
            }
        },
    }
    assert "BACKUP_VERIFY_DATABASE_URL" not in container_env(
        _container(_cronjob(configured, BACKUP))
    )


def _selects(policy: Manifest, labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_the_network_lets_them_reach_the_database_and_the_bucket(
    renderings: dict[str, Rendering], configured: Rendering
) -> None:
    rendering = renderings["production"]
    release = rendering.by_component("Deployment", "web")["metadata"]["name"]
    policy = rendering.named("NetworkPolicy", release)
    for component in COMMANDS:
        labels = _cronjob(rendering, component)["spec"]["jobTemplate"]["spec"]["template"]
        assert _selects(policy, labels["metadata"]["labels"])
    egress = policy["spec"]["egress"]
    assert any({"port": 5432, "protocol": "TCP"} in rule.get("ports", []) for rule in egress)
    # A public bucket (https) is on the internet rule: any port, outside the private ranges.
    assert any(
        "ports" not in rule and rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0" for rule in egress
    )
    # A private bucket opens to the backup pods alone.
    extra = configured.named("NetworkPolicy", "customerinfo-backup")
    assert extra["spec"]["policyTypes"] == ["Egress"]
    assert extra["spec"]["egress"] == [
        {"ports": [{"port": 9000}], "to": [{"ipBlock": {"cidr": "10.40.0.10/32"}}]}
    ]
    for component in COMMANDS:
        pod = _cronjob(configured, component)["spec"]["jobTemplate"]["spec"]["template"]
        assert _selects(extra, pod["metadata"]["labels"])
    for deployment in configured.of_kind("Deployment"):
        assert not _selects(extra, deployment["spec"]["template"]["metadata"]["labels"])
    assert [item["metadata"]["name"] for item in rendering.of_kind("NetworkPolicy")] == [release]


def test_disabled_backups_render_nothing(renderings: dict[str, Rendering]) -> None:
    disabled = _manual(["backup.enabled=false", *CONFIGURED])
    assert disabled.of_kind("CronJob") == []
    assert [item["metadata"]["name"] for item in disabled.of_kind("NetworkPolicy")] == [
        "customerinfo"
    ]
    # The rest of the release is untouched.
    expected = {
        (item["kind"], item["metadata"]["name"]) for item in renderings["defaults"].manifests
    }
    rendered = {(item["kind"], item["metadata"]["name"]) for item in disabled.manifests}
    assert rendered == {item for item in expected if item[0] != "CronJob"}
    without_check = _manual(["backup.verify.enabled=false"])
    assert [item["metadata"]["name"] for item in without_check.of_kind("CronJob")] == [
        "customerinfo-backup"
    ]


@pytest.mark.parametrize("scenario", [track for track in PRODUCTION_TRACKS if "-" in track])
def test_canary_and_rollout_tracks_leave_backups_to_the_stable_release(
    renderings: dict[str, Rendering], scenario: str
) -> None:
    assert renderings[scenario].of_kind("CronJob") == []
    assert len(renderings["production"].of_kind("CronJob")) == 2


def test_review_apps_get_none_unless_asked_for(renderings: dict[str, Rendering]) -> None:
    assert renderings["review"].of_kind("CronJob") == []
    wanted = deep_merge(REVIEW_VALUES, {"backup": {"reviewApps": True}})
    deploy = AutoDeploy(REVIEW, commit_ref_slug="feature-x", extra_values=wanted)
    rendering = render_chart(
        deploy.values(), release=deploy.release, namespace=REVIEW.namespace, revision=3
    )
    for component in COMMANDS:
        env = container_env(_container(_cronjob(rendering, component)))
        # The review app's own database, which the scratch database is made beside.
        assert env["DATABASE_URL"] == REVIEW.database_url


def test_long_release_names_leave_room_for_the_job_names() -> None:
    name = "acme-customerinfo-production-environment-with-a-long-name-x"
    rendering = render_chart(
        values_from_set_flags([f"releaseOverride={name}"]),
        release="r",
        namespace="customerinfo",
        revision=1,
    )
    names = [item["metadata"]["name"] for item in rendering.of_kind("CronJob")]
    assert len(names) == 2
    assert all(len(item) <= 52 and not item.startswith("-") for item in names), names
    assert names[0].endswith("-backup-verify")
    assert names[1].endswith("-backup")


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_the_configured_manifests_validate_strictly(
    configured: Rendering, kubernetes_version: str
) -> None:
    assert len(configured.of_kind("CronJob")) == 2
    for manifest in configured.manifests:
        kubernetes_validate.validate(manifest, kubernetes_version, strict=True)


def test_helm_lint_is_clean_with_every_backup_value(configured: Rendering) -> None:
    report = helm.lint(
        CHART_DIR, configured.values, strict=True, kube_version=f"v{KUBERNETES_VERSIONS[0]}"
    )
    assert report["errors"] == []
    assert [message for message in report["messages"] if message["severity"] >= 2] == []


def test_notes_warn_when_no_bucket_is_named_in_the_values(configured: Rendering) -> None:
    """An empty bucket may still come from the secret, so it renders; the notes say what the
    nightly run will do if it does not."""
    bare = _manual([])
    assert "backup.s3.bucket is empty" in bare.notes
    assert "CustomerInfoBackupFailed" in bare.notes
    assert "backup.s3.bucket is empty" not in configured.notes
    assert "backup.s3.bucket is empty" not in _manual(["backup.enabled=false"]).notes
