"""The HTML report of an audit bundle's verification (``tdsl audit verify``): what a
regulator reads, rendered from a ``ledger.bundle_report.BundleReport``.

- ``render_report_html``: one self-contained HTML file (template ``audit-report.html``):
  the verdict banner, the findings table (violations first), the per-kind counts, a
  timeline chart, the checks done and the bundle's identity.

Choices:

- The file works alone, printed, mailed or archived: the stylesheet is inline, there is
  no script, no font, image or link to another site. Only system fonts are named.
- Jinja autoescaping is on with ``StrictUndefined`` (as in ``ledger.web.page``): every
  value of the report, messages included, is data and is escaped.
- The timeline is an inline SVG laid out here (``timeline_chart``) as typed geometry; the
  template only draws it. Bars share one integer scale rounded up to 1, 2 or 5 × 10ⁿ (an
  empty or all-zero timeline gets the scale 0–1, never a division by zero). Violations are
  a red part of their bucket's bar, at least 2 units tall, with a red marker above it, so a
  single violation among thousands of records still shows. The chart has a ``<title>``
  and a ``<desc>`` that say in words what it shows, and the buckets are also a table.
- Times are shown in UTC as ``YYYY-MM-DD HH:MM[:SS] UTC`` (unambiguous in any country),
  with the RFC 3339 value in ``<time datetime>``; a value that does not parse is shown as
  it is. Severity is a text label as well as a colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from ledger.bundle_report import SEVERITY_ORDER, BundleReport, Head, Severity, TimelineBucket

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "audit-report.html"

#: The chart's coordinate system (SVG user units): the plot is [LEFT, RIGHT] × [TOP, BASE].
WIDTH, HEIGHT = 640, 250
LEFT, RIGHT, TOP, BASE = 52, 628, 18, 212
MAX_BAR = 40  # a bar's widest, when there are few buckets
MIN_VIOLATION = 2  # the red part of a bar with any violation is at least this tall
EDGE = 28  # a date label this close to an end of the plot is aligned with that end
LISTED_VIOLATIONS = 8  # buckets with violations named in the chart's description


# -- values --------------------------------------------------------------------------------


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime, or None if it does not parse."""
    try:
        t = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _format(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC" if t.second else "%Y-%m-%d %H:%M UTC")


def when(value: str) -> str:
    """An RFC 3339 time for people: ``2024-03-01 09:30 UTC``; as given if it does not parse."""
    t = parse_time(value)
    return value if t is None else _format(t)


def block_time(head: Head) -> str | None:
    """The anchor block's time for people, or None if the head has none."""
    if head.timestamp is None:
        return None
    return datetime.fromtimestamp(head.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def block_time_iso(head: Head) -> str | None:
    if head.timestamp is None:
        return None
    return datetime.fromtimestamp(head.timestamp, UTC).isoformat().replace("+00:00", "Z")


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 failure``, ``3 failures``; ``words`` for an irregular plural (``entries``)."""
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


def breakable(name: str) -> Markup:
    """``name`` escaped, with a line break allowed after each ``.`` and ``_`` (``access_event``
    may wrap in a narrow table cell, not in the middle of a word)."""
    return Markup(str(escape(name)).replace(".", ".<wbr>").replace("_", "_<wbr>"))


def compact(n: int) -> str:
    """A count for an axis: ``950``, ``1.5k``, ``20k``, ``1.2M``."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)


def verdict(report: BundleReport) -> str:
    """``Clean``, or ``3 violations, 1 failure, 0 findings``."""
    if report.clean:
        return "Clean"
    counts = ((Severity.VIOLATION, "violation"), (Severity.FAILURE, "failure"), (Severity.FINDING, "finding"))
    return ", ".join(plural(report.count(s), word) for s, word in counts)


# -- the timeline chart --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket: its records bar and the violations part of it (``v_height`` 0 if none)."""

    bucket: TimelineBucket
    x: float
    width: float
    y: float
    height: float
    v_y: float
    v_height: float
    mark: str  # path of the marker above a bar with violations, else ""
    label: str  # the bar's tooltip and its words in the description


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # x for a date, y for a count
    label: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    title: str
    summary: str  # in words: the buckets, the totals, the busiest bucket
    flagged: str  # in words: the buckets with violations (the first few), or ""
    bucket_span: str  # how long the first bucket is, in words: "18 hours"
    records: int
    violations: int


def _step(maximum: int, most: int = 6) -> int:
    """The smallest step of 1, 2 or 5 × 10ⁿ of which ``most`` reach ``maximum``."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if m * magnitude * most >= maximum:
                return m * magnitude
        magnitude *= 10


_TIME_STEPS = (*(timedelta(minutes=m) for m in (1, 5, 10, 15, 30)), *(timedelta(hours=h) for h in (1, 2, 3, 6, 12)),
               *(timedelta(days=d) for d in (1, 2, 7, 14, 28, 91, 182, 364)))  # fmt: skip


def _time_ticks(t0: datetime, t1: datetime, most: int = 6) -> list[datetime]:
    """Round times in ``[t0, t1]``, at most ``most`` + 1: every few minutes or hours from
    midnight, or every few days from the first midnight."""
    span = t1 - t0
    longest = _TIME_STEPS[-1]
    step = next((s for s in _TIME_STEPS if span <= s * most), longest * math.ceil(span / (longest * most)))
    t = t0.replace(hour=0, minute=0, second=0, microsecond=0)
    while t < t0:
        t += min(step, timedelta(days=1))
    ticks = []
    while t <= t1:
        ticks.append(t)
        t += step
    return ticks


def _moment(t: datetime, *, hours: bool, year: bool) -> str:
    """``7 Mar``, ``7 Mar 2025``, ``7 Mar 06:00``."""
    return f"{t.day} {t:%b}" + (f" {t:%Y}" if year else "") + (f" {t:%H:%M}" if hours else "")


def timeline_chart(timeline: list[TimelineBucket]) -> Chart | None:
    """The chart of ``timeline``, or None for an empty one. Bars are spaced by bucket (the
    buckets are taken to be of one length); date ticks by time over the whole timeline."""
    n = len(timeline)
    if n == 0:
        return None
    times = [parse_time(x) for b in timeline for x in (b.start, b.end)]
    t0, t1 = times[0], times[-1]
    year = bool(t0 and t1 and t0.year != t1.year)
    midnights = all(t is not None and t.time() == time(0) for t in times)

    def label(raw: str) -> str:
        t = parse_time(raw)
        return raw if t is None else _moment(t, hours=not midnights, year=year)

    top = max(max(b.records, b.violations) for b in timeline)
    step = _step(top)
    scale_top = max(step, math.ceil(top / step) * step)
    plot_h, slot = BASE - TOP, (RIGHT - LEFT) / n
    width = min(slot * (0.8 if slot >= 4 else 0.9), MAX_BAR)

    bars = []
    for i, b in enumerate(timeline):
        h = b.records / scale_top * plot_h
        vh = 0.0 if b.violations <= 0 else max(b.violations / scale_top * plot_h, MIN_VIOLATION)
        words = f"{label(b.start)} to {label(b.end)}: {plural(b.records, 'record')}"
        if b.violations:
            words += f", {plural(b.violations, 'violation')}"
        x = LEFT + i * slot + (slot - width) / 2
        mark = ""
        if b.violations:
            cx, half, tip = x + width / 2, max(width / 2, 3.5), BASE - max(h, vh) - 2
            mark = f"M{cx - half:.2f} {tip - 7:.2f}H{cx + half:.2f}L{cx:.2f} {tip:.2f}Z"
        bars.append(Bar(b, round(x, 2), round(width, 2), round(BASE - h, 2), round(h, 2),
                        round(BASE - vh, 2), round(vh, 2), mark, words))  # fmt: skip

    y_ticks = tuple(Tick(round(BASE - v / scale_top * plot_h, 2), compact(v), "end")
                    for v in range(0, scale_top + 1, step))  # fmt: skip
    x_ticks = []
    if t0 is not None and t1 is not None and t1 > t0:
        ticks = _time_ticks(t0, t1)
        hours = len(ticks) > 1 and ticks[1] - ticks[0] < timedelta(days=1)
        for t in ticks:
            x = LEFT + (t - t0) / (t1 - t0) * (RIGHT - LEFT)
            anchor = "start" if x - LEFT < EDGE else "end" if RIGHT - x < EDGE else "middle"
            x_ticks.append(Tick(round(x, 2), _moment(t, hours=hours, year=year), anchor))

    records, violations = sum(b.records for b in timeline), sum(b.violations for b in timeline)
    summary = (f"{plural(n, 'bucket')} from {label(timeline[0].start)} to {label(timeline[-1].end)}: "
               f"{plural(records, 'record')}, {plural(violations, 'violation')}.")  # fmt: skip
    if records and n > 1:
        summary += f" Busiest: {max(bars, key=lambda bar: bar.bucket.records).label}."
    flagged = [bar.label for bar in bars if bar.bucket.violations]
    flagged_text = ""
    if flagged:
        more = len(flagged) - LISTED_VIOLATIONS
        flagged_text = (f"Violations in {plural(len(flagged), 'bucket')}: {'; '.join(flagged[:LISTED_VIOLATIONS])}"
                        + (f"; and {more} more." if more > 0 else "."))  # fmt: skip
    return Chart(tuple(bars), y_ticks, tuple(x_ticks), "Records and violations over the period", summary,
                 flagged_text, _duration(timeline[0]), records, violations)  # fmt: skip


def _duration(bucket: TimelineBucket) -> str:
    """How long ``bucket`` is, in words (``1 day``, ``18 hours``, ``30 minutes``), or ""."""
    start, end = parse_time(bucket.start), parse_time(bucket.end)
    if start is None or end is None or end <= start:
        return ""
    seconds = (end - start).total_seconds()
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            amount = seconds / length
            return plural(int(amount), unit) if amount.is_integer() else f"{amount:.1f} {unit}s"
    return plural(int(seconds), "second")


# -- the page ------------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)  # fmt: skip


def render_report_html(report: BundleReport) -> str:
    """``report`` as one self-contained HTML page (no script, no external resource)."""
    findings = report.ordered_findings()
    return _environment().get_template(TEMPLATE).render(
        r=report, findings=findings, verdict=verdict(report), chart=timeline_chart(report.timeline),
        counts=[(s, report.count(s)) for s in SEVERITY_ORDER], notices=report.count(Severity.NOTICE),
        when=when, breakable=breakable, block_time=block_time, block_time_iso=block_time_iso, plural=plural,
        totals=(sum(k.entries for k in report.kinds), sum(k.in_scope for k in report.kinds),
                sum(k.recomputed for k in report.kinds), sum(k.violations for k in report.kinds)),
        width=WIDTH, height=HEIGHT, left=LEFT, right=RIGHT, top=TOP, base=BASE,
    )  # fmt: skip
