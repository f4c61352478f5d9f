"""The issue-9 benchmark: rei-sync against the physical bound, dlt and the seed algorithm.

One sandbox (its own process) and one Postgres (`BENCH_DATABASE_URL`, else an
embedded server), the schema reset between cases, every ratio from this one run.
See bench/README.md for what each case does and docs/BENCHMARKS.md for results.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict

from bench import image_ceiling
from bench.latency_proxy import LatencyProxy
from bench.sandbox_proc import BRAND, Sandbox
from bench.targets import render, targets
from worker.api.client import ReiClient
from worker.api.endpoints import PROPERTIES
from worker.auth import TokenManager
from worker.config import load_settings
from worker.db.engine import create_db_engine, libpq_url
from worker.db.migrate import upgrade_head
from worker.db.schema import PROPERTIES_TABLE, Row
from worker.sinks.pgcopy import copy_records, private_records, public_records
from worker.sync.normalise import normalise_property
from worker.sync.pipeline import DEFAULT_PARALLELISM, fetch_pages

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
EXTRAS = Path(__file__).resolve().parent / "results" / "latest-extra.json"
ENTITY_TABLES = ("properties", "properties_private", "property_images")
TAKE = 100
ONE_WAY_DELAY_SECONDS = 0.002
RESULT_KEYS = (
    "n_listings",
    "fetch_only_s",
    "copy_only_s",
    "bound_s",
    "cold_s",
    "nochange_s",
    "nochange_rows_written",
    "one_pct_s",
    "one_pct_rows_written",
    "one_pct_changed",
    "dlt_s",
    "seed_algo_rows_per_s",
    "rei_rows_per_s",
    "seed_algo_rows_per_s_rtt4ms",
    "rei_rows_per_s_rtt4ms",
    "rss_mb_20k",
    "rss_mb_200k",
    "token_get_us",
)


@dataclass
class Config:
    n: int = 100_000
    rss_small: int = 20_000
    rss_large: int = 200_000
    seed_n: int = 10_000
    seed_rtt_n: int = 2_000
    image_sample: int = 5_000
    image_rtt_sample: int = 1_500
    database_url: str | None = None
    results: Path | None = RESULTS
    extras: Path | None = EXTRAS
    skip_dlt: bool = False

    @staticmethod
    def from_env() -> Config:
        env = os.environ
        return Config(
            n=int(env.get("BENCH_N", 100_000)),
            rss_small=int(env.get("BENCH_RSS_SMALL_N", 20_000)),
            rss_large=int(env.get("BENCH_RSS_LARGE_N", 200_000)),
            seed_n=int(env.get("BENCH_SEED_N", 10_000)),
            seed_rtt_n=int(env.get("BENCH_SEED_RTT_N", 2_000)),
            image_sample=int(env.get("BENCH_IMAGE_SAMPLE", 5_000)),
            image_rtt_sample=int(env.get("BENCH_IMAGE_RTT_SAMPLE", 1_500)),
            database_url=env.get("BENCH_DATABASE_URL") or None,
        )

    @staticmethod
    def smoke() -> Config:
        """Every case at N = 500 on small samples, nothing saved (`.ci/run`): the harness
        cannot rot, and no figure of it means anything."""
        return Config(
            n=500,
            rss_small=500,
            rss_large=1_000,
            seed_n=200,
            seed_rtt_n=50,
            image_sample=200,
            image_rtt_sample=100,
            database_url=os.environ.get("BENCH_DATABASE_URL") or None,
            results=None,
            extras=None,
        )


@dataclass
class Line:
    case: str
    seconds: float | None
    rows: int | None
    note: str = ""
    vs_rei: str = ""

    def rate(self) -> float | None:
        if self.seconds is None or self.rows is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def add(self, line: Line) -> Line:
        self.lines.append(line)
        print(f"  {line.case}: {_fmt(line.seconds)} s {line.note}", flush=True)
        return line


# ---- database -----------------------------------------------------------------------------


@contextmanager
def database(config: Config) -> Iterator[str]:
    """A scratch database URL: BENCH_DATABASE_URL as given, or a fresh embedded server."""
    if config.database_url:
        yield libpq_url(config.database_url)
        return
    from worker.db.embedded import start_embedded_postgres, stop_embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="rei-bench-pg-"))
    home.chmod(0o755)
    try:
        server = start_embedded_postgres(home)
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("CREATE DATABASE rei_bench")
        params = conninfo_to_dict(server)
        params["dbname"] = "rei_bench"
        yield _url(params)
    finally:
        stop_embedded_postgres(home)
        shutil.rmtree(home, ignore_errors=True)


def _url(params: dict[str, Any]) -> str:
    """A postgresql:// URL from libpq parameters (a socket folder goes in `?host=`)."""
    user = quote(str(params.get("user") or "postgres"), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(params.get("host") or "")
    port = str(params.get("port") or "5432")
    dbname = quote(str(params.get("dbname") or "postgres"), safe="")
    if not host or host.startswith("/"):
        return f"postgresql://{auth}@/{dbname}?host={quote(host or '/tmp')}&port={port}"
    return f"postgresql://{auth}@{host}:{port}/{dbname}"


def reset_schema(url: str) -> None:
    """Drop everything the cases created and migrate from scratch."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS bench_dlt CASCADE")
        connection.execute("DROP SCHEMA IF EXISTS bench_dlt_staging CASCADE")
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    engine = create_db_engine(url)
    try:
        upgrade_head(engine)
    finally:
        engine.dispose()


def write_counters(url: str, tables: tuple[str, ...] = ENTITY_TABLES) -> dict[str, int]:
    """Rows inserted + updated + deleted per table so far, once every writer has flushed."""
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            others = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            if (others and others[0] == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(1.1)  # a backend exiting flushes; give the last one its moment
        connection.execute("SELECT pg_stat_clear_snapshot()")
        rows = connection.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
            "WHERE schemaname = 'public'"
        ).fetchall()
    found = {str(name): int(count) for name, count in rows}
    return {table: found.get(table, 0) for table in tables}


def last_run_seconds(url: str) -> float | None:
    """The engine's own time of the newest run (`sync_runs.duration_seconds`): no process start."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT duration_seconds FROM sync_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def proxied(url: str, port: int) -> str:
    params = conninfo_to_dict(url)
    params["host"], params["port"] = "127.0.0.1", str(port)
    return _url(params)


def upstream_of(url: str) -> tuple[str, int] | str:
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "/tmp")
    port = int(params.get("port") or 5432)
    return f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)


def postgres_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


# ---- subprocess runs (rei-sync's CLI, dlt) ----------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    seconds: float
    peak_rss_mb: float
    output: str


def run_child(argv: list[str], env: dict[str, str]) -> ChildRun:
    """Run a command; its wall time and its peak RSS, read from outside (/proc)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        peak = _watch_rss(child)
        child.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}:\n{output[-3000:]}")
    return ChildRun(seconds, peak / 2**20, output)


def _watch_rss(child: subprocess.Popen[bytes]) -> int:
    """The child's peak RSS: the kernel's high-water mark (VmHWM) polled until it exits.

    Not `ru_maxrss` from wait4: it spans exec, so it counts the parent's pages of the
    fork before it (the harness holds the prepared rows: it read ~780 MB for a
    ~150 MB sync). VmHWM belongs to the program after exec; psutil's RSS is the
    fallback where /proc/<pid>/status has no VmHWM.
    """
    peak = 0
    status = Path(f"/proc/{child.pid}/status")
    try:
        process = psutil.Process(child.pid)
        while child.poll() is None:
            peak = max(peak, _hwm(status) or process.memory_info().rss)
            time.sleep(0.05)
    except (psutil.Error, OSError):
        pass
    return peak


def _hwm(status: Path) -> int | None:
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


CLI_SYNC = [sys.executable, "-m", "worker", "sync", "--brand", BRAND, "--entity", "properties"]
"""`rei-sync sync --entity properties` for the bench brand (the CLI, a process of its own)."""
PROPERTIES_ONLY_SYNC = [sys.executable, "-m", "bench.sync_child", "--no-images"]
"""The same run without images of new listings (`bench.sync_child`), for the split."""


def sync_env(env: dict[str, str], db_url: str) -> dict[str, str]:
    """The environment of a sync child: the sandbox's `env`, the scratch database, quiet logs."""
    return {
        **os.environ,
        **env,
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        "REI_PAGE_SIZE": str(TAKE),
    }


def rei_sync(env: dict[str, str], db_url: str, *extra: str) -> ChildRun:
    """`CLI_SYNC` (with `extra` arguments), timed, its peak RSS read."""
    return run_child([*CLI_SYNC, *extra], sync_env(env, db_url))


def properties_only_sync(env: dict[str, str], db_url: str) -> ChildRun:
    """`PROPERTIES_ONLY_SYNC`, timed."""
    child_env = {**os.environ, **env, "DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"}
    return run_child(PROPERTIES_ONLY_SYNC, child_env)


# ---- in-process cases -----------------------------------------------------------------------


def client_for(env: dict[str, str], session: requests.Session) -> ReiClient:
    settings = load_settings(environ=env, env_file=None)
    return ReiClient(
        settings.brand(BRAND), TokenManager(settings.brands, session=session), session=session
    )


def fetch_only(env: dict[str, str]) -> tuple[float, int]:
    """Every property page through rei-sync's client, default parallelism, decoded only."""
    with requests.Session() as session:
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
        client = client_for(env, session)
        client.get_json_or_none("GetPropertyDetails/0")  # token acquired before the clock
        started = time.perf_counter()
        count = sum(
            len(page.items)
            for page in fetch_pages(client, PROPERTIES, TAKE, parallelism=DEFAULT_PARALLELISM)
        )
        return time.perf_counter() - started, count


@dataclass
class Prepared:
    public: list[tuple[Any, ...]]
    private: list[tuple[Any, ...]]
    ids: list[int]


def prepare_rows(env: dict[str, str]) -> Prepared:
    """Untimed: every listing fetched, normalised and encoded into the records rei-sync's
    sink would COPY (`pgcopy.public_records`/`private_records`)."""
    rows: list[Row] = []
    with requests.Session() as session:
        client = client_for(env, session)
        for page in fetch_pages(client, PROPERTIES, TAKE):
            for item in page.items:
                row = normalise_property(item)
                if isinstance(row, Row):
                    rows.append(row)
    public = public_records(PROPERTIES_TABLE, BRAND, rows)
    return Prepared(public, private_records(PROPERTIES_TABLE, BRAND, rows), [r[1] for r in public])


def _columns(table: str, names: tuple[str, ...]) -> str:
    return ", ".join(["brand", "listing_id", *names, "raw", "content_hash"])


def copy_only(url: str, rows: Prepared) -> float:
    """The prepared records COPY'd into the empty entity tables in one transaction, by the
    sink's own COPY (`pgcopy.copy_records`), so the bound uses the sink's COPY method."""
    spec = PROPERTIES_TABLE
    assert spec.private_table is not None
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            copy_records(cursor, spec.table, spec.key_columns, spec.columns, rows.public)
            copy_records(
                cursor, spec.private_table, spec.key_columns, spec.private_columns, rows.private
            )
        connection.commit()
        return time.perf_counter() - started


def seed_algorithm(url: str, rows: Prepared, limit: int) -> tuple[float, int]:
    """The predecessor: per listing a SELECT by id, then one UPDATE or INSERT (autocommit).

    Public and private row go in one statement (a CTE), so a listing costs exactly two
    round trips; rows are pre-normalised, nothing is fetched: the fairest case for it.
    """
    spec = PROPERTIES_TABLE
    assert spec.private_table is not None
    pub_cols, priv_cols = _columns("", spec.columns), _columns("", spec.private_columns)
    pub_marks = ", ".join(["%s"] * (len(spec.columns) + 4))
    priv_marks = ", ".join(["%s"] * (len(spec.private_columns) + 4))
    insert = (
        f"WITH p AS (INSERT INTO {spec.table} ({pub_cols}) VALUES ({pub_marks})) "
        f"INSERT INTO {spec.private_table} ({priv_cols}) VALUES ({priv_marks})"
    )
    pub_set = ", ".join(f"{c} = %s" for c in (*spec.columns, "raw", "content_hash"))
    priv_set = ", ".join(f"{c} = %s" for c in (*spec.private_columns, "raw", "content_hash"))
    update = (
        f"WITH p AS (UPDATE {spec.table} SET {pub_set} WHERE brand = %s AND listing_id = %s) "
        f"UPDATE {spec.private_table} SET {priv_set} WHERE brand = %s AND listing_id = %s"
    )
    select = f"SELECT content_hash FROM {spec.table} WHERE brand = %s AND listing_id = %s"
    count = min(limit, len(rows.public))
    with psycopg.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        started = time.perf_counter()
        for public, private in zip(rows.public[:count], rows.private[:count], strict=True):
            found = cursor.execute(select, (BRAND, public[1])).fetchone()
            if found is None:
                cursor.execute(insert, (*public, *private))
            else:
                cursor.execute(update, (*public[2:], *public[:2], *private[2:], *private[:2]))
        return time.perf_counter() - started, count


def image_fetch_rate(env: dict[str, str], ids: list[int], sample: int) -> float:
    """Image requests per second at rei-sync's adaptive image concurrency (nothing stored)."""
    return image_ceiling.adaptive_rate(env, ids[:sample]).per_s


def token_hot_path_us() -> float:
    from bench.token_hot_path import brands, fake_requester, per_call_microseconds

    manager = TokenManager(brands(), requester=fake_requester)
    try:
        manager.get_valid_token("AZURA")
        per_call_microseconds(manager, 50_000)
        return statistics.median(per_call_microseconds(manager, 100_000) for _ in range(21))
    finally:
        manager.close()


def dlt_available() -> bool:
    return importlib.util.find_spec("dlt") is not None


def dlt_load(env: dict[str, str], url: str) -> ChildRun:
    params = conninfo_to_dict(url)
    host = str(params.get("host") or "")
    if host.startswith("/"):  # dlt's URL parser wants host:port; go through TCP-less psycopg2 DSN
        destination = (
            f"postgresql://{params.get('user', 'postgres')}:{params.get('password', '')}"
            f"@localhost:{params.get('port', 5432)}/{params['dbname']}?host={host}"
        )
    else:
        destination = libpq_url(url)
    with tempfile.TemporaryDirectory(prefix="rei-bench-dlt-") as folder:
        child_env = {
            **os.environ,
            **env,
            "BENCH_DLT_DESTINATION": destination,
            "BENCH_DLT_DIR": folder,
        }
        return run_child([sys.executable, "-m", "bench.dlt_load"], child_env)


# ---- the run ----------------------------------------------------------------------------------


def run(config: Config) -> dict[str, Any]:
    report = Report()
    values = report.values
    n = config.n
    print(f"rei-sync benchmark: N = {n:,} listings, brand {BRAND}", flush=True)
    with database(config) as url, Sandbox(n) as sandbox:
        assert sandbox.env is not None
        env = sandbox.env
        values["n_listings"] = n
        machine = {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "postgres": postgres_version(url),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "database": "BENCH_DATABASE_URL" if config.database_url else "embedded",
        }

        # 1-3: the physical bound
        fetch_only(env)  # warm the sandbox's record cache: every case then reads warm pages
        seconds, count = fetch_only(env)
        values["fetch_only_s"] = seconds
        report.add(Line("1 fetch-only", seconds, count, f"({count} listings)"))
        prepared = prepare_rows(env)
        reset_schema(url)
        values["copy_only_s"] = copy_only(url, prepared)
        report.add(Line("2 COPY-only", values["copy_only_s"], len(prepared.public)))
        values["bound_s"] = max(values["fetch_only_s"], values["copy_only_s"])
        report.add(Line("3 bound = max(1, 2)", values["bound_s"], n))

        # 4-6: rei-sync's CLI
        reset_schema(url)
        before = write_counters(url)
        cold = rei_sync(env, url)
        values["cold_s"] = cold.seconds
        values["rei_rows_per_s"] = n / cold.seconds
        cold_writes = _delta(before, write_counters(url))
        report.extras["cold_engine_s"] = last_run_seconds(url)
        report.add(Line("4 cold (rei-sync sync)", cold.seconds, n, f"writes {cold_writes}"))
        before = write_counters(url)
        nochange = rei_sync(env, url)
        values["nochange_s"] = nochange.seconds
        written = _delta(before, write_counters(url))
        values["nochange_rows_written"] = sum(written.values())
        report.extras["nochange_engine_s"] = last_run_seconds(url)
        report.add(Line("5 no-change", nochange.seconds, n, f"writes {written}"))
        epoch = sandbox.epoch(changed=0.01)
        changed = int(epoch["brands"][BRAND]["changed"])
        before = write_counters(url)
        one_pct = rei_sync(env, url)
        written = _delta(before, write_counters(url))
        values["one_pct_s"] = one_pct.seconds
        values["one_pct_changed"] = changed
        values["one_pct_rows_written"] = written["properties"]
        report.extras["one_pct_engine_s"] = last_run_seconds(url)
        report.extras["one_pct_writes_by_table"] = written
        report.add(Line("6 one-percent", one_pct.seconds, changed, f"writes {written}"))

        # the split of the cold run: without images, and the image requests alone
        reset_schema(url)
        bare = properties_only_sync(env, url)
        report.extras["cold_properties_only_s"] = bare.seconds
        report.add(Line("4a cold, properties only (no images)", bare.seconds, n))
        rate = image_fetch_rate(env, prepared.ids, config.image_sample)
        report.extras["image_requests_per_s"] = rate
        report.extras["image_fetch_only_s"] = n / rate
        report.add(
            Line("4b image requests alone (extrapolated)", n / rate, n, f"({rate:.0f} req/s)")
        )
        # 4c-4e: the image phase against the sandbox's own ceiling, and at +50 ms RTT
        report.extras.update(
            image_ceiling.image_cases(
                env,
                prepared.ids,
                config.image_sample,
                min(config.image_sample, config.image_rtt_sample),
            )
        )

        # 7: dlt
        reset_schema(url)
        if config.skip_dlt or not dlt_available():
            reason = "skipped by request" if config.skip_dlt else "dlt not installed"
            print(f"  7 dlt: skipped ({reason}; pip install -e '.[bench]')", flush=True)
            values["dlt_s"] = None
            report.lines.append(Line("7 dlt (merge)", None, n, f"skipped: {reason}"))
        else:
            loaded = dlt_load(env, url)
            values["dlt_s"] = loaded.seconds
            report.add(Line("7 dlt (merge)", loaded.seconds, n))

        # 8: the seed algorithm, and rei-sync cold, on loopback and at +4 ms per round trip
        reset_schema(url)
        seconds, count = seed_algorithm(url, prepared, config.seed_n)
        values["seed_algo_rows_per_s"] = count / seconds
        report.add(Line("8 seed algorithm, local", seconds, count))
        with LatencyProxy(upstream_of(url), ONE_WAY_DELAY_SECONDS) as proxy:
            slow = proxied(url, proxy.port)
            reset_schema(url)
            seconds, count = seed_algorithm(slow, prepared, config.seed_rtt_n)
            values["seed_algo_rows_per_s_rtt4ms"] = count / seconds
            report.add(Line("8 seed algorithm, +4 ms RTT", seconds, count))
            reset_schema(url)
            cold_rtt = rei_sync(env, slow)
            values["rei_rows_per_s_rtt4ms"] = n / cold_rtt.seconds
            report.add(Line("8 rei-sync cold, +4 ms RTT", cold_rtt.seconds, n))
            reset_schema(url)
            bare_rtt = properties_only_sync(env, slow)
            report.extras["cold_properties_only_rtt4ms_s"] = bare_rtt.seconds
            report.add(Line("8 rei-sync cold, props only, +4 ms", bare_rtt.seconds, n))
        del prepared

    # 9: memory, each on a sandbox of its own size
    measure_rss(config, report)

    # 10: the token hot path
    values["token_get_us"] = token_hot_path_us()
    report.add(Line("10 get_valid_token (FRESH)", None, None, f"{values['token_get_us']:.3f} us"))

    values["machine"] = machine
    values["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    result = {key: values.get(key) for key in (*RESULT_KEYS, "machine", "when")}
    print()
    print(render_table(result, report.extras))
    print()
    print(render(targets(result, report.extras)))
    if config.results is not None:
        config.results.parent.mkdir(parents=True, exist_ok=True)
        config.results.write_text(json.dumps(result, indent=2) + "\n")
    if config.extras is not None:
        config.extras.write_text(json.dumps(report.extras, indent=2) + "\n")
    return {"result": result, "extras": report.extras}


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before.get(table, 0) for table in after}


# ---- the table -------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_rows(r: dict[str, Any], x: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(case, seconds, rows/s, × bound, vs rei-sync) per line; ratios are from this run."""
    n, bound, cold = r["n_listings"], r["bound_s"], r["cold_s"]

    def line(case: str, s: float | None, rows: float | None, vs: str = "") -> tuple[str, ...]:
        rate = None if s in (None, 0) or rows is None else rows / s
        ratio = None if s is None else s / bound
        return (case, _fmt(s), _fmt(rate, 0), _fmt(ratio), vs)

    def times(a: float | None, b: float | None) -> str:
        return "-" if a is None or b in (None, 0) else f"{a / b:.2f}x"

    dlt = r.get("dlt_s")
    seed, seed4 = r["seed_algo_rows_per_s"], r["seed_algo_rows_per_s_rtt4ms"]
    rei, rei4 = r["rei_rows_per_s"], r["rei_rows_per_s_rtt4ms"]
    bare, bare4 = x.get("cold_properties_only_s"), x.get("cold_properties_only_rtt4ms_s")
    rows: list[tuple[str, ...]] = [
        line("1 fetch-only", r["fetch_only_s"], n),
        line("2 COPY-only", r["copy_only_s"], n),
        line("3 bound = max(1, 2)", bound, n),
        line("4 cold: rei-sync sync (with images)", cold, n, "1.00x"),
        line("4a cold, properties only", bare, n, times(bare, cold) + " of cold"),
        line("4b image requests alone", x.get("image_fetch_only_s"), n),
        line(
            f"5 no-change ({r['nochange_rows_written']} rows written)",
            r["nochange_s"],
            n,
            f"{times(r['nochange_s'], r['fetch_only_s'])} fetch-only",
        ),
        line(
            "5a no-change, engine only (sync_runs)",
            x.get("nochange_engine_s"),
            n,
            f"{times(x.get('nochange_engine_s'), r['fetch_only_s'])} fetch-only",
        ),
        line(
            f"6 one-percent ({r['one_pct_rows_written']}/{r['one_pct_changed']} rows)",
            r["one_pct_s"],
            r["one_pct_changed"],
        ),
        line(
            "7 dlt merge",
            dlt,
            n,
            "skipped"
            if dlt is None
            else f"rei {times(dlt, cold)} faster (props only {times(dlt, bare)})",
        ),
        (
            "8 seed algorithm, local",
            "",
            _fmt(seed, 0),
            "",
            f"rei {times(rei, seed)} (props only {times(n / bare if bare else None, seed)})",
        ),
        ("8 rei-sync cold, local", _fmt(cold), _fmt(rei, 0), "", ""),
        (
            "8 seed algorithm, +4 ms RTT",
            "",
            _fmt(seed4, 0),
            "",
            f"rei {times(rei4, seed4)} (props only {times(n / bare4 if bare4 else None, seed4)})",
        ),
        ("8 rei-sync cold, +4 ms RTT", _fmt(n / rei4 if rei4 else None), _fmt(rei4, 0), "", ""),
        (
            "9 peak RSS cold 20k / 200k (MB)",
            "",
            "",
            "",
            f"{_fmt(r['rss_mb_20k'], 0)} / "
            f"{_fmt(r['rss_mb_200k'], 0)} = {times(r['rss_mb_200k'], r['rss_mb_20k'])}",
        ),
        ("10 get_valid_token FRESH (us)", "", "", "", _fmt(r["token_get_us"], 3)),
        *image_ceiling.image_rows(x),
    ]
    return [tuple(row) for row in rows]  # type: ignore[misc]


def render_table(result: dict[str, Any], extras: dict[str, Any], markdown: bool = False) -> str:
    header = ("case", "seconds", "rows/s", "x bound", "vs rei-sync")
    rows = table_rows(result, extras)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def measure_rss(config: Config, report: Report) -> None:
    """Case 9: peak RSS of a cold `rei-sync sync` on a sandbox (and database) of each size."""
    for key, size in (("rss_mb_20k", config.rss_small), ("rss_mb_200k", config.rss_large)):
        with database(config) as url, Sandbox(size) as sandbox:
            assert sandbox.env is not None
            reset_schema(url)
            measured = rei_sync(sandbox.env, url)
            report.values[key] = measured.peak_rss_mb
            report.extras[f"{key}_cold_s"] = measured.seconds
            report.add(
                Line(
                    f"9 peak RSS, cold N={size:,}",
                    measured.seconds,
                    size,
                    f"{measured.peak_rss_mb:.0f} MB",
                )
            )


def rss_only(config: Config) -> None:
    """Re-measure case 9 alone and update the two RSS keys of the saved results."""
    assert config.results is not None
    assert config.extras is not None
    report = Report()
    measure_rss(config, report)
    result = json.loads(config.results.read_text())
    extras = json.loads(config.extras.read_text())
    result.update({k: report.values[k] for k in ("rss_mb_20k", "rss_mb_200k")})
    extras.update(report.extras)
    extras["rss_measured_separately_when"] = datetime.now(UTC).isoformat(timespec="seconds")
    config.results.write_text(json.dumps(result, indent=2) + "\n")
    config.extras.write_text(json.dumps(extras, indent=2) + "\n")
    print(render_table(result, extras))


def main(argv: list[str] | None = None, config: Config | None = None) -> dict[str, Any]:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, help="listings (BENCH_N, default 100000)")
    parser.add_argument("--skip-dlt", action="store_true")
    parser.add_argument(
        "--rss-only", action="store_true", help="re-measure case 9 into the saved results"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="every case at N = 500, nothing saved (CI)"
    )
    args = parser.parse_args(argv)
    config = config or (Config.smoke() if args.smoke else Config.from_env())
    if args.n:
        config.n = args.n
    config.skip_dlt = config.skip_dlt or args.skip_dlt
    if args.rss_only:
        rss_only(config)
        return {}
    return run(config)
