"""The repository stands alone: no tracked file points outside it.

A fresh clone into an empty folder, with no sibling folders, must have everything a
user or contributor needs; a link to a sibling folder or a build machine's absolute
path works only on the machine it was written on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UP = ".." + "/"  # spelled apart so this file does not match itself
RELATIVE = re.compile(r"(?<![\w.])(?:\.\./)+[^\s)\]'\"`>,;]*")
ABSOLUTE = re.compile(r"(?<![\w.])/(?:work|root|Users|mnt|srv)/|[A-Z]:\\\\Users")
"""Machine paths: a build machine's work, root, Users, mnt or srv folder, or a Windows
user folder. (The image's own user's home and a scratch folder under tmp are fine.)"""


def outside_references(line: str, where: Path) -> list[str]:
    """The parts of `line` (a line of file `where`) that point outside the repository."""
    found = [m.group(0) for m in ABSOLUTE.finditer(line)]
    for match in RELATIVE.finditer(line):
        target = (where.parent / match.group(0)).resolve()
        if not target.is_relative_to(ROOT):
            found.append(match.group(0))
    return found


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, text=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary (the status page screenshot) or deleted in the work tree
        for number, line in enumerate(text.splitlines(), 1):
            if outside_references(line, path):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offenders == []


@pytest.mark.parametrize(
    ("line", "where"),
    [
        (f"see [design]({UP}shared/DESIGN.md)", "README.md"),
        (f"`{UP}{UP}shared/reference/rei-cca-api.md`", "docs/SANDBOX.md"),
        (f"Path(__file__).parent / '{UP}{UP}{UP}x'", "tests/unit/test_x.py"),
        ('Path("/' + 'work/shared/x.json")', "tests/x.py"),
        ("cd /" + "root/project", "Makefile"),
    ],
)
def test_the_check_catches_outside_paths(line: str, where: str) -> None:
    assert outside_references(line, ROOT / where)


@pytest.mark.parametrize(
    ("line", "where"),
    [
        (f"[sample]({UP}tests/fixtures/property-sample.json)", "docs/API.md"),
        ("see docs/API.md and ./tests/fixtures", "README.md"),
        ("REI_SYNC_HOME=/home/reisync/.rei-sync", "Dockerfile"),
        ("wait... then", "README.md"),
    ],
)
def test_the_check_leaves_repository_paths_alone(line: str, where: str) -> None:
    assert not outside_references(line, ROOT / where)


def test_the_sample_property_record_is_in_the_repository() -> None:
    from tests.fixtures import PROPERTY_SAMPLE, sample_property

    assert PROPERTY_SAMPLE.is_relative_to(ROOT)
    assert sample_property()["listingId"]
