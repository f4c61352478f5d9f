"""Scenario 7: offset drift during scans never delists a live listing; an API that suddenly
lists nothing delists nothing and the guard is reported."""

from __future__ import annotations

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    BRANDS,
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    admin,
    auth_calls,
    run_figures,
)
from worker.sync import metrics


def delisted(world: object) -> int:
    from tests.reliability.conftest import World

    assert isinstance(world, World)
    return int(
        world.scalar(
            "SELECT (SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL) "
            "+ (SELECT count(*) FROM associates WHERE delisted_at IS NOT NULL)"
        )
    )


def guard_trips() -> int:
    return int(
        sum(metrics.DELIST_GUARD_TRIPPED.labels(b, "properties")._value.get() for b in BRANDS)
    )


def test_offset_drift_and_an_empty_list_never_delist(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    server = make_sandbox()
    world = make_world(server)
    first = world.sync_all()

    # offset drift: new listings pushed in at the front before every page with skip > 0
    world.faults(drift=True, drift_inserts=2)
    drifted = world.sync_all()
    false_delistings = delisted(world)
    world.faults(drift=False)
    inserted = sum(int(admin(server, "GET", "brands")[b]["listings"]) - 120 for b in BRANDS)
    caught_up = world.sync_all()
    expected = reference.of_live(server, ledger)
    got = world.checksum()

    # the API suddenly lists nothing: the guard trips, nothing is delisted
    admin(server, "POST", "epoch", {"changed": 0, "removed": 1.0, "added": 0})
    tripped_before = guard_trips()
    empty = [world.sync(b, "properties") for b in BRANDS]
    reported = guard_trips() - tripped_before
    after_empty = world.checksum()
    figures.record(
        7,
        "offset drift; API suddenly empty",
        injected="drift (2 listings inserted at the front before every page with skip > 0); "
        "then an epoch removing 100 % of listings",
        times=2,
        **run_figures([*first, *drifted, *caught_up, *empty]),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=got.rows,
        checksum_equal=got == expected and after_empty == got,
        observed={
            "listings inserted by drift": inserted,
            "false delistings under drift": false_delistings,
            "delistings when empty": sum(r.counts.delisted for r in empty),
            "guard reported": ", ".join(f"{r.brand} {r.status}" for r in empty),
            "rei_sync_delist_guard_tripped increments": reported,
        },
    )
    assert [r.status for r in drifted] == ["succeeded"] * len(drifted)
    assert inserted > 0
    assert false_delistings == 0
    assert got == expected, f"differs in {got.differences(expected)}"
    assert [r.status for r in empty] == ["delist_guard_tripped"] * len(BRANDS)
    assert all(r.details["delisting"]["guard_tripped"] for r in empty)
    assert reported == len(BRANDS)
    assert sum(r.counts.delisted for r in empty) == 0
    assert delisted(world) == 0
    assert after_empty == got
