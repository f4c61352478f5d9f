"""The status page: what the worker is doing, at a glance (`/`, `/status.json`, `rei-sync status`).

Read-only by construction: the queries only select, the page has no form and
no script, and nothing here holds a token, a key or a secret (a token's
fingerprint at most). Layers, each in its own module:

- `model`: the raw inputs (token statuses, jobs, run rows, rejects, leases);
- `queries`: named SQL with bound parameters that load the database part;
- `view`: pure functions from the inputs to what each state renders as;
- `sparkline`, `page`: inline SVG and the server-rendered HTML;
- `source`: gathers a snapshot from a running daemon (or the CLI's parts);
- `commands`: `rei-sync status`, the same picture as rich tables.
"""
