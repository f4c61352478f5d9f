"""Case 7: dlt loading the same GetProperties pages into the same Postgres (see bench/README.md).

Run as `python -m bench.dlt_load` with the sandbox brand's REMAX_AZURA_* variables,
BENCH_DLT_DESTINATION (a postgresql:// URL) and BENCH_DLT_DIR (dlt's working folder).
Idiomatic dlt: `RESTClient` with a custom paginator (the API pages by path segments,
`take/{take}/skip/{skip}`, and has no total: a short page ends the list), a custom
auth for the OAuth password grant, one resource with `write_disposition="merge"` and
`primary_key="listingId"`, pages yielded whole, loaded with the COPY-based `csv`
loader format and parallel normalize/load workers, as dlt's performance guide advises.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import dlt
import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from dlt.sources.helpers.rest_client.paginators import BasePaginator

BRAND = "AZURA"
TAKE = 100


class TakeSkipPaginator(BasePaginator):
    """`…/take/{take}/skip/{skip}` in the path; a page shorter than `take` is the last."""

    def __init__(self, take: int) -> None:
        super().__init__()
        self.take = take
        self.skip = 0

    def init_request(self, request: Any) -> None:
        self.skip = 0
        request.url = self._url(request.url)

    def update_state(self, response: Any, data: list[Any] | None = None) -> None:
        count = len(data or [])
        self.skip += count
        self._has_next_page = count >= self.take

    def update_request(self, request: Any) -> None:
        request.url = self._url(request.url)

    def _url(self, url: str) -> str:
        base = url.split("/take/")[0]
        return f"{base}/take/{self.take}/skip/{self.skip}"


class PasswordGrantAuth(AuthConfigBase):
    """The REI API's OAuth password grant: form fields apikey/secretkey/integratorID."""

    def __init__(self, token_url: str, api_key: str, secret_key: str, integrator_id: str) -> None:
        super().__init__()
        self.token_url = token_url
        self.form = {
            "grant_type": "password",
            "apikey": api_key,
            "secretkey": secret_key,
            "integratorID": integrator_id,
        }
        self.token: str | None = None

    def __call__(self, request: Any) -> Any:
        if self.token is None:
            response = requests.post(self.token_url, data=self.form, timeout=30)
            response.raise_for_status()
            self.token = str(response.json()["access_token"])
        request.headers["Authorization"] = f"bearer {self.token}"
        return request


def properties_source(env: dict[str, str]) -> Any:
    base = env[f"REMAX_{BRAND}_API_URL"]
    client = RESTClient(
        base_url=base,
        headers={"Accept": "application/json"},
        auth=PasswordGrantAuth(
            f"{base}/oauth/token",
            env[f"REMAX_{BRAND}_API_KEY"],
            env[f"REMAX_{BRAND}_SECRET_KEY"],
            env[f"REMAX_{BRAND}_INTEGRATOR_ID"],
        ),
        paginator=TakeSkipPaginator(TAKE),
        data_selector="result",
    )

    @dlt.resource(name="properties", write_disposition="merge", primary_key="listingId")
    def properties() -> Iterator[list[Any]]:
        yield from client.paginate(f"GetProperties/take/{TAKE}/skip/0")

    return properties


def main() -> None:
    env = dict(os.environ)
    os.environ.setdefault("NORMALIZE__WORKERS", "2")
    os.environ.setdefault("LOAD__WORKERS", "4")
    os.environ.setdefault("DATA_WRITER__BUFFER_MAX_ITEMS", "10000")
    os.environ.setdefault("DATA_WRITER__FILE_MAX_ITEMS", "50000")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    pipeline = dlt.pipeline(
        pipeline_name="rei_bench_dlt",
        pipelines_dir=env["BENCH_DLT_DIR"],
        destination=dlt.destinations.postgres(credentials=env["BENCH_DLT_DESTINATION"]),
        dataset_name="bench_dlt",
        progress=None,
    )
    started = time.perf_counter()
    info = pipeline.run(properties_source(env), loader_file_format="csv")
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("properties", 0)
    print(f"dlt loaded {rows} rows in {seconds:.2f} s; {info.has_failed_jobs=}", file=sys.stderr)
    if info.has_failed_jobs:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
