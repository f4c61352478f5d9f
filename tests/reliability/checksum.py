"""One checksum of the database's business content.

For every entity table: the rows ordered by (brand, key), each rendered with its
key and business columns (`raw` and `content_hash` included) and whether it is
delisted; the run's own timestamps (`first_seen_at`, `updated_at`, the time in
`delisted_at`) are left out. Two databases synced from the same sandbox seed and
epoch must have equal checksums, whatever faults one of them met on the way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa

ENTITY_TABLES: dict[str, tuple[str, ...]] = {
    "properties": ("listing_id",),
    "properties_private": ("listing_id",),
    "property_images": ("listing_id", "photo_id"),
    "associates": ("associate_id",),
    "associates_private": ("associate_id",),
    "lookups": ("lookup_id",),
    "lookup_values": ("lookup_id", "value_id"),
    "geo_countries": ("country_id",),
    "geo_states": ("state_id",),
    "geo_locations": ("location_id",),
}
RUN_TIMESTAMPS = frozenset({"first_seen_at", "updated_at", "delisted_at"})

COLUMNS_SQL = sa.text(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = :table ORDER BY ordinal_position"
)


@dataclass(frozen=True)
class Checksum:
    digest: str
    tables: dict[str, tuple[int, str]]
    """table → (rows, md5 of its ordered rows)."""

    @property
    def rows(self) -> int:
        return sum(count for count, _ in self.tables.values())

    def differences(self, other: Checksum) -> list[str]:
        return sorted(t for t in self.tables if self.tables[t] != other.tables.get(t))

    def __str__(self) -> str:
        return f"{self.digest[:16]} ({self.rows} rows)"


def table_sql(table: str, columns: list[str]) -> str:
    keys = ENTITY_TABLES[table]
    business = [c for c in columns if c not in RUN_TIMESTAMPS]
    select = ", ".join(business)
    if "delisted_at" in columns:
        select += ", delisted_at IS NOT NULL AS delisted"
    order = ", ".join(("brand", *keys))
    return (
        f"SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY {order}), '')) "
        f"FROM (SELECT {select} FROM {table}) r"
    )


def checksum(engine: sa.Engine) -> Checksum:
    tables: dict[str, tuple[int, str]] = {}
    with engine.connect() as connection:
        for table in ENTITY_TABLES:
            columns = list(connection.execute(COLUMNS_SQL, {"table": table}).scalars())
            count, digest = connection.execute(sa.text(table_sql(table, columns))).one()
            tables[table] = (int(count), str(digest))
    overall = hashlib.sha256(
        "\n".join(f"{t}:{n}:{d}" for t, (n, d) in tables.items()).encode()
    ).hexdigest()
    return Checksum(overall, tables)


def duplicate_keys(engine: sa.Engine) -> dict[str, int]:
    """Rows whose (brand, key) appears more than once, per table (the primary keys say 0)."""
    found: dict[str, int] = {}
    with engine.connect() as connection:
        for table, keys in ENTITY_TABLES.items():
            key = ", ".join(("brand", *keys))
            extra = connection.execute(
                sa.text(f"SELECT count(*) - count(DISTINCT ({key})) FROM {table}")
            ).scalar_one()
            found[table] = int(extra)
    return found
