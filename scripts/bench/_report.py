"""Printing shared by the benchmark scripts (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


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


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_ticks() -> tuple[int, int] | None:
    """(total, steal) jiffies of all CPUs from /proc/stat (Linux), or None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))]
