"""A cold `properties` run exactly as `rei-sync sync` does it, optionally without images.

    python -m bench.sync_child [--no-images]

Used by the benchmark to split the cold sync into its property and image parts
(`SyncOptions.listing_images=False`); everything else is the CLI's defaults.
"""

from __future__ import annotations

import argparse

import requests

from worker.auth import TokenManager
from worker.config import load_settings
from worker.db.engine import create_db_engine
from worker.db.migrate import upgrade_head
from worker.log import configure_logging
from worker.runtime import build_client
from worker.sinks.postgres import PostgresSink
from worker.sync.engine import SyncOptions, sync_entity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-images", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING", "json", ())
    settings = load_settings()
    assert settings.database_url is not None
    engine = create_db_engine(settings.database_url.get_secret_value())
    upgrade_head(engine)
    options = SyncOptions(take=settings.rei_page_size, listing_images=not args.no_images)
    with requests.Session() as session:
        tokens = TokenManager(settings.brands, session=session)
        for brand in settings.brands:
            client = build_client(settings, brand, tokens, session)
            result = sync_entity(client, PostgresSink(engine), "properties", options=options)
            if result.status not in ("succeeded", "succeeded_with_rejects"):
                raise SystemExit(f"{brand.key}: {result.status} {result.error}")
    engine.dispose()


if __name__ == "__main__":
    main()
