"""What ``tdsl audit verify`` found in an audit bundle: typed values, and their JSON.

Pure: no I/O. ``ledger.bundle_verify`` builds a ``BundleReport``; the CLI writes its
``to_json()`` and the HTML page (``ledger.web.audit_report``).

A ``Finding`` has a severity:

- ``failure``: the bundle does not prove what it claims (a signature, commitment, the
  range, an anchor, a frontier, an inclusion proof, the format). One failure and the
  bundle proves nothing about the records it touches;
- ``violation``: an access event that broke its contract, as the verifier recomputed it;
- ``finding``: something a regulator should look at, proven by the bundle: a derived
  state the ledger reports that differs from the recomputation, backdating, a late
  report, an erased payload, an overdue duty;
- ``notice``: what the verifier could not check, and why (a payload erased before the
  period, a kind it has nothing to recompute for).

Every finding names what it can: record id, leaf index, what was expected, what was found.
The report is ``clean`` when it has no failure, violation or finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from ledger.bundle import z_time

REPORT_TYPE = "tds-ledger/audit-report@1"


class Severity(StrEnum):
    FAILURE = "failure"
    VIOLATION = "violation"
    FINDING = "finding"
    NOTICE = "notice"


#: Order of the findings table: violations first (what a regulator came for), then
#: failures, findings, notices.
SEVERITY_ORDER = (Severity.VIOLATION, Severity.FAILURE, Severity.FINDING, Severity.NOTICE)


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    check: str  # what was checked: "signature", "commitment", "range", "anchor", "state", "backdated", ...
    message: str
    record_id: str | None = None
    leaf_index: int | None = None
    kind: str | None = None
    expected: str | None = None
    found: str | None = None
    at: str | None = None  # the record's issued_at (RFC 3339), for the timeline

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity), "check": self.check, "message": self.message,
            "record_id": self.record_id, "leaf_index": self.leaf_index, "kind": self.kind,
            "expected": self.expected, "found": self.found, "at": self.at,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Head:
    """A checkpoint of the bundle as the verifier found it on chain."""

    tree_size: int
    root: str  # hex
    block_number: int | None = None
    block_hash: str | None = None
    timestamp: int | None = None  # the anchor block's time, seconds since the epoch
    final: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size, "root": self.root, "block_number": self.block_number,
            "block_hash": self.block_hash, "timestamp": self.timestamp, "final": self.final,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class KindCount:
    kind: str
    entries: int  # entries of this kind in the range
    in_scope: int  # of which the bundle's scope selects (payload carried)
    recomputed: int  # derived states recomputed
    violations: int = 0


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Records and violations whose ``issued_at`` falls in ``[start, end)``."""

    start: str  # RFC 3339
    end: str
    records: int
    violations: int


@dataclass
class BundleReport:
    bundle: str  # file name as given
    bundle_sha256: str
    origin: str
    chain_id: int
    contract: str
    since: str
    until: str
    scope: dict[str, str]  # filter name → value, as the bundle states and the verifier applied
    start: Head
    end: Head
    entries: int = 0  # leaves in the range
    in_scope: int = 0
    context: int = 0  # records outside the range carried with inclusion proofs
    kinds: list[KindCount] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    timeline: list[TimelineBucket] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # what was verified, in words, in order
    verified_at: str = ""

    @property
    def clean(self) -> bool:
        return not any(f.severity != Severity.NOTICE for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def ordered_findings(self) -> list[Finding]:
        """Violations first, then failures, findings, notices; each in leaf order."""
        rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
        return sorted(self.findings, key=lambda f: (rank[f.severity], -1 if f.leaf_index is None else f.leaf_index))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": REPORT_TYPE,
            "clean": self.clean,
            "bundle": self.bundle,
            "bundle_sha256": self.bundle_sha256,
            "origin": self.origin,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "period": {"since": self.since, "until": self.until},
            "scope": dict(self.scope),
            "start": self.start.to_json(),
            "end": self.end.to_json(),
            "entries": self.entries,
            "in_scope": self.in_scope,
            "context": self.context,
            "counts": {str(s): self.count(s) for s in SEVERITY_ORDER},
            "kinds": [
                {"kind": k.kind, "entries": k.entries, "in_scope": k.in_scope, "recomputed": k.recomputed,
                 "violations": k.violations}
                for k in self.kinds
            ],  # fmt: skip
            "checks": list(self.checks),
            "findings": [f.to_json() for f in self.ordered_findings()],
            "timeline": [
                {"start": b.start, "end": b.end, "records": b.records, "violations": b.violations} for b in self.timeline
            ],
            "verified_at": self.verified_at,
        }


_TIMELINE_BUCKETS = 48
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timeline(since: datetime, until: datetime, times: list[tuple[datetime, int]], violating: set[int]) -> list[TimelineBucket]:
    """Buckets of records (``(issued_at, leaf index)``) and violations (leaf indexes) over
    the period: at most about 48, of a round width (a minute … a year), starting at the
    period's start floored to the minute, hour or day."""
    span = max((until - since).total_seconds(), 1.0)
    step = _nice_step(span / _TIMELINE_BUCKETS)
    grain = min(step, 86400.0)
    first = _EPOCH + timedelta(seconds=(since - _EPOCH).total_seconds() // grain * grain)
    n = max(1, math.ceil((until - first).total_seconds() / step))
    records, violations = [0] * n, [0] * n
    for issued, idx in times:
        if since <= issued <= until:
            b = min(int((issued - first).total_seconds() // step), n - 1)
            records[b] += 1
            violations[b] += idx in violating
    return [TimelineBucket(z_time(first + timedelta(seconds=k * step)), z_time(first + timedelta(seconds=(k + 1) * step)),
                           records[k], violations[k]) for k in range(n)]  # fmt: skip


def _nice_step(seconds: float) -> float:
    for step in (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400):
        if seconds <= step:
            return float(step)
    return float(365 * 86400 * (int(seconds // (365 * 86400)) + 1))
