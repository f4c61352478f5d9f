"""`bench.profile.summarise`: py-spy's collapsed stacks become shares of named parts
(inclusive, a stack counted once per part) and of leaf functions."""

from __future__ import annotations

from pathlib import Path

from bench.profile import summarise

RAW = "\n".join(
    [
        "run (/tmp/x/worker/sync/scan.py:10);prepare (/tmp/x/worker/sync/batches.py:70);"
        "content_hash (/tmp/x/worker/sync/hashing.py:40) 6",
        "run (/tmp/x/worker/sync/scan.py:10);fetch_page (/tmp/x/worker/api/client.py:200);"
        "send (/v/lib/python3.11/site-packages/requests/sessions.py:700);"
        "_make_request (/v/lib/python3.11/site-packages/urllib3/connectionpool.py:400) 3",
        "<module> (<string>:1);_find_and_load (<frozen importlib._bootstrap>:1176) 1",
        "_bootstrap (/x/lib/python3.11/threading.py:1002);"
        "Event.wait (/x/lib/python3.11/threading.py:629) 90",
        "_worker (/x/lib/python3.11/concurrent/futures/thread.py:81);"
        "Condition.wait (/x/lib/python3.11/threading.py:320) 5",
    ]
)


def test_parts_and_leaves_are_shares_of_the_samples(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(RAW + "\n")
    text = summarise(raw)
    assert text.startswith("10 samples working, 95 more waiting")
    assert " 60.0%  fingerprints (sync/hashing.py)" in text
    assert " 30.0%  page fetch + decode (api/client.py)" in text
    assert " 30.0%  requests / urllib3 / http.client" in text
    assert " 10.0%  imports at start" in text
    assert " 60.0%  content_hash (worker/sync/hashing.py)" in text
    assert " 30.0%  _make_request (urllib3/connectionpool.py)" in text
