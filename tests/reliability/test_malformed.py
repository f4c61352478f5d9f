"""Scenario 8: 10,000 malformed records generated with hypothesis (wrong types, missing ids,
huge strings, NUL bytes, bad dates, text that is not valid UTF-8, absurd numbers) through the
normaliser and the Postgres sink: no crash, every one quarantined with a reason, every valid
one loaded. Then a slice end to end through the sandbox's malformed-record hook."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    Figures,
    Reference,
    SandboxFactory,
    WorldFactory,
    auth_calls,
    run_figures,
    truth,
)
from worker.db.schema import Reject, Row, RunStart
from worker.sinks.postgres import PostgresSink
from worker.sync.entities import ENTITIES
from worker.sync.images import INCOMPLETE_MARK
from worker.sync.normalise import MAX_TEXT_CHARS

EXAMPLES = 100
MUTATIONS_PER_EXAMPLE = 20
BASES_PER_MUTATION = 5
"""Each drawn mutation spoils 5 different valid records: 100 malformed records per example."""
VALID_PER_EXAMPLE = 20
BRAND = "AZURA"

ID_FIELD = {"properties": "listingId", "associates": "associateID"}
TEXT_FIELDS = {
    "properties": ("listingTitle_en", "listingTitle_es", "publicRemarks_en", "officecode"),
    "associates": ("firstName", "lastName", "remaxEmail", "officeName"),
}
DATE_FIELDS = ("listingDate", "listingContractDate", "expirationDate", "closeDate")
BAD_DATES = (
    "2024-13-01T00:00:00",
    "2024-02-30T10:00:00",
    "2024-01-01T25:61:00",
    "yesterday",
    "31/12/2024",
    "0000-00-00T00:00:00",
    "2024-01-01T00:00:00+99:00",
)
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
CLEAN_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


def spoil_text(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(CLEAN_TEXT, bad, CLEAN_TEXT).map("".join)


def mutation(entity: str) -> st.SearchStrategy[tuple[str, Any]]:
    """(kind, how): each kind is something the normaliser must reject."""
    text_field = st.sampled_from(TEXT_FIELDS[entity])
    kinds: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.just(("missing id", None)),
        st.tuples(
            st.just("wrong id"),
            st.one_of(
                st.sampled_from(["abc", "", "12a", True, False, [], {}]),
                st.integers(max_value=0),
                st.integers(min_value=2**63),
                st.floats(allow_nan=True).filter(lambda f: not float(f).is_integer()),
            ),
        ),
        st.tuples(
            st.just("wrong type"),
            st.tuples(
                text_field,
                st.one_of(
                    st.integers(),
                    st.booleans(),
                    st.lists(st.integers(), max_size=3),
                    st.dictionaries(CLEAN_TEXT, st.integers(), max_size=2),
                ),
            ),
        ),
        st.tuples(
            st.just("huge string"),
            st.tuples(text_field, st.integers(1, 50_000)),
        ),
        st.tuples(st.just("NUL byte"), st.tuples(text_field, spoil_text(st.just("\x00")))),
        st.tuples(st.just("not UTF-8-safe"), st.tuples(text_field, spoil_text(SURROGATES))),
        st.tuples(
            st.just("nested not storable"),
            st.one_of(
                st.integers(min_value=2**64, max_value=2**80).map(lambda n: [1, {"n": n}]),
                spoil_text(SURROGATES).map(lambda s: {"deep": [s]}),
                spoil_text(st.just("\x00")).map(lambda s: {s: 1}),
            ),
        ),
        st.tuples(
            st.just("not an object"),
            st.one_of(st.none(), CLEAN_TEXT, st.integers(), st.lists(st.integers(), max_size=3)),
        ),
    ]
    if entity == "properties":
        kinds += [
            st.tuples(
                st.just("bad date"),
                st.tuples(st.sampled_from(DATE_FIELDS), st.sampled_from(BAD_DATES)),
            ),
            st.tuples(
                st.just("absurd number"),
                st.one_of(
                    st.tuples(
                        st.just("bedroomsTotal"),
                        st.sampled_from([-1, 10_001, "N/A", 2.5, "", "two"]).filter(
                            lambda v: v != ""
                        ),
                    ),
                    st.tuples(
                        st.just("listPrice"),
                        st.sampled_from(["N/A", -5, 1e16, float("inf"), "1,000"]),
                    ),
                    st.tuples(st.just("furnishedYN"), st.sampled_from(["maybe", 2, -1, [1]])),
                ),
            ),
        ]
    return st.one_of(kinds)


def apply(kind: str, how: Any, base: dict[str, Any], entity: str, new_id: int) -> Any:
    if kind == "not an object":
        return how
    record = dict(base)
    id_field = ID_FIELD[entity]
    record[id_field] = new_id
    if kind == "missing id":
        del record[id_field]
    elif kind == "wrong id":
        record[id_field] = how
    elif kind == "huge string":
        field, extra = how
        record[field] = "é" * (MAX_TEXT_CHARS + extra)
    elif kind == "nested not storable":
        record["extraNotes"] = how
    else:
        field, value = how
        record[field] = value
    return record


def images_of(engine: sa.Engine, listings: Sequence[Any]) -> int:
    """How many images of these (brand, listing_id) are stored."""
    with engine.connect() as c:
        counts = c.execute(
            sa.text("SELECT brand, listing_id, count(*) FROM property_images GROUP BY 1, 2")
        ).all()
    wanted = {tuple(k) for k in listings}
    return sum(int(n) for brand, listing, n in counts if (brand, listing) in wanted)


MALFORMED = st.sampled_from(("properties", "associates")).flatmap(
    lambda e: st.tuples(st.just(e), mutation(e))
)
VALID = st.tuples(st.sampled_from(("properties", "associates")), CLEAN_TEXT)


def test_ten_thousand_malformed_records_are_quarantined_and_every_valid_one_loads(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    reference: Reference,
    db_engine: sa.Engine,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    server = make_sandbox()
    bases = {e: truth(server, BRAND, e)[:10] for e in ("properties", "associates")}
    sink = PostgresSink(db_engine)
    run_id = sink.start_run(RunStart(BRAND, "properties", "manual"))
    ids = itertools.count(10_000_000)
    seen: dict[str, int] = {"malformed": 0, "valid": 0}
    kinds: dict[str, int] = {}
    loaded_ids: dict[str, set[int]] = {"properties": set(), "associates": set()}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate),
    )
    @given(
        malformed=st.lists(
            MALFORMED, min_size=MUTATIONS_PER_EXAMPLE, max_size=MUTATIONS_PER_EXAMPLE
        ),
        valid=st.lists(VALID, min_size=VALID_PER_EXAMPLE, max_size=VALID_PER_EXAMPLE),
        pick=st.integers(0, 9),
    )
    def batch(
        malformed: list[tuple[str, tuple[str, Any]]], valid: list[tuple[str, str]], pick: int
    ) -> None:
        rows: dict[str, list[Row]] = {"properties": [], "associates": []}
        rejects: dict[str, list[Reject]] = {"properties": [], "associates": []}
        for entity, (kind, how) in malformed:
            for j in range(BASES_PER_MUTATION):
                base = bases[entity][(pick + j) % len(bases[entity])]
                record = apply(kind, how, base, entity, next(ids))
                result = ENTITIES[entity].normalise(record)
                assert isinstance(result, Reject), f"{kind} was not rejected: {result!r}"[:500]
                assert result.reason, kind
                rejects[entity].append(result)
                kinds[kind] = kinds.get(kind, 0) + 1
        for entity, remark in valid:
            record = dict(bases[entity][pick])
            new_id = next(ids)
            record[ID_FIELD[entity]] = new_id
            record[TEXT_FIELDS[entity][-1]] = remark or None
            result = ENTITIES[entity].normalise(record)
            assert isinstance(result, Row), result
            rows[entity].append(result)
            loaded_ids[entity].add(new_id)
        for entity in rows:
            if rows[entity]:
                sink.upsert(ENTITIES[entity].table, BRAND, rows[entity])
            sink.record_rejects(run_id, BRAND, entity, rejects[entity])
        seen["malformed"] += len(malformed) * BASES_PER_MUTATION
        seen["valid"] += len(valid)

    batch()
    with db_engine.connect() as c:
        stored = {
            e: set(
                c.execute(
                    sa.text(f"SELECT {k} FROM {e} WHERE brand = :b"),
                    {"b": BRAND},
                ).scalars()
            )
            for e, k in (("properties", "listing_id"), ("associates", "associate_id"))
        }
        quarantined = c.execute(sa.text("SELECT count(*) FROM sync_rejects")).scalar_one()
        without_reason = c.execute(
            sa.text("SELECT count(*) FROM sync_rejects WHERE coalesce(reason, '') = ''")
        ).scalar_one()

    # a slice end to end: the sandbox spoils up to 3 records of 20 % of list/detail answers
    expected = reference.of_config(ledger)
    e2e_server = make_sandbox()
    world = make_world(e2e_server, db_url=reference.databases.create())
    world.faults(malformed_rate=0.2, fault_seed=8)
    spoiled = world.sync_all(entities=("properties", "associates"))
    e2e_rejects = world.scalar("SELECT count(*) FROM sync_rejects")
    e2e_without_reason = world.scalar(
        "SELECT count(*) FROM sync_rejects WHERE coalesce(reason, '') = ''"
    )
    marked = "SELECT brand, listing_id FROM properties WHERE content_hash LIKE :m"
    with world.engine.connect() as c:
        incomplete = c.execute(sa.text(marked), {"m": f"{INCOMPLETE_MARK}%"}).all()
    images_before = images_of(world.engine, incomplete)
    world.faults(malformed_rate=0.0)
    # No image sweep: a listing stored while some of its image records were spoiled is
    # marked incomplete, so the next properties run refetches its images and converges.
    clean = world.sync_all()
    restored = images_of(world.engine, incomplete) - images_before
    with world.engine.connect() as c:
        still_marked = c.execute(sa.text(marked), {"m": f"{INCOMPLETE_MARK}%"}).all()
    got = world.checksum()
    figures.record(
        8,
        "malformed records",
        injected=f"{seen['malformed']:,} hypothesis-generated malformed records (+ "
        f"{seen['valid']:,} valid) through normaliser + sink; sandbox malformed_rate 0.2 "
        "end to end",
        times=seen["malformed"],
        **run_figures([*spoiled, *clean]),
        retries=world.retries,
        token_requests=auth_calls(e2e_server),
        rows=got.rows,
        checksum_equal=got == expected,
        observed={
            "quarantined": quarantined,
            "without a reason": without_reason,
            "valid loaded": sum(len(v) for v in stored.values()),
            "by kind": kinds,
            "end-to-end rejects": e2e_rejects,
            "end-to-end statuses": ", ".join(sorted({r.status for r in spoiled})),
            "listings left with incomplete images by the spoiled runs": len(incomplete),
            "their images restored by the next properties run": restored,
        },
    )
    assert seen["malformed"] >= 10_000
    assert quarantined == seen["malformed"]
    assert without_reason == 0
    assert stored == loaded_ids
    assert e2e_rejects > 0
    assert e2e_without_reason == 0
    assert all(r.status in ("succeeded", "succeeded_with_rejects") for r in spoiled)
    assert {r.status for r in clean} == {"succeeded"}
    assert incomplete  # the spoiled runs did hit image answers
    assert restored > 0
    assert still_marked == []  # the next properties run converged, without the sweep
    assert got == expected, f"differs in {got.differences(expected)}"
