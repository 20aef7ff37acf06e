"""The chart's alert rules: rendered both ways (PrometheusRule, plain rules file), checked by
`promtool check rules`, and unit-tested by `promtool test rules` (tests/deploy/
alert_rule_cases.yaml), every alert firing on some series and staying quiet on others."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import AUTO_DEPLOYS
from tests.deploy.support import REPO_ROOT, Rendering, render_chart, render_refusal

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
CASES = Path(__file__).with_name("alert_rule_cases.yaml")
ALERTS_DOC = REPO_ROOT / "docs" / "alerts.md"
RULES_KEY = "customerinfo-rules.yaml"
#: What the cases assume: release and namespace "customerinfo", default thresholds.
RELEASE = NAMESPACE = "customerinfo"
OPERATOR: dict[str, Any] = {"metrics": {"prometheusOperator": "true"}}

#: Two alerts with their annotations in full: the templates fill in labels and figures.
ANNOTATED_CASES = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: >-
          customerinfo_tablet_oldest_unsent_timestamp_seconds{namespace="customerinfo",
          tenant="alice"}
        values: '0x100'
      - series: 'customerinfo_celery_queue_length{namespace="customerinfo", queue="default"}'
        values: '750x100'
    alert_rule_test:
      - eval_time: 70m
        alertname: CustomerInfoTabletSignupsUnsent
        exp_alerts:
          - exp_labels: {severity: warning, namespace: customerinfo, tenant: alice}
            exp_annotations:
              summary: Tablets of alice hold sign-ups unsent for over an hour
              description: >-
                A tablet of retailer alice has held a sign-up for 1h 10m 0s without sending it.
                Browser storage can be evicted: the store must bring the tablet online.
              runbook_url: RUNBOOK#customerinfotabletsignupsunsent
      - eval_time: 70m
        alertname: CustomerInfoCeleryQueueLong
        exp_alerts:
          - exp_labels: {severity: warning, namespace: customerinfo, queue: default}
            exp_annotations:
              summary: 750 tasks wait in Celery queue default
              description: The workers do not keep up, or none is consuming.
              runbook_url: RUNBOOK#customerinfoceleryqueuelong
""".replace("RUNBOOK", "https://gitlab.com/customerinfo/customerinfo/-/blob/main/docs/alerts.md")


def _render(values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE) -> Rendering:
    return render_chart(values or {}, release=RELEASE, namespace=namespace, revision=1)


def _rules_file(rendering: Rendering) -> dict[str, Any]:
    (config_map,) = [
        item
        for item in rendering.of_kind("ConfigMap")
        if item["metadata"]["name"] == "customerinfo-alerts"
    ]
    rules: dict[str, Any] = yaml.safe_load(config_map["data"][RULES_KEY])
    return rules


def _alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _promtool(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        [PROMTOOL, *arguments], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def plain() -> Rendering:
    """`helm template` offline: no cluster answers, so no Operator kinds (the `auto` default)."""
    return _render()


@pytest.fixture(scope="module")
def operator() -> Rendering:
    return _render(OPERATOR)


def test_without_the_operator_the_rules_are_a_plain_rules_file(plain: Rendering) -> None:
    assert not plain.of_kind("PrometheusRule")
    assert not plain.of_kind("ServiceMonitor")
    assert len(_alerts(_rules_file(plain))) == 16


def test_with_the_operator_the_same_rules_are_a_prometheus_rule(
    operator: Rendering, plain: Rendering
) -> None:
    assert not [item for item in operator.of_kind("ConfigMap") if "alerts" in str(item)]
    (rule,) = operator.of_kind("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "customerinfo-alerts"
    assert rule["spec"]["groups"] == _rules_file(plain)["groups"]


@pytest.mark.parametrize("branch", ["plain", "operator"])
def test_promtool_checks_the_rendered_rules(
    branch: str, plain: Rendering, operator: Rendering, tmp_path: Path
) -> None:
    if branch == "plain":
        rules = _rules_file(plain)
    else:
        rules = {"groups": operator.of_kind("PrometheusRule")[0]["spec"]["groups"]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    result = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 16 rules found" in result.stdout


def test_every_alert_is_labelled_explained_and_has_a_runbook_section(plain: Rendering) -> None:
    headings = {
        line.removeprefix("## ").strip().lower()
        for line in ALERTS_DOC.read_text().splitlines()
        if line.startswith("## ")
    }
    for alert in _alerts(_rules_file(plain)):
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = alert["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        url = annotations["runbook_url"]
        assert url.startswith("https://"), url
        assert url.endswith(f"docs/alerts.md#{name.lower()}"), url
        # GitLab and GitHub make a heading's anchor from its text, lower-cased.
        assert name.lower() in headings, f"docs/alerts.md has no section {name}"


def test_promtool_unit_tests_fire_and_stay_quiet_for_every_alert(
    plain: Rendering, tmp_path: Path
) -> None:
    rules = _rules_file(plain)
    # The cases test expressions, durations and labels; the annotations' templates are checked
    # by `check rules` above and rendered once in the next test.
    for alert in _alerts(rules):
        alert.pop("annotations")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    cases = yaml.safe_load(CASES.read_text())
    cases["rule_files"] = ["rules.yaml"]
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(cases))

    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases["tests"]:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {alert["alert"] for alert in _alerts(rules)}
    assert firing == names, names - firing
    assert quiet == names, names - quiet

    result = _promtool("test", "rules", "cases.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_annotations_render_with_the_alerts_figures(plain: Rendering, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(_rules_file(plain)))
    (tmp_path / "cases.yaml").write_text(ANNOTATED_CASES)
    result = _promtool("test", "rules", "cases.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thresholds_and_the_namespace_come_from_the_values() -> None:
    rendering = _render(
        {"alerts": {"thresholds": {"tabletUnsentSeconds": 7200}, "runbookUrl": "https://x/a.md"}},
        namespace="shop-production",
    )
    alerts = {alert["alert"]: alert for alert in _alerts(_rules_file(rendering))}
    tablets = alerts["CustomerInfoTabletSignupsUnsent"]
    assert "> 7200" in tablets["expr"]
    assert 'namespace="shop-production"' in tablets["expr"]
    assert tablets["annotations"]["runbook_url"] == "https://x/a.md#customerinfotabletsignupsunsent"
    assert (
        'namespace="shop-production", ingress=~"customerinfo(-.*)?"'
        in (alerts["CustomerInfoHttp5xxRate"]["expr"])
    )
    unscoped = _render({"alerts": {"matchNamespace": False}})
    for alert in _alerts(_rules_file(unscoped)):
        if alert["alert"] != "CustomerInfoHttp5xxRate":
            assert "namespace=" not in alert["expr"], alert["alert"]


def test_a_threshold_without_a_value_refuses_to_render() -> None:
    message = render_refusal(
        {"alerts": {"thresholds": {"celeryQueueLength": None}}},
        release=RELEASE,
        namespace=NAMESPACE,
    )
    assert "${celeryQueueLength} has no value" in message


def test_no_rules_on_a_canary_nor_a_review_app_and_none_when_off() -> None:
    for scenario in ("production-canary-10", "review"):
        deploy = AUTO_DEPLOYS[scenario]
        rendering = render_chart(
            {**deploy.values(), **OPERATOR},
            release=deploy.release,
            namespace=deploy.environment.namespace,
            revision=3,
        )
        assert not rendering.of_kind("PrometheusRule"), scenario
        assert not [c for c in rendering.of_kind("ConfigMap") if "alerts" in c["metadata"]["name"]]
    off = _render({"alerts": {"enabled": False}})
    assert not [c for c in off.of_kind("ConfigMap") if "alerts" in c["metadata"]["name"]]


def test_the_service_monitor_scrapes_web_with_the_token_of_the_application_secret() -> None:
    wanted = copy.deepcopy(OPERATOR)
    wanted["metrics"]["serviceMonitor"] = {"enabled": True, "labels": {"release": "prom"}}
    rendering = _render({**wanted, "application": {"secretName": "customerinfo-secret"}})
    (monitor,) = rendering.of_kind("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    (service,) = rendering.of_kind("Service")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "customerinfo-secret", "key": "METRICS_TOKEN"},
    }
    # Not without the Operator's kinds (`auto` offline), and not without a secret to read.
    auto = _render({"metrics": {"serviceMonitor": {"enabled": True}}})
    assert not auto.of_kind("ServiceMonitor")
    message = render_refusal(wanted, release=RELEASE, namespace=NAMESPACE)
    assert "application.secretName" in message


def test_the_deploy_guide_and_readme_require_the_metrics_token() -> None:
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert re.search(r"`K8S_SECRET_METRICS_TOKEN` \| yes", guide)
    readme = (REPO_ROOT / "README.md").read_text()
    assert re.search(r"`METRICS_TOKEN` \| yes", readme)
