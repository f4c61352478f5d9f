"""The installed package (what the Docker image runs) carries every module and migration.

`make` installs in editable mode, which would hide a module missing from the wheel.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sources(folder: Path, prefix: str) -> set[str]:
    return {
        f"{prefix}/{path.relative_to(folder).as_posix()}"
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".mako")
    }


def test_the_wheel_carries_every_module_and_runs_the_cli(tmp_path: Path) -> None:
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet"]
    subprocess.run([*build, "--no-build-isolation", "--wheel-dir", str(tmp_path)], check=True)
    wheel = next(tmp_path.glob("rei_sync-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _sources(ROOT / "worker", "worker") | _sources(
        ROOT / "migrations", "worker/migrations"
    )
    assert expected - names == set()

    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import worker, worker.cli.app, worker.service;"
        "from worker.db.migrate import head_revision;"
        "assert worker.__file__.startswith(sys.argv[1]), worker.__file__;"
        "print(head_revision())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(unpacked)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
