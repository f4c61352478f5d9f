"""deploy/kubernetes/ against Kubernetes' schemas (kubernetes-validate, no network) and the code.

kubernetes-validate ships the OpenAPI schemas of the built-in kinds; the ServiceMonitor is a
CRD of the Prometheus Operator, which it has no schema for, so that one is checked
structurally here: it must select the Service and scrape its named port.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.main import get_command

from worker.cli.app import app
from worker.config import BRAND_VAR, Settings
from worker.health import PATHS

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"
SETTINGS = {name.upper() for name in Settings.model_fields if name != "brands"}
PROCESS_ONLY = {"MALLOC_ARENA_MAX"}
"""Read by glibc, not by rei-sync (see docs/BENCHMARKS.md, the soak)."""
BUILT_IN = ["deployment.yaml", "migrate-job.yaml", "secret.example.yaml", "service.yaml"]


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((MANIFESTS / name).read_text()))


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers = manifest["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(manifest: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(manifest).get("env", [])}


def test_every_manifest_is_listed() -> None:
    assert sorted(p.name for p in MANIFESTS.glob("*.yaml")) == sorted(
        [*BUILT_IN, "servicemonitor.yaml"]
    )


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_kinds_validate_against_the_kubernetes_schema(name: str) -> None:
    kubernetes_validate.validate(load(name), KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    broken = load("deployment.yaml")
    container(broken)["livenessProbe"]["httpGet"]["port"] = {"not": "a port"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_the_right_endpoints() -> None:
    spec = container(load("deployment.yaml"))
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    probed = {spec[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert probed <= set(PATHS)
    assert "/brandz" not in probed  # one bad brand must not take every pod out


def test_the_deployment_is_locked_down() -> None:
    deployment = load("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    spec = container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid = re.search(r"--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert uid is not None
    assert pod["securityContext"]["runAsUser"] == int(uid.group(1))
    assert pod["automountServiceAccountToken"] is False
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(spec["resources"]["requests"])
    assert "memory" in spec["resources"]["limits"]
    assert spec["envFrom"] == [{"secretRef": {"name": "rei-sync"}}]


def test_termination_grace_covers_the_shutdown_grace() -> None:
    deployment = load("deployment.yaml")
    grace = float(env_of(deployment)["SHUTDOWN_GRACE_SECONDS"])
    assert grace == Settings.model_fields["shutdown_grace_seconds"].default
    pod_grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace < pod_grace <= grace + 10


def test_the_migrate_job_runs_a_real_command_with_the_same_image() -> None:
    job = load("migrate-job.yaml")
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert container(job)["args"] == ["migrate"]
    assert "migrate" in commands
    assert container(job)["image"] == container(load("deployment.yaml"))["image"]
    assert container(job)["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_variable_is_a_known_setting() -> None:
    names = set(env_of(load("deployment.yaml"))) | set(env_of(load("migrate-job.yaml")))
    names |= set(load("secret.example.yaml")["stringData"])
    unknown = {n for n in names if n not in SETTINGS | PROCESS_ONLY and not BRAND_VAR.match(n)}
    assert unknown == set()


def test_the_service_monitor_scrapes_the_services_metrics_port() -> None:
    monitor, service = load("servicemonitor.yaml"), load("service.yaml")
    deployment = load("deployment.yaml")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["kind"] == "ServiceMonitor"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    ports = {p["name"] for p in service["spec"]["ports"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] in ports
    assert endpoint["path"] == "/metrics"
    container_ports = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
    assert container_ports["metrics"] == int(env_of(deployment)["HEALTH_PORT"])
    # alerts.yml expects job="rei-sync": the Operator names the job after the Service.
    assert service["metadata"]["name"] == "rei-sync"
    assert 'job="rei-sync"' in (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
