"""`rei-sync sandbox`: start the REI API CCA emulator, print the brands' env lines, serve."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from worker.sandbox.config import (
    IMAGE_FAILURE_MODES,
    REMOVED_LISTINGS,
    RETRY_AFTER_FORMATS,
    STANDARD_STATUS_IDS,
    ImageFailureMode,
    OutageMode,
    RemovedListings,
    RetryAfterFormat,
    SandboxConfig,
    TokenOutage,
)

_OUTAGE_MODES: dict[str, OutageMode] = {"5xx": "5xx", "refuse": "refuse"}
_RETRY_AFTER_FORMATS: dict[str, RetryAfterFormat] = {f: f for f in RETRY_AFTER_FORMATS}
_IMAGE_FAILURE_MODES: dict[str, ImageFailureMode] = {m: m for m in IMAGE_FAILURE_MODES}
_REMOVED_LISTINGS: dict[str, RemovedListings] = {m: m for m in REMOVED_LISTINGS}
_DEFAULT_STATUS_IDS = ",".join(map(str, STANDARD_STATUS_IDS))


def sandbox_command(
    seed: Annotated[int, typer.Option(help="Seed for all generated data and keys.")] = 7,
    listings: Annotated[int, typer.Option(help="Listings per brand (1,000,000 is fine).")] = 200,
    associates: Annotated[int, typer.Option(help="Associates (agents) per brand.")] = 30,
    images_per_listing: Annotated[int, typer.Option(help="Mean images per listing.")] = 3,
    token_ttl: Annotated[int, typer.Option(help="Token lifetime in seconds (expires_in).")] = 86399,
    max_take: Annotated[int, typer.Option(help="Largest page size accepted by take.")] = 1000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8765,
    brand: Annotated[
        list[str] | None,
        typer.Option(help="Brand key to seed (repeatable). Default: AZURA and BLUE_OCEAN."),
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Share of API requests answered 5xx.")] = 0.0,
    error_status: Annotated[
        list[int] | None, typer.Option(help="5xx status to draw from (repeatable; 500/502/503).")
    ] = None,
    reset_rate: Annotated[float, typer.Option(help="Share of API requests reset (RST).")] = 0.0,
    stall_rate: Annotated[float, typer.Option(help="Share of API requests that stall.")] = 0.0,
    stall_seconds: Annotated[float, typer.Option(help="How long a stall lasts.")] = 35.0,
    rate_limit_rate: Annotated[
        float, typer.Option(help="Share of API requests answered 429 + Retry-After.")
    ] = 0.0,
    retry_after_seconds: Annotated[
        int, typer.Option(help="Retry-After on 429 (seconds, or now + that as an HTTP-date).")
    ] = 1,
    malformed_rate: Annotated[
        float, typer.Option(help="Share of list/detail answers with malformed records.")
    ] = 0.0,
    html_page_rate: Annotated[
        float, typer.Option(help="Share of API requests answered 200 with an HTML page.")
    ] = 0.0,
    latency_ms: Annotated[float, typer.Option(help="Fixed latency added to API requests.")] = 0.0,
    latency_jitter_ms: Annotated[
        float, typer.Option(help="Extra random latency (0..jitter) per API request.")
    ] = 0.0,
    token_latency_seconds: Annotated[
        float, typer.Option(help="Delay before the token endpoint answers.")
    ] = 0.0,
    token_outage_mode: Annotated[
        str | None, typer.Option(help="Token endpoint outage at start: '5xx' or 'refuse'.")
    ] = None,
    token_outage_seconds: Annotated[
        float, typer.Option(help="Length of that outage (sandbox clock).")
    ] = 60.0,
    drift: Annotated[
        bool, typer.Option(help="Insert new listings at the front between page requests.")
    ] = False,
    drift_inserts: Annotated[int, typer.Option(help="Listings inserted per drifting request.")] = 1,
    fault_seed: Annotated[int, typer.Option(help="Seed of the fault decisions.")] = 1,
    token_max_requests: Annotated[
        int, typer.Option(help="Revoke every token after this many API requests (0 = never).")
    ] = 0,
    key_rotation_every_requests: Annotated[
        int,
        typer.Option(help="Every n-th API request voids every token issued so far (0 = never)."),
    ] = 0,
    retry_after_format: Annotated[
        str, typer.Option(help="Retry-After as 'seconds' or as an 'http-date'.")
    ] = "seconds",
    retry_after_on_503: Annotated[
        bool, typer.Option(help="503 answers carry Retry-After too (429 always does).")
    ] = False,
    page_cap: Annotated[
        int, typer.Option(help="List pages answer at most N records whatever take asked (0: off).")
    ] = 0,
    take_limit: Annotated[
        int,
        typer.Option(help="A take above N is answered with the invalid-request 404 (0: off)."),
    ] = 0,
    truncated_rate: Annotated[
        float, typer.Option(help="Share of API 200 answers whose JSON body is cut short.")
    ] = 0.0,
    failing_offset: Annotated[
        list[int] | None,
        typer.Option(help="A list page covering this offset always answers 500 (repeatable)."),
    ] = None,
    failing_images_rate: Annotated[
        float, typer.Option(help="Share of listings whose images always fail (by id and seed).")
    ] = 0.0,
    failing_images_id: Annotated[
        list[int] | None, typer.Option(help="A listing whose images always fail (repeatable).")
    ] = None,
    failing_images_mode: Annotated[
        str,
        typer.Option(
            help="How they fail: '500', 'not_json' (200, cut-off body) or "
            "'model_state_404' (the invalid-request 404)."
        ),
    ] = "500",
    status_ids: Annotated[
        str,
        typer.Option(
            help="Ids of the 7 standard statuses (Coming Soon, Active, Active Under Contract, "
            "Pending, Sold, Expired, Cancelled), comma-separated."
        ),
    ] = _DEFAULT_STATUS_IDS,
    removed_listings: Annotated[
        str,
        typer.Option(
            help="GetPropertyDetails of a removed listing: 'not_found' (404) or "
            "'offline_status' (200, status Sold/Expired/Cancelled)."
        ),
    ] = "not_found",
) -> None:
    """Run the REI API CCA sandbox: seeded brands, real quirks, fault and churn knobs.

    Prints REMAX_<BRAND>_* lines for `.env`, then serves until Ctrl-C. Knobs can be
    changed at run time through the admin API under /_sandbox/ (see docs/SANDBOX.md).
    """
    from worker.sandbox.server import SandboxServer

    outage: TokenOutage | None = None
    if token_outage_mode is not None:
        mode = _OUTAGE_MODES.get(token_outage_mode)
        if mode is None:
            raise typer.BadParameter("must be '5xx' or 'refuse'", param_hint="--token-outage-mode")
        outage = TokenOutage(mode=mode, seconds=token_outage_seconds)
    retry_format = _RETRY_AFTER_FORMATS.get(retry_after_format)
    if retry_format is None:
        raise typer.BadParameter(
            "must be 'seconds' or 'http-date'", param_hint="--retry-after-format"
        )
    image_mode = _IMAGE_FAILURE_MODES.get(failing_images_mode)
    if image_mode is None:
        raise typer.BadParameter(
            "must be " + ", ".join(f"'{m}'" for m in IMAGE_FAILURE_MODES),
            param_hint="--failing-images-mode",
        )
    removed = _REMOVED_LISTINGS.get(removed_listings)
    if removed is None:
        raise typer.BadParameter(
            "must be " + ", ".join(f"'{m}'" for m in REMOVED_LISTINGS),
            param_hint="--removed-listings",
        )
    try:
        statuses = tuple(int(part) for part in status_ids.split(","))
    except ValueError:
        raise typer.BadParameter("must be 7 integers", param_hint="--status-ids") from None
    try:
        config = SandboxConfig(
            seed=seed,
            listings=listings,
            associates=associates,
            images_per_listing=images_per_listing,
            token_ttl=token_ttl,
            max_take=max_take,
            host=host,
            port=port,
            brands=tuple(b.upper() for b in brand) if brand else SandboxConfig.brands,
            error_rate=error_rate,
            error_statuses=tuple(error_status) if error_status else SandboxConfig.error_statuses,
            reset_rate=reset_rate,
            stall_rate=stall_rate,
            stall_seconds=stall_seconds,
            rate_limit_rate=rate_limit_rate,
            retry_after_seconds=retry_after_seconds,
            malformed_rate=malformed_rate,
            html_page_rate=html_page_rate,
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            token_latency_seconds=token_latency_seconds,
            token_outage=outage,
            drift=drift,
            drift_inserts=drift_inserts,
            fault_seed=fault_seed,
            token_max_requests=token_max_requests,
            key_rotation_every_requests=key_rotation_every_requests,
            retry_after_format=retry_format,
            retry_after_on_503=retry_after_on_503,
            page_cap=page_cap,
            take_limit=take_limit,
            truncated_rate=truncated_rate,
            failing_offsets=tuple(failing_offset or ()),
            failing_images_rate=failing_images_rate,
            failing_images_ids=tuple(failing_images_id or ()),
            failing_images_mode=image_mode,
            status_ids=statuses,
            removed_listings=removed,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stop = threading.Event()
    with SandboxServer(config).start() as server:
        for name, value in server.env().items():
            typer.echo(f"{name}={value}")
        typer.echo(f"# admin API: {server.admin_url}  (Ctrl-C to stop)", err=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            typer.echo("# sandbox stopped", err=True)
