"""Printing shared by the benchmark scripts (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

from collections.abc import Sequence


def say(text: str = "") -> None:
    print(text, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(r: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

    say(line(headers))
    say(line(["-" * w for w in widths]))
    for r in cells:
        say(line(r))
