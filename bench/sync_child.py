"""A `properties` run exactly as `rei-sync sync` does it, optionally without images or
without the change feed.

    python -m bench.sync_child [--no-images] [--no-events]

Used by the benchmark to split the cold sync into its property and image parts
(`SyncOptions.listing_images=False`), and by `bench.change_feed` to time the same run
with the change feed switched off (`--no-events`: the tables' `feed` set to None, so the
sink runs the plain merge, as before the feed existed); everything else is the CLI's
defaults.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import requests

from worker.auth import TokenManager
from worker.config import load_settings
from worker.log import configure_logging
from worker.malloc import limit_arenas
from worker.runtime import build_client, open_engine
from worker.sinks.postgres import PostgresSink
from worker.sync import images
from worker.sync.engine import SyncOptions, sync_entity
from worker.sync.entities import PROPERTIES_ENTITY, Entity


def without_events() -> Entity:
    """The properties entity, and the image writes, with no change feed."""
    images.IMAGES_TABLE = replace(images.IMAGES_TABLE, feed=None)  # type: ignore[attr-defined]
    return replace(PROPERTIES_ENTITY, table=replace(PROPERTIES_ENTITY.table, feed=None))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--no-events", action="store_true")
    args = parser.parse_args()
    limit_arenas()  # as the CLI does
    entity: str | Entity = without_events() if args.no_events else "properties"
    configure_logging("WARNING", "json", ())
    settings = load_settings()
    options = SyncOptions(take=settings.rei_page_size, listing_images=not args.no_images)
    # The CLI's engine: the schema checked by its revision, Alembic only if not at head.
    with open_engine(settings, migrate=True) as engine, requests.Session() as session:
        tokens = TokenManager(settings.brands, session=session)
        for brand in settings.brands:
            client = build_client(settings, brand, tokens, session)
            result = sync_entity(client, PostgresSink(engine), entity, options=options)
            if result.status not in ("succeeded", "succeeded_with_rejects"):
                raise SystemExit(f"{brand.key}: {result.status} {result.error}")


if __name__ == "__main__":
    main()
