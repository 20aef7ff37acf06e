"""What GitLab Auto Deploy (auto-deploy-image v2, ``src/bin/auto-deploy``) passes to our chart.

Its ``deploy`` function runs ``helm upgrade --install --atomic --wait`` with a fixed set of
``--set`` flags (``image.tag`` with ``--set-string``), a generated values file holding the
registry pull secret, and ``$HELM_UPGRADE_EXTRA_ARGS``. This module reproduces that flag set for
one environment and track, so the chart's tests see exactly what a pipeline hands it: no
``image.pullPolicy``, ``image.secrets[0].name`` or ``postgresql.enabled`` flags (gone since v2),
and never anything about TLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import helm_python as helm

from tests.deploy.support import deep_merge

PROJECT_ID = 4242
PROJECT_PATH_SLUG = "acme-customerinfo"
REGISTRY_IMAGE = "registry.gitlab.com/acme/customerinfo"
COMMIT_SHA = "3f2c9e1b7a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"
SECRET_CHECKSUM = "9b74c9897bac770ffc029102a200c5de0a1f6f1a1b2c3d4e5f60718293a4b5c6"

#: Every key auto-deploy-image v2 may set; the chart's tests may pass no other.
AUTO_DEPLOY_KEYS = frozenset(
    {
        "gitlab.app",
        "gitlab.env",
        "gitlab.envName",
        "gitlab.envURL",
        "gitlab.projectID",
        "releaseOverride",
        "image.repository",
        "image.tag",
        "application.track",
        "application.database_url",
        "application.secretName",
        "application.secretChecksum",
        "application.migrateCommand",
        "application.initializeCommand",
        "service.url",
        "service.additionalHosts",
        "service.commonName",
        "replicaCount",
        "ingress.canary.weight",
        "postgresql.managed",
        "postgresql.managedClassSelector.matchLabels.stack",
    }
)
#: Keys older auto-deploy-images passed that v2 no longer does.
RETIRED_KEYS = frozenset({"image.pullPolicy", "image.secrets[0].name", "postgresql.enabled"})


@dataclass(frozen=True)
class Environment:
    """A GitLab environment: CI_ENVIRONMENT_{SLUG,NAME,URL} and the namespace it deploys to."""

    slug: str
    name: str
    url: str
    namespace: str
    #: ADDITIONAL_HOSTS / <ENV>_ADDITIONAL_HOSTS.
    additional_hosts: tuple[str, ...] = ()
    #: Auto Deploy's own PostgreSQL (POSTGRES_ENABLED=true), else empty.
    database_url: str = ""
    #: KUBE_INGRESS_BASE_DOMAIN; service.commonName is passed only when it is known.
    kube_ingress_base_domain: str = ""


@dataclass(frozen=True)
class AutoDeploy:
    """One `auto-deploy deploy <track> <percentage>` run of a pipeline."""

    environment: Environment
    track: str = "stable"
    percentage: int = 100
    #: What get_replicas computed from REPLICAS / <TRACK>_<ENV>_REPLICAS and the percentage.
    replicas: int = 1
    #: CI_COMMIT_TAG: a tag pipeline deploys $CI_REGISTRY_IMAGE:<tag>.
    commit_tag: str = ""
    commit_ref_slug: str = "main"
    #: What the project adds through HELM_UPGRADE_EXTRA_ARGS (--values), never Auto Deploy.
    extra_values: dict[str, Any] = field(default_factory=dict)

    @property
    def release(self) -> str:
        """Helm release name: the environment's, suffixed for a non-stable track."""
        slug = self.environment.slug
        return slug if self.track == "stable" else f"{slug}-{self.track}"

    def set_flags(self) -> list[str]:
        environment = self.environment
        hosts = ",".join(environment.additional_hosts)
        flags = [
            f"gitlab.app={PROJECT_PATH_SLUG}",
            f"gitlab.env={environment.slug}",
            f"gitlab.envName={environment.name}",
            f"gitlab.envURL={environment.url}",
            f"gitlab.projectID={PROJECT_ID}",
            f"releaseOverride={environment.slug}",
            f"image.repository={self.image_repository}",
            f"application.track={self.track}",
            f"application.database_url={environment.database_url}",
            f"application.secretName={self.release}-secret",
            f"application.secretChecksum={SECRET_CHECKSUM}",
            f"service.url={environment.url}",
            f"service.additionalHosts={{{hosts}}}" if hosts else "service.additionalHosts=",
            f"replicaCount={self.replicas}",
            "postgresql.managed=false",
            "postgresql.managedClassSelector.matchLabels.stack=",
            f"ingress.canary.weight={self.percentage}",
            "application.migrateCommand=",
            "application.initializeCommand=",
        ]
        if environment.kube_ingress_base_domain:
            flags.append(
                f"service.commonName=le-{PROJECT_ID}.{environment.kube_ingress_base_domain}"
            )
        return flags

    def set_string_flags(self) -> list[str]:
        return [f"image.tag={self.commit_tag or COMMIT_SHA}"]

    @property
    def image_repository(self) -> str:
        if self.commit_tag:
            return REGISTRY_IMAGE
        return f"{REGISTRY_IMAGE}/{self.commit_ref_slug}"

    def pull_secret_values(self) -> dict[str, Any]:
        """The values file Auto Deploy generates for the registry's pull secret."""
        return {"image": {"secrets": [{"name": f"gitlab-registry-{PROJECT_PATH_SLUG}"}]}}

    def values(self) -> dict[str, Any]:
        """Merged as Helm merges them: values files first, then --set, then --set-string."""
        merged = deep_merge(self.pull_secret_values(), self.extra_values)
        for flag in self.set_flags():
            merged = deep_merge(merged, helm.parse_set_string(flag))
        for flag in self.set_string_flags():
            merged = deep_merge(merged, helm.parse_set_string_values(flag))
        return merged


def flag_keys(flags: list[str]) -> set[str]:
    return {flag.partition("=")[0] for flag in flags}
