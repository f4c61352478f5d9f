"""Deployment files checked against the code: compose schema + settings + CLI, promtool rules.

There is no Docker engine here, so docker-compose.yml is validated against the
Compose specification JSON schema (`compose_spec.json`, vendored from the
docker-compose 1.29.2 package on PyPI, with `env_file` widened to today's Compose
Specification: the long form `- path: .env` / `required: false`, Compose >= 2.24)
and cross-checked with the code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.main import get_command

from worker.cli.app import app
from worker.config import BRAND_VAR, WEBHOOK_VAR, Settings
from worker.health import PATHS

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("compose_spec.json")
SETTINGS = {name.upper() for name in Settings.model_fields if name != "brands"}
DOCKER_ONLY = {
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "MALLOC_ARENA_MAX",  # glibc's, not a setting: docs/BENCHMARKS.md (the soak)
}
POSTGRES_IMAGE_VARS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = yaml.safe_load(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_compose_services_are_wired_as_documented(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["db"]["image"] == "postgres:16"
    assert "healthcheck" in services["db"]
    assert services["migrate"]["command"] == ["migrate"]
    worker = services["worker"]
    assert worker["command"] == ["run"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["env_file"] == [{"path": ".env", "required": False}]
    assert worker["stop_grace_period"] == "30s"
    assert worker["restart"] == "unless-stopped"
    assert worker["ports"] == ["127.0.0.1:9108:9108"]
    assert services["sandbox"]["profiles"] == ["demo"]
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert all(p.startswith("127.0.0.1:") for p in published)
    demo = services["demo-worker"]
    assert demo["command"] == ["run", "--migrate"]
    assert "env_file" not in demo
    assert "migrate" not in demo["depends_on"]


def test_every_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    names: set[str] = set()
    for name, service in compose["services"].items():
        if name == "db":
            assert set(service["environment"]) <= POSTGRES_IMAGE_VARS
            continue
        names.update(service.get("environment", {}))
    env_example = (ROOT / ".env.example").read_text()
    names.update(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", env_example, re.MULTILINE))
    dockerfile = (ROOT / "Dockerfile").read_text()
    names.update(re.findall(r"\b([A-Z][A-Z0-9_]+)=", dockerfile))
    unknown = {
        n
        for n in names
        if n not in SETTINGS | DOCKER_ONLY and not BRAND_VAR.match(n) and not WEBHOOK_VAR.match(n)
    }
    assert unknown == set()


def test_every_command_exists_in_the_cli(compose: dict[str, Any]) -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    used = {
        service["command"][0] for service in compose["services"].values() if "command" in service
    }
    used.add(re.findall(r'CMD \["(\w+)"\]', (ROOT / "Dockerfile").read_text())[-1])
    assert used - {"pg_isready"} <= commands
    assert {"run", "doctor", "migrate", "backfill", "sandbox"} <= commands


def test_the_image_healthcheck_uses_a_served_path() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "/healthz" in dockerfile
    assert "/healthz" in PATHS
    assert 'ENTRYPOINT ["rei-sync"]' in dockerfile
    assert "USER 10001:10001" in dockerfile  # numeric: Kubernetes' runAsNonRoot can check it
    assert "useradd --create-home --uid 10001 reisync" in dockerfile


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: apt-get install prometheus")
@pytest.mark.parametrize(
    "args", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]]
)
def test_alert_rules_pass_promtool(args: list[str]) -> None:
    result = subprocess.run(
        [str(PROMTOOL), *args],
        cwd=ROOT / "deploy" / "prometheus",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_demo_workers_keys_are_the_sandboxs_seeded_keys(compose: dict[str, Any]) -> None:
    from worker.sandbox import SandboxConfig, SandboxServer

    seed = int(compose["services"]["sandbox"]["command"][-1])
    demo_env = compose["services"]["demo-worker"]["environment"]
    with SandboxServer(SandboxConfig(seed=seed, listings=1, associates=1), port=0).start() as srv:
        expected = {k: v for k, v in srv.env().items() if not k.endswith("_API_URL")}
    assert {k: demo_env[k] for k in expected} == expected


def test_every_service_that_uses_the_image_can_build_it(compose: dict[str, Any]) -> None:
    """`docker compose up` on a fresh clone must not look for `rei-sync:latest` on a registry."""
    ours = {
        n: s for n, s in compose["services"].items() if s.get("image", "").startswith("rei-sync")
    }
    assert set(ours) == {"migrate", "worker", "sandbox", "demo-worker"}
    assert {n: s.get("build") for n, s in ours.items()} == dict.fromkeys(ours, ".")


def test_no_service_needs_a_dot_env_so_a_fresh_clone_loads_every_profile(
    compose: dict[str, Any],
) -> None:
    """Compose reads every service's `env_file` when it loads the project, whatever the
    profile: one required `.env` would stop `--profile demo up` on a fresh clone."""
    for name, service in compose["services"].items():
        entries = service.get("env_file", [])
        entries = [entries] if isinstance(entries, str) else entries
        for entry in entries:
            assert isinstance(entry, dict), f"{name}: env_file {entry!r} is required by default"
            assert entry.get("required") is False, name


def test_the_demo_profile_is_complete_without_a_dot_env(compose: dict[str, Any]) -> None:
    services = compose["services"]
    demo = {n for n, s in services.items() if "demo" in s.get("profiles", [])}
    needed = set(demo)
    for name in demo:
        needed.update(services[name].get("depends_on", {}))
    assert needed == {"db", "sandbox", "demo-worker"}
    env = services["demo-worker"]["environment"]
    assert {"DATABASE_URL", "TOKEN_ENCRYPTION_KEY"} <= set(env)
    assert any(BRAND_VAR.match(n) for n in env)
    assert all("env_file" not in services[n] for n in needed)
