"""The audit bundle verifier's recomputation of derived state (DESIGN §8, §11).

``StateJudge`` is fed the bundle's records in leaf order (``step``) by
``ledger.bundle_verify``, which has already checked that they are genuine (range,
inclusion, signature, commitment). It replays the records that come with their payload
through the kinds' own admission checks (``ledger.derive.Replay``), with parents and
references resolved from the bundle alone, then (``judge``) compares each recomputed
state with the ledger's and flags what the recomputation itself shows: a violation, an
undetermined verdict, a late report, an overdue duty (as of the end anchor's block time).

It also checks that nothing the recomputation depends on was withheld
(``check_not_withheld``): a record without payload that would change the state of a
carried one is a failure, whatever the scope says.

Pure: no I/O; findings go to the ``add`` callable the verifier passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.bundle import Record
from ledger.bundle_report import BundleReport, Severity
from ledger.canonical import parse_json
from ledger.derive import Replay
from ledger.effects import UNIQUE_TERMS, DerivedState
from ledger.envelope import Envelope
from ledger.errors import MalformedInput
from ledger.odrl import duties
from ledger.store.values import StoredEntry

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: (kind, parent kind): a record of the kind changes its parent's derived state (ledger.kinds), so
#: when the parent is carried (its state recomputed) the record must be carried too.
CHANGES_PARENT = frozenset({("access_event", "contract_agreement"), ("contract_revocation", "contract_agreement"),
                            ("contract_agreement", "contract_request"), ("passport", "passport"),
                            ("passport_revocation", "passport")})  # fmt: skip


@dataclass
class BundleEntry:
    """What the verifier keeps of one record: enough to name it and to replay it."""

    leaf_index: int
    record_id: str
    kind: str
    author: str
    issued_at: str
    leaf_hash: bytes
    in_range: bool
    in_scope: bool  # selected by the scope as far as the envelope shows, or carried as in scope
    carried: bool  # payload and salt in the bundle, matching the commitment
    erased: bool
    state: DerivedState | None  # the ledger's, as the bundle carries it


#: ``add(severity, check, message, entry=None, *, leaf=None, expected=None, found=None)``
Add = Callable[..., None]


class StateJudge:
    def __init__(self, operator: str, add: Add):
        self.add = add
        self.entries: dict[int, BundleEntry] = {}  # leaf index → what was kept
        self.full: dict[int, StoredEntry] = {}  # payload-carrying records, for the replay's parents
        self.replay = Replay(self._load, operator)
        self.footprint_authors: set[str] = set()  # companies with a carried footprint (their later ones must come too)

    def _load(self, leaf_index: int) -> StoredEntry:
        """A record for the replay: with its payload if the bundle carries it, else without
        (the kind's check then says the payload is not held)."""
        return self.full.get(leaf_index) or self.replay.entry_of[leaf_index]

    def carried(self, leaf_hash: bytes) -> StoredEntry | None:
        """The earlier record with this leaf hash, if the bundle carries its payload."""
        e = self.replay.by_leaf.get(leaf_hash)
        return None if e is None or e.leaf_index not in self.full else e

    def check_not_withheld(self, e: BundleEntry, env: Envelope) -> None:
        """A record without payload that could change the state of one being recomputed is withheld."""
        for p in env.parents:
            parent = self.carried(bytes.fromhex(p))
            if parent is not None and (e.kind, parent.kind) in CHANGES_PARENT:
                self.add(Severity.FAILURE, "withheld", f"the record changes the state of {parent.kind} "
                         f"{parent.record_id!r} (leaf {parent.leaf_index}) but its payload is not in the bundle", e,
                         expected="payload and salt", found="envelope only")  # fmt: skip
                return
        if e.kind == "pcf" and e.author in self.footprint_authors:
            self.add(Severity.FAILURE, "withheld", "a later footprint of a company whose footprint the verifier "
                     "recomputes comes without its payload (it may deprecate that one)", e,
                     expected="payload and salt", found="envelope only")  # fmt: skip

    def step(self, e: BundleEntry, env: Envelope, r: Record) -> None:
        """The next record in leaf order: replayed when carried, else only made known."""
        self.entries[e.leaf_index] = e
        stored = StoredEntry(e.leaf_index, e.leaf_hash, e.record_id, e.kind, e.author, e.issued_at, "public",
                             r.envelope, r.payload if e.carried else None, r.salt if e.carried else None,
                             _EPOCH if r.erased else None, _EPOCH)  # fmt: skip
        if not e.carried:
            self.replay.known(stored)
            return
        self.full[e.leaf_index] = stored
        if e.kind == "pcf":
            self.footprint_authors.add(e.author)
        missing = []
        for p in env.parents:
            parent = self.replay.by_leaf.get(bytes.fromhex(p))
            if parent is None or (parent.leaf_index not in self.full and not self.entries[parent.leaf_index].erased):
                missing.append(p)
        if missing:
            self.add(Severity.FAILURE, "context", f"the record's parent {missing[0]} is not in the bundle with its "
                     "payload: the record's derived state cannot be recomputed", e)  # fmt: skip
            self.replay.known(stored)
            return
        out = self.replay.out
        refused, unverifiable = len(out.refused), len(out.unverifiable)
        self.replay.step(stored, env)
        for message in out.refused[refused:]:
            self.add(Severity.FINDING, "admission", message, e)
        for message in out.unverifiable[unverifiable:]:
            self.add(Severity.NOTICE, "state", message, e)

    @property
    def states(self) -> dict[int, DerivedState]:
        return self.replay.out.states

    def judge(self, report: BundleReport, end_time: datetime | None) -> None:
        """Recomputed derived state against the ledger's, and what the recomputation itself flags."""
        states = self.states
        uncompared = 0
        for idx, e in sorted(self.entries.items()):
            if not e.carried or idx in self.replay.out.skipped:
                continue
            want = states.get(idx)
            if e.in_range and e.in_scope and want is not None:
                self._flag(e, want, end_time)
            have = e.state
            if have is None:
                if want is not None:
                    uncompared += 1
                continue
            if want != have:
                self.add(Severity.FINDING, "state", "the ledger's derived state differs from the recomputation", e,
                         expected=show(want), found=show(have))  # fmt: skip
        self._unique_terms()
        recomputed = sum(1 for i in states if i in self.entries and self.entries[i].carried)
        report.checks.append(f"{recomputed} derived state(s) recomputed from the entries by the kinds' own rules")
        if uncompared:
            self.add(Severity.NOTICE, "state", f"{uncompared} recomputed state(s) had no ledger state in the bundle to "
                     "compare with (the ledger changed them after the range's end); the recomputed ones are reported")  # fmt: skip

    def _unique_terms(self) -> None:
        """Terms only one record of a log may hold (one passport per Digital Link path, one
        status list slot per passport): the store enforces them at admission, the kinds'
        checks do not, so the replay checks them across the records it recomputed."""
        holders: dict[tuple[str, str], int] = {}
        for idx, name, value in sorted(self.replay.out.terms):
            if name not in UNIQUE_TERMS:
                continue
            first = holders.setdefault((name, value), idx)
            if first != idx:
                self.add(Severity.FINDING, "unique", f"{name} {value!r} is held by two records; the log admits one",
                         self.entries.get(idx), leaf=idx, expected=f"only leaf {first}", found=f"leaf {first} and {idx}")  # fmt: skip

    def _flag(self, e: BundleEntry, s: DerivedState, end_time: datetime | None) -> None:
        if e.kind == "access_event":
            if s.status == "violation":
                self.add(Severity.VIOLATION, "verdict", f"the access event broke its contract: {s.reason}", e,
                         expected="permitted", found="violation")  # fmt: skip
            elif s.status == "undetermined":
                self.add(Severity.NOTICE, "verdict", f"the verdict is undetermined: {s.reason}", e)
            if s.fact("late") == "true":
                self.add(Severity.FINDING, "late", "the access event was reported late: signed long after the time it "
                         "reports", e, expected="signed soon after the event",
                         found=f"event at {self._event_time(e)}, signed {e.issued_at}")  # fmt: skip
        for path, duty in sorted(duties.from_facts(s.facts).items()):
            if duty.status_at(end_time) == duties.OVERDUE:
                self.add(Severity.FINDING, "duty", f"duty {path} is overdue at the range's end", e,
                         expected=f"fulfilled by {duty.deadline or 'its deadline'}", found="overdue")  # fmt: skip

    def _event_time(self, e: BundleEntry) -> str:
        try:
            at = parse_json(self.full[e.leaf_index].payload or b"").get("at")  # type: ignore[union-attr]
        except (KeyError, AttributeError, MalformedInput):
            return "?"
        return at if isinstance(at, str) else "?"


def show(s: DerivedState | None) -> str:
    if s is None:
        return "none"
    facts = ", ".join(f"{n}={val}" for n, val in s.facts)
    return s.status + (f" ({s.reason})" if s.reason else "") + (f" by {s.by}" if s.by else "") + \
        (f" [{facts}]" if facts else "")  # fmt: skip
