"""The status page as one server-rendered HTML document: no script, no external asset.

Semantic HTML (header, main, sections, tables with captions and scoped
headers), inline CSS and inline SVG; `<meta http-equiv="refresh">` reloads it
every 30 s. Below 40 rem the tables become stacked label/value blocks, so the
page reads at 360 px wide without sideways scrolling. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from worker.status import format as fmt
from worker.status.sparkline import sparkline
from worker.status.view import Badge, BrandView, JobView, StatusView, TokenView

REFRESH_SECONDS = 30

CSS = """
:root{--ok:#1b6e33;--ok-bg:#e3f4e8;--warn:#7a4b00;--warn-bg:#fff1d6;--bad:#9b1c1c;
--bad-bg:#fde4e4;--idle:#3d4a5c;--idle-bg:#e8ecf1;--line:#c9d1db;--muted:#4d5866}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#14181f;background:#f6f7f9}
header,main,footer{max-width:75rem;margin:0 auto;padding:0 1rem}
h1{font-size:1.5rem;margin:1rem 0 .25rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
h3{font-size:1.1rem;margin:0 0 .5rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.meta{color:var(--muted);margin:.25rem 0;overflow-wrap:anywhere}
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1rem;
margin:0 0 1rem}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-weight:600;
font-size:.9rem;border:1px solid currentColor}
.ok{color:var(--ok);background:var(--ok-bg)}
.warn{color:var(--warn);background:var(--warn-bg)}
.bad{color:var(--bad);background:var(--bad-bg)}
.idle{color:var(--idle);background:var(--idle-bg)}
dl.token{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:0 0 1rem}
dl.token dt{color:var(--muted)}
dl.token dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);
vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td time{white-space:nowrap}
.error{color:var(--bad);overflow-wrap:anywhere}
.none{color:var(--muted)}
.note{color:var(--warn);font-size:.9rem;overflow-wrap:anywhere}
svg.spark{display:block}
svg.spark .frame{fill:#fff;stroke:var(--line)}
svg.spark .duration{stroke:#1f4e99;stroke-width:1.6;fill:none}
svg.spark circle.duration{fill:#1f4e99}
svg.spark .changes{stroke:#8a5a00;stroke-width:1.3;stroke-dasharray:3 2;fill:none}
svg.spark circle.changes{fill:#8a5a00;stroke:none}
svg.spark .fail{stroke:var(--bad);stroke-width:1.6}
.legend{color:var(--muted);font-size:.85rem}
footer{color:var(--muted);font-size:.9rem;padding-bottom:2rem}
@media (max-width:40rem){
table,caption,thead,tbody,tr,th,td{display:block;width:auto}
thead tr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
tr{border:1px solid var(--line);border-radius:.4rem;margin:0 0 .6rem;padding:.25rem .5rem}
tbody th{border:0;font-size:1.05rem}
td{border:0;display:grid;grid-template-columns:8.5rem 1fr;gap:.5rem;padding:.15rem 0}
td.n{text-align:left}
td::before{content:attr(data-label);color:var(--muted)}
}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def badge(b: Badge) -> str:
    return f'<span class="badge {b.tone}" title="{_e(b.description)}">{_e(b.label)}</span>'


def _time(at: float | None, text: str) -> str:
    stamp = fmt.iso(at)
    if stamp is None:
        return f'<span class="none">{_e(text)}</span>'
    return f'<time datetime="{stamp}" title="{_e(fmt.clock_time(at))}">{_e(text)}</time>'


def _cell(label: str, content: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<td data-label="{_e(label)}"{klass}><span>{content}</span></td>'


def _row(head: str, *cells: str) -> str:
    """A table row: its header cell (already HTML), then its cells."""
    return f'<tr><th scope="row">{head}</th>{"".join(cells)}</tr>'


def _section(ident: str, title: str, body: str) -> str:
    return f'<section aria-labelledby="{ident}"><h2 id="{ident}">{_e(title)}</h2>{body}</section>'


def token_block(brand: str, token: TokenView | None) -> str:
    if token is None:
        return '<p class="none">No token manager for this brand here.</p>'
    rows = [
        ("Token", badge(token.state) + f" <span>{_e(token.state.description)}</span>"),
        ("Expires", _time(token.expires_at, token.expires_in)),
        ("Renews", _time(token.refresh_at, token.renews_in)),
        ("Fingerprint", _e(token.fingerprint or fmt.NOTHING)),
    ]
    if token.last_error:
        rows.append(("Last error", f'<span class="error">{_e(token.last_error)}</span>'))
    if token.retry_in:
        rows.append(("Next attempt", _e(token.retry_in)))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<dl class="token" aria-label="{_e(brand)} token">{body}</dl>'


COUNT_LABELS = ("Seen", "Inserted", "Updated", "Unchanged", "Rejected", "Delisted")
JOB_HEADERS = ("Entity", "Last run", "When", "Duration", *COUNT_LABELS, "Next run", "Last 20")


def job_row(job: JobView) -> str:
    last = job.last
    status = badge(job.status)
    if last is not None and last.error:
        status += f'<div class="error">{_e(last.error)}</div>'
    if last is not None:
        status += "".join(f'<div class="note">{_e(note)}</div>' for note in last.notes)
    if last is not None and last.fields:
        status += f'<div class="fields">fields: {_e(last.fields)}</div>'
    cells = [f'<th scope="row">{_e(job.entity)}</th>', _cell("Last run", status)]
    if last is None:
        cells += [_cell("When", _time(None, fmt.NOTHING)), _cell("Duration", fmt.NOTHING)]
        cells += [_cell(label, fmt.NOTHING, "n") for label in COUNT_LABELS]
    else:
        cells += [
            _cell("When", _time(last.started_at, last.started_ago)),
            _cell("Duration", _e(last.duration), "n"),
        ]
        c = last.counts
        values = (c.seen, c.inserted, c.updated, c.unchanged, c.rejected, c.delisted)
        cells += [_cell(label, str(v), "n") for label, v in zip(COUNT_LABELS, values, strict=True)]
    schedule = f' <span class="none">({_e(job.schedule)})</span>' if job.schedule else ""
    cells.append(_cell("Next run", _time(job.next_run_at, job.next_run) + schedule))
    cells.append(_cell("Last 20", sparkline(job.history)))
    return f"<tr>{''.join(cells)}</tr>"


def _table(caption: str, headers: Iterable[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="none">{_e(empty)}</p>'
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    return (
        f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def brand_card(brand: BrandView) -> str:
    ident = f"brand-{_e(brand.brand)}"
    jobs = _table(
        f"{brand.brand}: sync jobs",
        JOB_HEADERS,
        [job_row(j) for j in brand.jobs],
        "No sync job scheduled and no run recorded.",
    )
    return (
        f'<article class="card" aria-labelledby="{ident}">'
        f'<h3 id="{ident}">{_e(brand.brand)} {badge(brand.summary)}</h3>'
        f"{token_block(brand.brand, brand.token)}{jobs}</article>"
    )


def leases_section(view: StatusView) -> str:
    rows = []
    for lease in view.leases:
        mine = " (this replica)" if lease.mine else ""
        rows.append(
            _row(
                _e(lease.job),
                _cell("Holder", _e(lease.holder + mine)),
                _cell("Held for", _e(lease.held_for)),
                _cell("Expires", _e(lease.expires_in)),
            )
        )
    table = _table(
        "Job leases held now",
        ("Job", "Holder", "Held for", "Expires"),
        rows,
        "No lease is held now.",
    )
    return _section("leases", "Leases", table)


def rejects_section(view: StatusView) -> str:
    rows = [
        _row(
            _time(r.at, r.ago),
            _cell("Brand", _e(r.brand)),
            _cell("Entity", _e(r.entity)),
            _cell("Source id", _e(r.source_id)),
            _cell("Reason", _e(r.reason)),
            _cell("Run", _e(r.run_id), "n"),
        )
        for r in view.rejects
    ]
    table = _table(
        "Latest rejected records (reasons only, never their content)",
        ("When", "Brand", "Entity", "Source id", "Reason", "Run"),
        rows,
        "No rejected record.",
    )
    return _section("rejects", "Rejects", table)


def changes_section(view: StatusView) -> str:
    rows = [
        _row(
            _time(c.at, c.ago),
            _cell("Brand", _e(c.brand)),
            _cell("Kind", _e(c.kind)),
            _cell("Id", _e(f"{c.entity} {c.source_id}")),
            _cell("Change", _e(c.summary)),
            _cell("Run", _e(c.run_id or "—"), "n"),
        )
        for c in view.changes
    ]
    table = _table(
        "Latest changes of each brand (the change feed)",
        ("When", "Brand", "Kind", "Id", "Change", "Run"),
        rows,
        "No change recorded.",
    )
    subscribers = [
        _row(
            _e(s.name),
            _cell("State", badge(s.state)),
            _cell("Pending", _e(s.pending), "n"),
            _cell("Failures", _e(s.failures), "n"),
            _cell("Last delivery", _e(s.last_ok)),
            _cell("Last error", _e(s.last_error)),
        )
        for s in view.subscribers
    ]
    hooks = _table(
        "Webhook subscribers",
        ("Subscriber", "State", "Pending", "Failures", "Last delivery", "Last error"),
        subscribers,
        "No webhook subscriber.",
    )
    return _section("changes", "Changes", table + hooks)


LEGEND = (
    '<p class="legend">Last 20: solid line = duration, dashed line = rows changed '
    "(inserted + updated + delisted), × = failed run; oldest on the left.</p>"
)


def render_html(view: StatusView) -> str:
    holder = f" · replica <code>{_e(view.holder)}</code>" if view.holder else ""
    db = (
        f'<p class="error" role="alert">{_e(view.database_error)}</p>'
        if view.database_error
        else ""
    )
    cards = (
        "".join(brand_card(b) for b in view.brands) or '<p class="none">No brand configured.</p>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<link rel="icon" href="data:,">'
        f"<title>rei-sync status: {_e(view.overall.label)}</title>"
        f"<style>{CSS}</style></head><body>"
        "<header><h1>rei-sync status</h1>"
        f'<p class="meta">Overall: {badge(view.overall)} · as of '
        f"{_time(view.generated_at, view.generated)}{holder}</p>"
        f'<p class="meta">Read-only; reloads every {REFRESH_SECONDS} s. '
        "Times are relative to the page's generation.</p></header><main>"
        f"{db}{_section('brands', 'Brands', LEGEND + cards)}{changes_section(view)}"
        f"{leases_section(view)}"
        f"{rejects_section(view)}</main>"
        "<footer><p>Operational data only: states, times, counts and token fingerprints. "
        "No token, key, secret or record content is shown. Sync runs are started from the "
        "CLI, never from this page.</p></footer></body></html>"
    )
