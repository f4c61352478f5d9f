"""A TEST DOUBLE of PostgREST (Supabase's REST API), not PostgREST itself.

No PostgREST server can be installed here, so this small HTTP server on 127.0.0.1
implements exactly the part of PostgREST's documented behaviour that the REST sink
uses, backed by the real test Postgres:

- `POST /rest/v1/<table>` with a JSON object or array; `?on_conflict=a,b` with
  `Prefer: resolution=merge-duplicates` (or `ignore-duplicates`) is an upsert;
  `Prefer: return=minimal` answers 201 with no body, `return=representation` the rows;
- `GET /rest/v1/<table>?select=a,b` with `col=eq.v`, `in.(v1,v2)`, `is.null`,
  `not.is.null`, a JSON field `col->>field=eq.v`, `order=col.desc`, `limit`/`offset`,
  and `Range: 0-99` + `Range-Unit: items` pagination answered with
  `Content-Range: 0-99/*` (`0-99/N` with `Prefer: count=exact`); at most `max_rows`
  rows per answer, whatever the `Range` asked for (Supabase's `max-rows`);
- `PATCH` and `DELETE` with the same filters; `Prefer: count=exact` gives `*/N`;
- errors as PostgREST's JSON `{"code", "message", "details", "hint"}` with its HTTP
  statuses (23505 → 409, 42501 → 403, unknown table → 404 PGRST205, ...);
- `apikey` and `Authorization: Bearer` both checked against the service-role key;
  each request is one transaction run `SET LOCAL ROLE service_role`, as PostgREST
  switches to the JWT's role, so the migration's grants and policies are exercised.

Fault knobs for the retry tests: `fail_next(status, times, retry_after)` answers the
next requests with an error *without* doing them; `fail_next(..., after_commit=True)`
does them (the transaction commits) and then answers the error, as a gateway timeout
or a lost answer does. `hold_next(method, table)` parks the next such request before
it is done until the test releases it (for interleaving concurrent callers).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg import errors, sql

ROLE = "service_role"
MAX_ROWS = 1000
RESERVED = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
"""Query parameters that are not filters."""
RANGE = re.compile(r"^(\d+)-(\d*)$")
STATUS_BY_SQLSTATE = {
    "23505": 409,
    "23503": 409,
    "42501": 403,
    "42P01": 404,
    "42703": 400,
    "23502": 400,
    "22P02": 400,
    "23514": 400,
}


class PostgrestError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, "details": details, "hint": hint}


@dataclass
class Logged:
    method: str
    table: str
    params: list[tuple[str, str]]
    headers: dict[str, str]
    rows: int = 0


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    after_commit: bool = False
    method: str | None = None
    table: str | None = None

    def matches(self, method: str, table: str) -> bool:
        return self.method in (None, method) and self.table in (None, table)


@dataclass
class Hold:
    """The next `method` request on `table` waits, once `arrived` is set, for `release`."""

    method: str
    table: str
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Faults:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[Fault] = field(default_factory=deque)
    holds: list[Hold] = field(default_factory=list)


class PostgrestDouble:
    """`with PostgrestDouble(db_url, key) as api:`; `api.url` is the project URL."""

    def __init__(self, database_url: str, service_role_key: str, *, max_rows: int = MAX_ROWS):
        self.database_url = database_url
        self.key = service_role_key
        self.max_rows = max_rows
        self.log: list[Logged] = []
        self._faults = _Faults()
        self._columns: dict[str, dict[str, str]] = {}
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                double._handle(self, "GET")

            def do_POST(self) -> None:
                double._handle(self, "POST")

            def do_PATCH(self) -> None:
                double._handle(self, "PATCH")

            def do_DELETE(self) -> None:
                double._handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> PostgrestDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def fail_next(
        self,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        *,
        after_commit: bool = False,
        method: str | None = None,
        table: str | None = None,
    ) -> None:
        """The next `times` requests (of `method` on `table`, when given) fail."""
        fault = Fault(status, retry_after, after_commit, method, table)
        with self._faults.lock:
            self._faults.queue.extend([fault] * times)

    def hold_next(self, method: str, table: str) -> Hold:
        hold = Hold(method, table)
        with self._faults.lock:
            self._faults.holds.append(hold)
        return hold

    def requests(self, method: str, table: str | None = None) -> list[Logged]:
        return [r for r in self.log if r.method == method and table in (None, r.table)]

    # --- one request ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        headers: dict[str, str] = {}
        try:
            parts = urlsplit(handler.path)
            table = parts.path.removeprefix("/rest/v1/")
            fault = self._take_fault(method, table)
            if fault is not None:
                if fault.retry_after is not None:
                    headers["Retry-After"] = fault.retry_after
                if not fault.after_commit:
                    raise PostgrestError(fault.status, "PGRST000", "injected fault")
            self._authorise(handler)
            if not parts.path.startswith("/rest/v1/"):
                raise PostgrestError(404, "PGRST125", "Invalid path specified in request URL")
            self._wait_if_held(method, table)
            params = parse_qsl(parts.query, keep_blank_values=True)
            length = int(handler.headers.get("Content-Length") or 0)
            body = json.loads(handler.rfile.read(length)) if length else None
            prefer = _prefer(handler.headers.get_all("Prefer") or [])
            logged = Logged(method, table, params, dict(handler.headers.items()))
            self.log.append(logged)
            status, payload, extra = self._execute(method, table, params, body, prefer, handler)
            headers.update(extra)
            if isinstance(payload, list):
                logged.rows = len(payload)
            if isinstance(body, list):
                logged.rows = len(body)
            if fault is not None:  # done and committed, but answered as a failure
                raise PostgrestError(fault.status, "PGRST000", "injected fault after commit")
        except PostgrestError as exc:
            status, payload = exc.status, exc.body
        data = b"" if payload is None else json.dumps(payload, default=_json_default).encode()
        handler.send_response(status)
        if data:
            handler.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _take_fault(self, method: str, table: str) -> Fault | None:
        with self._faults.lock:
            for fault in self._faults.queue:
                if fault.matches(method, table):
                    self._faults.queue.remove(fault)
                    return fault
        return None

    def _wait_if_held(self, method: str, table: str) -> None:
        with self._faults.lock:
            hold = next(
                (h for h in self._faults.holds if (h.method, h.table) == (method, table)), None
            )
            if hold is not None:
                self._faults.holds.remove(hold)
        if hold is not None:
            hold.arrived.set()
            hold.release.wait(30)

    def _authorise(self, handler: BaseHTTPRequestHandler) -> None:
        apikey = handler.headers.get("apikey")
        bearer = handler.headers.get("Authorization", "")
        if apikey != self.key or bearer != f"Bearer {self.key}":
            raise PostgrestError(401, "PGRST301", "JWT invalid or missing")

    def _execute(
        self,
        method: str,
        table: str,
        params: list[tuple[str, str]],
        body: Any,
        prefer: dict[str, str],
        handler: BaseHTTPRequestHandler,
    ) -> tuple[int, Any, dict[str, str]]:
        with psycopg.connect(self.database_url) as connection:
            types = self._types(connection, table)
            try:
                with connection.transaction():
                    connection.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ROLE)))
                    if method == "GET":
                        return self._select(connection, table, types, params, handler)
                    if method == "POST":
                        return self._insert(connection, table, types, params, body, prefer)
                    if method == "PATCH":
                        return self._update(connection, table, types, params, body, prefer)
                    return self._delete(connection, table, types, params, prefer)
            except psycopg.Error as exc:
                raise _from_postgres(exc) from None

    def _types(self, connection: psycopg.Connection[Any], table: str) -> dict[str, str]:
        """The table's columns and types (PostgREST's schema cache)."""
        if table not in self._columns:
            rows = connection.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace "
                "AND a.attnum > 0 AND NOT a.attisdropped",
                (table,),
            ).fetchall()
            if not rows:
                raise PostgrestError(
                    404,
                    "PGRST205",
                    f"Could not find the table 'public.{table}' in the schema cache",
                )
            self._columns[table] = {str(name): str(kind) for name, kind in rows}
        return self._columns[table]

    def _column(self, types: dict[str, str], name: str) -> sql.Identifier:
        if name not in types:
            raise PostgrestError(400, "42703", f"column {name} does not exist")
        return sql.Identifier(name)

    def _where(
        self, table: str, types: dict[str, str], params: list[tuple[str, str]]
    ) -> tuple[sql.Composable, list[Any]]:
        clauses: list[sql.Composable] = []
        values: list[Any] = []
        for name, expression in params:
            if name in RESERVED:
                continue
            name, arrow, field_name = name.partition("->>")
            self._column(types, name)
            column: sql.Composable = sql.Identifier(table, name)
            kind = sql.SQL(types[name])
            if arrow:  # a JSON field as text, as PostgREST's `col->>field`
                column = sql.SQL("({} ->> {})").format(column, sql.Literal(field_name))
                kind = sql.SQL("text")
            negate = expression.startswith("not.")
            operator, _, operand = expression.removeprefix("not.").partition(".")
            if operator == "eq":
                clause = sql.SQL("{} = CAST(%s AS {})").format(column, kind)
                values.append(operand)
            elif operator == "in":
                items = [v.strip().strip('"') for v in operand.strip("()").split(",") if v]
                clause = sql.SQL("{} = ANY(CAST(%s AS {}[]))").format(column, kind)
                values.append(items)
            elif operator == "is" and operand in ("null", "true", "false"):
                clause = sql.SQL("{} IS " + operand.upper()).format(column)
            else:
                raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({expression})"')
            clauses.append(sql.SQL("NOT ({})").format(clause) if negate else clause)
        if not clauses:
            return sql.SQL(""), values
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), values

    def _select(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        types: dict[str, str],
        params: list[tuple[str, str]],
        handler: BaseHTTPRequestHandler,
    ) -> tuple[int, Any, dict[str, str]]:
        query = dict(params)
        selected = query.get("select", "*")
        columns: sql.Composable = (
            sql.SQL("*")
            if selected == "*"
            else sql.SQL(", ").join(self._column(types, c) for c in selected.split(","))
        )
        where, values = self._where(table, types, params)
        order: list[sql.Composable] = []
        for term in filter(None, query.get("order", "").split(",")):
            name, _, direction = term.partition(".")
            order.append(
                self._column(types, name) + sql.SQL(" DESC" if direction == "desc" else " ASC")
            )
        offset = int(query.get("offset", 0))
        limit = int(query["limit"]) if "limit" in query else None
        wanted = handler.headers.get("Range")
        if wanted is not None and handler.headers.get("Range-Unit", "items") == "items":
            match = RANGE.match(wanted.strip())
            if match is None:
                raise PostgrestError(416, "PGRST103", "Requested range not satisfiable")
            offset = int(match[1])
            if match[2]:
                limit = int(match[2]) - offset + 1
        limit = self.max_rows if limit is None else min(limit, self.max_rows)
        statement = (
            sql.SQL("SELECT to_jsonb(t) FROM (SELECT {} FROM {}").format(
                columns, sql.Identifier(table)
            )
            + where
            + (sql.SQL(" ORDER BY ") + sql.SQL(", ").join(order) if order else sql.SQL(""))
            + sql.SQL(" LIMIT %s OFFSET %s) t")
        )
        rows = [r[0] for r in connection.execute(statement, [*values, limit, offset]).fetchall()]
        span = f"{offset}-{offset + len(rows) - 1}" if rows else "*"
        total = "*"
        if _prefer(handler.headers.get_all("Prefer") or []).get("count") == "exact":
            counting = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)) + where
            counted = connection.execute(counting, values).fetchone()
            total = str(counted[0] if counted else 0)
        return 200, rows, {"Content-Range": f"{span}/{total}", "Range-Unit": "items"}

    def _insert(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        types: dict[str, str],
        params: list[tuple[str, str]],
        body: Any,
        prefer: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        records = body if isinstance(body, list) else [body]
        if not records or not all(isinstance(r, dict) for r in records):
            raise PostgrestError(400, "PGRST102", "Empty or invalid json")
        query = dict(params)
        names = (
            [n.strip().strip('"') for n in query["columns"].split(",")]
            if "columns" in query
            else list(records[0])
        )
        if any(set(r) != set(records[0]) for r in records):
            raise PostgrestError(400, "PGRST102", "All object keys must match")
        columns = [self._column(types, n) for n in names]
        column_list = sql.SQL(", ").join(columns)
        statement = sql.SQL(
            "INSERT INTO {table} ({columns}) SELECT {columns} "
            "FROM json_populate_recordset(NULL::{table}, %s)"
        ).format(table=sql.Identifier(table), columns=column_list)
        conflict = query.get("on_conflict")
        resolution = prefer.get("resolution")
        if conflict and resolution in ("merge-duplicates", "ignore-duplicates"):
            keys = [self._column(types, k) for k in conflict.split(",")]
            statement += sql.SQL(" ON CONFLICT ({})").format(sql.SQL(", ").join(keys))
            updates = [
                c for n, c in zip(names, columns, strict=True) if n not in conflict.split(",")
            ]
            if resolution == "ignore-duplicates" or not updates:
                statement += sql.SQL(" DO NOTHING")
            else:
                statement += sql.SQL(" DO UPDATE SET ") + sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(c, c) for c in updates
                )
        representation = prefer.get("return") == "representation"
        if representation:
            statement += sql.SQL(" RETURNING to_jsonb({}.*)").format(sql.Identifier(table))
        cursor = connection.execute(statement, [json.dumps(records)])
        rows = [r[0] for r in cursor.fetchall()] if representation else None
        return 201, rows, {}

    def _update(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        types: dict[str, str],
        params: list[tuple[str, str]],
        body: Any,
        prefer: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not body:
            raise PostgrestError(400, "PGRST102", "Empty or invalid json")
        where, values = self._where(table, types, params)
        names = list(body)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = r.{}").format(self._column(types, n), sql.Identifier(n)) for n in names
        )
        statement = (
            sql.SQL("UPDATE {} SET {} FROM json_populate_record(NULL::{}, %s) r").format(
                sql.Identifier(table), assignments, sql.Identifier(table)
            )
            + where
        )
        cursor = connection.execute(statement, [json.dumps(body), *values])
        return 204, None, _count_header(prefer, cursor.rowcount)

    def _delete(
        self,
        connection: psycopg.Connection[Any],
        table: str,
        types: dict[str, str],
        params: list[tuple[str, str]],
        prefer: dict[str, str],
    ) -> tuple[int, Any, dict[str, str]]:
        if all(name in RESERVED for name, _ in params):
            raise PostgrestError(400, "21000", "DELETE requires a WHERE clause")
        where, values = self._where(table, types, params)
        statement = sql.SQL("DELETE FROM {}").format(sql.Identifier(table)) + where
        cursor = connection.execute(statement, values)
        return 204, None, _count_header(prefer, cursor.rowcount)


def _prefer(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        for token in value.split(","):
            name, _, setting = token.strip().partition("=")
            if name:
                out[name] = setting
    return out


def _count_header(prefer: dict[str, str], rowcount: int) -> dict[str, str]:
    return {"Content-Range": f"*/{rowcount}"} if prefer.get("count") == "exact" else {}


def _from_postgres(exc: psycopg.Error) -> PostgrestError:
    diag = exc.diag
    code = diag.sqlstate or "XX000"
    status = STATUS_BY_SQLSTATE.get(code, 400 if code.startswith("22") else 500)
    if isinstance(exc, errors.InsufficientPrivilege):
        status = 403
    return PostgrestError(
        status, code, diag.message_primary or str(exc), diag.message_detail, diag.message_hint
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
