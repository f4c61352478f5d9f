"""The command line: the typer app and one module per command group.

Only this package imports typer and rich (and the status page renderer, rich). Each
command parses its arguments, calls one function of the core and maps its errors to
exit codes (`terminal.domain_errors`).
"""
