"""Scenarios 21, 22 and 24: one listing's failures never cost the others.

21. 1 % of listings whose images always fail, in each of the three ways a server may
    fail them (500, a 200 that is not JSON, the invalid-request 404 with ModelState):
    every listing is stored, every failing one is named in `sync_rejects`, everything
    else is identical to a fault-free run; with the fault gone the next run converges
    to the fault-free checksum.
22. Failing delisting confirmations (5xx, a body that is not JSON, a refused token):
    nothing is delisted, each candidate is counted; the next run delists exactly the
    removed listings.
24. The full image sweep over listings whose images fail: it finishes, names them,
    and keeps their stored images (checksum equal to the fault-free run).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from tests.leak_guard import SecretLedger
from tests.reliability.checksum import COLUMNS_SQL, RUN_TIMESTAMPS, Checksum
from tests.reliability.conftest import (
    BRANDS,
    Databases,
    Figures,
    Reference,
    SandboxFactory,
    World,
    WorldFactory,
    admin,
    auth_calls,
    run_figures,
    truth,
)
from worker.errors import ApiDecodeError, ApiStatusError, AuthError
from worker.sync.engine import RunResult

MODES = ("500", "not_json", "model_state_404")
SCENARIO_TIMEOUT_SECONDS = 900
"""Each scenario runs several full syncs of two brands (and a fault-free twin): far more
than the suite's 120 s default on a busy machine."""
SHARE = 0.01
LISTING_TABLES = {
    "properties": ("listing_id",),
    "properties_private": ("listing_id",),
    "property_images": ("listing_id", "photo_id"),
}


def failing_share(server: Any, share: float = SHARE) -> list[int]:
    """`share` of each brand's listings (rounded up), spread evenly over its ids."""
    chosen: list[int] = []
    for brand in BRANDS:
        ids = sorted(p["listingId"] for p in truth(server, brand, "properties"))
        count = max(1, math.ceil(share * len(ids)))
        step = len(ids) // count
        chosen += ids[step // 2 :: step][:count]
    return chosen


def same_history(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    databases: Databases,
    epoch: dict[str, float],
    **config: Any,
) -> Checksum:
    """The checksum of a fault-free worker that lived the same history: a full sync, the
    same epoch (the sandbox's churn is seeded), a full sync."""
    twin = make_sandbox(**config)
    world = make_world(twin, databases.create())
    results = world.sync_all()
    admin(twin, "POST", "epoch", epoch)
    results += world.sync_all()
    assert {r.status for r in results} == {"succeeded"}, [r.error for r in results]
    return world.checksum()


def listing_checksums(engine: sa.Engine, leave_out: Sequence[int]) -> dict[str, tuple[int, str]]:
    """(rows, md5) of each listing table without the rows of `leave_out` listings."""
    found: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        for table, keys in LISTING_TABLES.items():
            columns = list(connection.execute(COLUMNS_SQL, {"table": table}).scalars())
            select = ", ".join(c for c in columns if c not in RUN_TIMESTAMPS)
            if "delisted_at" in columns:
                select += ", delisted_at IS NOT NULL AS delisted"
            order = ", ".join(("brand", *keys))
            sql = (
                f"SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY {order}), ''))"
                f" FROM (SELECT {select} FROM {table} WHERE NOT listing_id = ANY(:ids)) r"
            )
            count, digest = connection.execute(sa.text(sql), {"ids": list(leave_out)}).one()
            found[table] = (int(count), str(digest))
    return found


def named_in_rejects(world: World, results: Sequence[RunResult]) -> set[int]:
    with world.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT source_id FROM sync_rejects WHERE entity = 'images' "
                "AND run_id = ANY(:runs) AND payload->>'endpoint' IS NOT NULL"
            ),
            {"runs": [r.run_id for r in results]},
        ).scalars()
        return {int(r) for r in rows}


def reference_world(
    make_sandbox: SandboxFactory, make_world: WorldFactory, databases: Databases
) -> World:
    """A fault-free full sync kept as a database (its rows, not only its checksum)."""
    world = make_world(make_sandbox(), databases.create())
    results = world.sync_all()
    assert {r.status for r in results} == {"succeeded"}, [r.error for r in results]
    return world


@pytest.mark.timeout(SCENARIO_TIMEOUT_SECONDS)
def test_one_percent_of_listings_with_failing_images_in_each_mode(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    reference_databases: Databases,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    fault_free = reference_world(make_sandbox, make_world, reference_databases)
    all_results: list[RunResult] = []
    observed: dict[str, Any] = {}
    retries = 0
    calls: dict[str, int] = {}
    converged = True
    for n, mode in enumerate(MODES):
        server = make_sandbox()
        bad = failing_share(server)
        admin(server, "POST", "faults", {"failing_images_ids": bad, "failing_images_mode": mode})
        world = make_world(server, None if n == 0 else reference_databases.create())
        results = world.sync_all()
        listings = sum(len(truth(server, b, "properties")) for b in BRANDS)
        stored = world.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NULL")
        named = named_in_rejects(world, results)
        rest_identical = listing_checksums(world.engine, bad) == listing_checksums(
            fault_free.engine, bad
        )
        admin(server, "POST", "faults", {"failing_images_ids": []})
        healed = [world.sync(b, "properties") for b in BRANDS]
        got = world.checksum()
        converged = converged and got == expected
        all_results += [*results, *healed]
        retries += world.retries
        for brand, count in auth_calls(server).items():
            calls[brand] = calls.get(brand, 0) + count
        observed[f"{mode}: listings stored"] = f"{stored}/{listings}"
        observed[f"{mode}: failing named in sync_rejects"] = f"{len(named & set(bad))}/{len(bad)}"
        observed[f"{mode}: rest identical"] = rest_identical
        assert {r.status for r in results} <= {"succeeded", "succeeded_with_rejects"}, [
            r.error for r in results
        ]
        assert stored == listings
        assert named == set(bad)
        assert rest_identical, mode
        assert {r.status for r in healed} == {"succeeded"}
        assert got == expected, f"{mode}: differs in {got.differences(expected)}"
    figures.record(
        21,
        "1 % of listings with failing images",
        injected=f"{SHARE:.0%} of each brand's listings (rounded up: {len(bad)} of "
        f"{listings}) whose propertyimages always answer "
        "500, a 200 that is not JSON, or the ModelState 404 (one sandbox per mode); "
        "then the fault removed",
        times=len(MODES),
        **run_figures(all_results),
        retries=retries,
        token_requests=calls,
        rows=expected.rows,
        checksum_equal=converged,
        observed=observed,
    )


Failure = Callable[[str], Exception]
CONFIRMATION_FAILURES: tuple[Failure, ...] = (
    lambda path: ApiStatusError(500, "An error has occurred.", path=path),
    lambda path: ApiDecodeError(f"{path}: HTTP 200 but the body is not JSON"),
    lambda path: AuthError("AZURA", f"token rejected twice on {path}"),
)


EPOCH = {"changed": 0.0, "removed": 0.05, "added": 0.0}


@pytest.mark.timeout(SCENARIO_TIMEOUT_SECONDS)
def test_failing_delisting_confirmations_delist_nothing(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference_databases: Databases,
    figures: Figures,
) -> None:
    expected = same_history(make_sandbox, make_world, reference_databases, EPOCH)
    server = make_sandbox()
    world = make_world(server)
    first = world.sync_all()
    removed = admin(server, "POST", "epoch", EPOCH)
    gone = {b: int(removed["brands"][b]["removed"]) for b in BRANDS}
    originals = {b: world.clients[b].get_json_or_none for b in BRANDS}
    failed_calls = [0]

    def failing(inner: Callable[[str], Any]) -> Callable[[str], Any]:
        def get(path: str) -> Any:
            if path.startswith("GetPropertyDetails/"):
                failed_calls[0] += 1
                raise CONFIRMATION_FAILURES[failed_calls[0] % len(CONFIRMATION_FAILURES)](path)
            return inner(path)

        return get

    for brand in BRANDS:
        world.clients[brand].get_json_or_none = failing(originals[brand])  # type: ignore[method-assign]
    unconfirmed_runs = [world.sync(b, "properties") for b in BRANDS]
    wrongly = world.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL")
    for brand in BRANDS:
        world.clients[brand].get_json_or_none = originals[brand]  # type: ignore[method-assign]
    confirmed_runs = world.sync_all()
    got = world.checksum()
    unconfirmed = {r.brand: r.details["delisting"]["unconfirmed"] for r in unconfirmed_runs}
    figures.record(
        22,
        "failing delisting confirmations",
        injected="epoch removing 5 % of listings; every GetPropertyDetails confirmation "
        "failing (500, not JSON, token refused, in turn); then answered",
        times=failed_calls[0],
        **run_figures([*first, *unconfirmed_runs, *confirmed_runs]),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "candidates kept as unconfirmed": sum(unconfirmed.values()),
            "delisted while confirmations failed": wrongly,
            "listings delisted once answered": sum(
                r.counts.delisted for r in confirmed_runs if r.entity == "properties"
            ),
            "removed by the epoch": sum(gone.values()),
        },
    )
    assert [r.status for r in unconfirmed_runs] == ["succeeded"] * len(BRANDS)
    assert unconfirmed == gone
    assert wrongly == 0
    assert {r.brand: r.counts.delisted for r in confirmed_runs if r.entity == "properties"} == gone
    assert got == expected, f"differs in {got.differences(expected)}"


@pytest.mark.timeout(SCENARIO_TIMEOUT_SECONDS)
def test_the_image_sweep_over_failing_listings_keeps_their_images(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    expected = reference.of_config(ledger)
    server = make_sandbox()
    world = make_world(server)
    first = world.sync_all()
    bad = failing_share(server)
    observed: dict[str, Any] = {}
    sweeps: list[RunResult] = []
    for mode in MODES:
        admin(server, "POST", "faults", {"failing_images_ids": bad, "failing_images_mode": mode})
        runs = [world.sync(b, "images") for b in BRANDS]
        sweeps += runs
        named = named_in_rejects(world, runs)
        observed[f"{mode}: failing named"] = f"{len(named & set(bad))}/{len(bad)}"
        assert {r.status for r in runs} == {"succeeded_with_rejects"}, [r.error for r in runs]
        assert named == set(bad)
        assert sum(r.details["images"]["failed"] for r in runs) == len(bad)
    got = world.checksum()
    figures.record(
        24,
        "image sweep over listings with failing images",
        injected=f"{SHARE:.0%} of each brand's listings (rounded up: {len(bad)}) whose "
        "propertyimages always fail, one full image sweep per mode (500, not JSON, "
        "ModelState 404)",
        times=len(MODES),
        **run_figures([*first, *sweeps]),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed=observed,
    )
    assert got == expected, f"differs in {got.differences(expected)}"
