"""Writing views with rich: the console, values as text, tables that stream.

On a terminal the console takes the terminal's width and colours. Anywhere
else (a pipe, a file, a test) it writes no colour codes, is 120 columns wide
(or $COLUMNS), and strips the spaces rich pads lines with. Nothing a user
needs is cut: cells that do not fit wrap (fold) rather than end in "...".
"""
from __future__ import annotations

import os
import sys

from rich import box
from rich.console import Console
from rich.highlighter import ReprHighlighter
from rich.table import Table
from rich.text import Text

from ..store.queries import MISSING

PIPE_WIDTH = 120            # columns when stdout is not a terminal and $COLUMNS is unset
ROWS_PER_TABLE = 200        # a long table is written in pieces of this many rows

_highlight = ReprHighlighter()


class Out:
    """Where a view writes: rich on a terminal, plain text anywhere else."""

    def __init__(self, file=None):
        self.file = file or sys.stdout
        try:
            self.terminal = self.file.isatty()
        except (AttributeError, ValueError):
            self.terminal = False
        width = None
        if not self.terminal:
            columns = os.environ.get("COLUMNS", "")
            width = int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
        self.console = Console(file=self.file, width=width, force_terminal=self.terminal,
                               color_system="auto" if self.terminal else None,
                               markup=False, emoji=False, highlight=False)

    def print(self, *renderables, width: int | None = None) -> None:
        """Renderables, `width` columns wide (default: the console's)."""
        if width is not None and width != self.console.width:
            before, self.console.width = self.console.width, width
            try:
                return self.print(*renderables)
            finally:
                self.console.width = before
        if self.terminal:
            self.console.print(*renderables)
            return
        with self.console.capture() as captured:
            self.console.print(*renderables)
        text = "\n".join(line.rstrip() for line in captured.get().splitlines())
        self.file.write(text + "\n")
        self.file.flush()

    def line(self, text: str) -> None:
        """A plain line (an error, a note): no rendering, no wrapping."""
        self.file.write(text + "\n")
        self.file.flush()


# -- values -----------------------------------------------------------------------------
def value_text(value) -> str:
    """A recorded value (docs/json.md, Values) in full, as Python would show
    it. What the recording itself cut says so ("... 500 items"); an object
    is its repr if recorded, else <its type> (--json has its attributes)."""
    if not isinstance(value, dict):
        return repr(value)
    if value == MISSING:
        return "(unset)"
    if value.get("redacted"):
        return "<redacted>"
    if "repr" in value:
        return value["repr"]
    kind = value.get("type", "?")
    if "items" in value:
        return _container(kind, value)
    if kind == "str" and "value" in value:
        return f"{value['value']!r}... ({value['len']} chars)"
    if kind == "bytes" and "hex" in value:
        more = f"... ({value['len']} bytes)" if "len" in value else ""
        return f"{bytes.fromhex(value['hex'])!r}{more}"
    if "bits" in value:
        return f"<{'-' if value.get('sign') == -1 else ''}int of {value['bits']} bits>"
    if "cycle" in value:
        return f"<{kind}: a cycle>"
    if "error" in value:
        return f"<{kind}: not recorded: {value['error']}>"
    if "len" in value:
        return f"<{kind} of {value['len']} items>"
    return f"<{kind}>"


def _container(kind: str, value: dict) -> str:
    items = value["items"]
    # a mapping's items are [key, value] pairs (any other item is a recorded value)
    mapping = kind == "dict" or bool(items) and all(
        isinstance(i, list) and len(i) == 2 for i in items)
    if mapping:
        parts = [f"{value_text(k)}: {value_text(v)}" for k, v in items]
    elif "fields" in value:
        parts = [f"{f}={value_text(v)}" for f, v in zip(value["fields"], items)]
    else:
        parts = [value_text(v) for v in items]
    if "len" in value:
        parts.append(f"... {value['len']} items")
    inner = ", ".join(parts)
    if "fields" in value:                       # a namedtuple
        return f"{kind.rsplit('.', 1)[-1]}({inner})"
    if kind == "list":
        return f"[{inner}]"
    if kind == "tuple":
        return f"({inner},)" if len(parts) == 1 else f"({inner})"
    if kind == "dict" or (kind == "set" and parts):
        return "{" + inner + "}"
    if not parts:
        return f"{kind}()"
    if mapping or kind.endswith("set"):
        return f"{kind}({{{inner}}})"
    return f"{kind}([{inner}])"                 # a subclass of list, tuple or set


def value(v) -> Text:
    """A value, coloured on a terminal the way Python's repr is."""
    return highlighted(value_text(v))


def highlighted(text: str) -> Text:
    return _highlight(Text(text))


def seconds(t: float | None) -> str:
    return "" if t is None else f"{t:.6f}"


def duration(ns: int | None) -> str:
    if ns is None:
        return ""
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f} us"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.3f} s"


def where(file: str | None, line: int | None) -> str:
    return f"{os.path.basename(file)}:{line}" if file else ""


# -- tables ---------------------------------------------------------------------------------
# the look of box.SIMPLE_HEAD (a rule under the header, no other lines) in ASCII
ASCII_SIMPLE_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


class Column:
    """A table column: its header, its style, how to justify it, and whether
    it may be narrowed (not numbers: ids and times are never split)."""

    def __init__(self, header: str, style: str = "", justify: str = "left",
                 shrink: bool = True):
        self.header, self.style, self.justify = header, style, justify
        self.shrink = shrink and justify == "left"


def stream_table(out: Out, columns: list[Column], rows: list[tuple],
                 styles: list[str] | None = None) -> None:
    """Rows as a table, written ROWS_PER_TABLE at a time (the first lines
    come out while later ones are being laid out). Every column but the last
    is as wide as its widest cell (narrowed to leave the last one room), so
    the pieces line up; the last takes the rest of the width and wraps.
    `styles`: one per row ("" for none)."""
    if not rows:
        return
    widths = [max([len(column.header)] + [_width(r[i]) for r in rows])
              for i, column in enumerate(columns)]
    gaps, last = 2 * (len(columns) - 1), min(20, widths.pop())
    narrow = [i for i, c in enumerate(columns[:-1]) if c.shrink]
    while sum(widths) + gaps + last > out.console.width and narrow and \
            max(widths[i] for i in narrow) > 6:
        widths[max(narrow, key=lambda i: widths[i])] -= 1
    # too narrow still: wider lines (the terminal wraps them) rather than lose a column
    table_width = max(out.console.width, sum(widths) + gaps + last)
    ascii_only = not out.console.encoding.startswith("utf")
    for start in range(0, len(rows), ROWS_PER_TABLE):
        table = Table(box=ASCII_SIMPLE_HEAD if ascii_only else box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                      show_header=start == 0, header_style="bold")
        for column, column_width in zip(columns, widths + [None]):
            table.add_column(column.header, style=column.style, justify=column.justify,
                             overflow="fold", width=column_width)
        for i in range(start, min(start + ROWS_PER_TABLE, len(rows))):
            table.add_row(*rows[i], style=styles[i] if styles else None)
        out.print(table, width=table_width)


def _width(cell) -> int:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return max((len(line) for line in text.splitlines()), default=0)
