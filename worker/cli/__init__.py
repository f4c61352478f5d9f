"""The command line: the typer app (`app.py`) and one module per command group: `sync`
(sync, backfill, runs), `service` (run, migrate, doctor, demo), `token`, `status`,
`feed` (events, webhooks), `sandbox`, `config`.

Only this package imports typer and rich. Each command parses its arguments, calls
one function of the core and maps its errors to exit codes (`terminal.domain_errors`).
"""
