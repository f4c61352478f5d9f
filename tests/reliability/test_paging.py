"""Scenarios 17-20: a server whose pages we have never seen (issue 13).

17. A silent page cap (50 whatever `take` asked, the sync asking 100).
18. A `take` above 50 refused with the API's invalid-request 404.
19. One record deep in each list that no page holding it can serve (500, always).
20. All of it at once, plus 200 answers whose JSON is cut short.

Each against the checksum of a fault-free run of the same seed: every listing and
associate stored, nothing delisted that is still listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    BRANDS,
    Figures,
    Reference,
    SandboxFactory,
    World,
    WorldFactory,
    admin,
    run_figures,
)
from worker.sync.engine import RunResult, SyncOptions

LIST_ENTITIES = ("properties", "associates")
ASSOCIATES = 130
"""More associates than one page of 100, so a cap of 50 bites both lists."""
LISTINGS = 120
ASKED = 100
TABLES = {"properties": "properties", "associates": "associates"}
LIST_PATHS = ("GetProperties", "associates")


def asking(world: World, take: int) -> World:
    world.options = SyncOptions(take=take, parallelism=world.options.parallelism)
    return world


def list_requests(server: Any) -> dict[str, dict[str, int]]:
    requests = admin(server, "GET", "stats")["requests"]
    return {path: dict(requests.get(path, {})) for path in LIST_PATHS}


def paging(results: Sequence[RunResult]) -> dict[str, Any]:
    """What each list run recorded about its page size (the last run of a job wins)."""
    return {
        f"{r.brand}/{r.entity}": r.details["paging"]
        for r in results
        if r.entity in LIST_ENTITIES and r.details.get("paging")
    }


def delisted(world: World) -> int:
    return int(
        world.scalar(
            "SELECT (SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL)"
            " + (SELECT count(*) FROM associates WHERE delisted_at IS NOT NULL)"
        )
    )


def test_scenario_17_a_silent_page_cap_loses_nothing_and_delists_nothing(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger, associates=ASSOCIATES)
    server = make_sandbox(associates=ASSOCIATES, page_cap=50)
    world = asking(make_world(server), ASKED)
    first = world.sync_all()
    second = world.sync_all()
    got = world.checksum()
    learnt = paging(first)
    figures.record(
        17,
        "silent page cap",
        injected=f"list pages answer at most 50 records whatever take asked (sync asks {ASKED}); "
        f"{LISTINGS} listings and {ASSOCIATES} associates per brand; two passes",
        times=sum(n for s in list_requests(server).values() for n in s.values()),
        **run_figures([*first, *second]),
        retries=world.retries,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "statuses": sorted({r.status for r in [*first, *second]}),
            "cap learnt (first pass)": {k: v.get("cap") for k, v in learnt.items()},
            "page size of the second pass": sorted({v["take"] for v in paging(second).values()}),
            "list requests": list_requests(server),
            "false delistings": delisted(world),
        },
    )
    assert {r.status for r in [*first, *second]} == {"succeeded"}, [r.error for r in first]
    for brand in BRANDS:
        for entity in LIST_ENTITIES:
            assert learnt[f"{brand}/{entity}"] == {"cap": 50, "take": 50}
            assert paging(second)[f"{brand}/{entity}"] == {"take": 50}
    assert delisted(world) == 0
    assert got == expected, f"differs in {got.differences(expected)}"


def test_scenario_18_a_refused_page_size_steps_down_and_every_run_succeeds(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger, associates=ASSOCIATES)
    server = make_sandbox(associates=ASSOCIATES, take_limit=50)
    world = asking(make_world(server), ASKED)
    first = world.sync_all()
    second = world.sync_all()
    got = world.checksum()
    stepped = paging(world.results)
    requests = list_requests(server)
    refused = sum(s.get("404", 0) for s in requests.values())
    figures.record(
        18,
        "refused page size",
        injected=f"take above 50 answered with the invalid-request 404 (sync asks {ASKED}); "
        "two passes",
        times=refused,
        **run_figures([*first, *second]),
        retries=world.retries,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "statuses": sorted({r.status for r in [*first, *second]}),
            "refused requests (all passes)": refused,
            "stepped page size": sorted({v["take"] for v in stepped.values()}),
            "list requests": requests,
        },
    )
    assert {r.status for r in [*first, *second]} == {"succeeded"}, [r.error for r in first]
    assert refused == len(BRANDS) * len(LIST_ENTITIES), "refused once per brand and endpoint"
    assert {v["take"] for v in stepped.values()} == {50}
    assert got == expected, f"differs in {got.differences(expected)}"


def count(world: World, brand: str, entity: str) -> int:
    return int(world.scalar(f"SELECT count(*) FROM {TABLES[entity]} WHERE brand = :b", b=brand))


def test_scenario_19_a_page_failing_deep_in_the_list_loses_nothing_around_it(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    bad = 97
    page = bad - bad % 20
    expected = reference.of_config(ledger, associates=ASSOCIATES)
    server = make_sandbox(associates=ASSOCIATES, failing_offsets=[bad])
    world = make_world(server, max_attempts=4)
    failing = world.sync_all(entities=LIST_ENTITIES)
    before = {f"{r.brand}/{r.entity}": count(world, r.brand, r.entity) for r in failing}
    checkpoints = {f"{r.brand}/{r.entity}": r.checkpoint for r in failing}
    isolating = world.sync_all(entities=LIST_ENTITIES)
    after = {f"{r.brand}/{r.entity}": count(world, r.brand, r.entity) for r in isolating}
    with world.engine.connect() as connection:
        named = connection.execute(
            sa.text("SELECT count(*) FROM sync_rejects WHERE source_id IS NULL AND reason LIKE :r"),
            {"r": f"offset {bad} unreachable%"},
        ).scalar_one()
    no_delisting = all("delisting" not in r.details for r in isolating)
    world.faults(failing_offsets=[])
    healed = world.sync_all()
    got = world.checksum()
    figures.record(
        19,
        "a page failing deep in the list",
        injected=f"every list page holding offset {bad} answers 500, every time (pages of 20; "
        f"{LISTINGS} listings, {ASSOCIATES} associates per brand); then healed",
        times=sum(s.get("500", 0) for s in list_requests(server).values()),
        **run_figures([*failing, *isolating, *healed]),
        retries=world.retries,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "stored when the run failed (= checkpoint)": before,
            "stored by the next run (all but the unreachable record)": after,
            "unreachable offsets named in sync_rejects": named,
            "next run delisted nothing": no_delisting,
            "statuses": [r.status for r in [*failing, *isolating, *healed]],
        },
    )
    assert {r.status for r in [*failing, *isolating]} == {"failed"}
    assert set(before.values()) == {page}
    assert set(checkpoints.values()) == {page}
    totals = {"properties": LISTINGS, "associates": ASSOCIATES}
    assert after == {f"{b}/{e}": totals[e] - 1 for b in BRANDS for e in LIST_ENTITIES}
    assert named == len(BRANDS) * len(LIST_ENTITIES)
    assert no_delisting
    assert {r.status for r in healed} == {"succeeded"}, [r.error for r in healed]
    assert got == expected, f"differs in {got.differences(expected)}"


def test_scenario_20_an_api_we_have_never_seen_all_at_once(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger, associates=ASSOCIATES)
    server = make_sandbox(
        associates=ASSOCIATES, page_cap=30, take_limit=60, truncated_rate=0.05, fault_seed=20
    )
    world = asking(make_world(server), ASKED)
    first = world.sync_all()
    second = world.sync_all()
    got = world.checksum()
    figures.record(
        20,
        "page cap + refused take + cut bodies",
        injected=f"take above 60 refused (404), pages capped at 30, 5 % of 200 answers cut "
        f"short (sync asks {ASKED}); two passes",
        times=world.retries,
        **run_figures([*first, *second]),
        retries=world.retries,
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "statuses": sorted({r.status for r in [*first, *second]}),
            "page sizes used": sorted({v["take"] for v in paging(world.results).values()}),
            "false delistings": delisted(world),
            "list requests": list_requests(server),
        },
    )
    assert {r.status for r in [*first, *second]} == {"succeeded"}, [r.error for r in first]
    assert {v["take"] for v in paging(world.results).values()} == {30}
    assert delisted(world) == 0
    assert got == expected, f"differs in {got.differences(expected)}"
