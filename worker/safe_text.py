"""Untrusted text (anything that came from the API: error messages, reject reasons, source
ids, record values) made safe to show in a terminal.

Two dangers: rich would parse `[bold]`/`[link=…]` markup and `:skull:` emoji codes in a
plain string (and crash on `[/bold]`), and the terminal itself obeys control characters
(`ESC[2K` erases a line, so a failure can be made to look like a forged success line;
bidi overrides reorder what is shown). So every such value is shown as a `rich.text.Text`
(never parsed for markup or emoji; `worker.cli.terminal.safe`) of `visible(value)`,
whose control characters, C1 controls and bidi controls are replaced by visible
escapes (`\\x1b`, `\\u202e`). Newlines too: one value is one line, and a multi-line
reason is shown whole instead of cut to its first line.
"""

from __future__ import annotations

import re

UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
"""C0 and C1 controls, DEL, zero-width and bidi formatting characters, line/paragraph
separators, BOM and interlinear annotation marks."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object) -> str:
    """`value` as text whose every control/bidi character is a visible escape."""
    return UNSAFE.sub(_escape, str(value))
