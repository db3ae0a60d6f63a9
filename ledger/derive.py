"""Recompute the effects of admission from the log alone, and compare them with the cache.

Derived state is a pure function of the log prefix (DESIGN §8). ``recompute`` replays the
entries in log order through the same kind checks admission ran (``Kind.check``), with
parents and references resolved from the replay itself — never from the cached rows — and
collects every index term, typed edge and derived state. ``audit_effects`` compares that
with what the store caches (``record_terms``, ``record_edges``, ``record_states``) and
names each difference.

Erased payloads: a record whose own payload was erased cannot be replayed; its effects,
and any state the cache says it set, are reported *unverifiable*, not as findings. So is
a record whose check needs an erased parent's payload. A record that the replay would
refuse for another reason (it should never have been admitted) is a finding.

Disclosure is an access rule, not part of the log: the replay reads every payload the
ledger holds, as a regulator may.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ledger.admission import ModelCache, _edges_for, parent_record
from ledger.canonical import parse_json
from ledger.effects import DerivedState
from ledger.envelope import Envelope
from ledger.errors import InvalidRecord, LedgerError
from ledger.kinds import KINDS, AdmissionContext, ParentRecord, PayloadUnavailable
from ledger.store import StoredEntry

if TYPE_CHECKING:
    from ledger.store import SQLStore  # only the store-backed entry points need it

_CHUNK = 1000
MAX_LISTED = 50  # differences named per category in a report


@dataclass
class Recomputed:
    terms: set[tuple[int, str, str]] = field(default_factory=set)
    edges: set[tuple[int, int, str, int | None]] = field(default_factory=set)
    states: dict[int, DerivedState] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # records the replay would not admit
    unverifiable: list[str] = field(default_factory=list)
    skipped: set[int] = field(default_factory=set)  # records whose effects could not be replayed
    erased_ids: set[str] = field(default_factory=set)
    records: int = 0


@dataclass(frozen=True, slots=True)
class EffectsReport:
    records: int
    findings: tuple[str, ...]
    unverifiable: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.findings


class Replay:
    """Replays entries in log order (``step``); ``load(leaf_index)`` gives an earlier
    entry with its payload again when the replay needs it as a parent or reference."""

    def __init__(self, load: Callable[[int], StoredEntry], operator: str):
        self.load, self.operator = load, operator
        self.by_leaf: dict[bytes, StoredEntry] = {}  # payload dropped; fetched again on demand
        self.by_id: dict[str, int] = {}
        self.entry_of: dict[int, StoredEntry] = {}
        self.models: OrderedDict[int, Any] = OrderedDict()  # leaf index → typed payload, LRU
        self.parsed = ModelCache(256)
        self.out = Recomputed()

    def _model(self, e: StoredEntry) -> ParentRecord:
        state = self.out.states.get(e.leaf_index)
        if e.leaf_index in self.models:
            self.models.move_to_end(e.leaf_index)
            return ParentRecord(e.leaf_index, e.leaf_hash, e.record_id, e.kind, e.author, e.issued_at,
                                self.models[e.leaf_index], "", state, e.visibility)  # fmt: skip
        p = parent_record(self.load(e.leaf_index), self.parsed, state, readable=True)
        if p.model is not None:
            self._keep(e.leaf_index, p.model)
        return p

    def _keep(self, idx: int, model: Any) -> None:
        self.models[idx] = model
        if len(self.models) > 4096:
            self.models.popitem(last=False)

    def known(self, e: StoredEntry) -> None:
        """Make ``e`` known as an earlier entry (a parent or reference) without replaying it."""
        light = StoredEntry(e.leaf_index, e.leaf_hash, e.record_id, e.kind, e.author, e.issued_at, e.visibility,
                            b"", None, None, e.erased_at, e.appended_at)  # fmt: skip
        self.by_leaf[e.leaf_hash] = light
        self.by_id.setdefault(e.record_id, e.leaf_index)
        self.entry_of[e.leaf_index] = light

    def step(self, e: StoredEntry, envelope: Envelope | None = None) -> None:
        """Replay ``e``; ``envelope``: its envelope, if the caller has parsed it already."""
        out = self.out
        out.records += 1
        where = f"entry {e.leaf_index} ({e.kind} {e.record_id!r})"
        self.known(e)
        kind = KINDS.get(e.kind)
        if kind is None:
            out.refused.append(f"{where}: unknown kind")
            out.skipped.add(e.leaf_index)
            return
        if e.payload is None:
            out.erased_ids.add(e.record_id)
            out.unverifiable.append(f"{where}: its payload was erased; its effects cannot be recomputed")
            out.skipped.add(e.leaf_index)
            return
        try:
            model = kind.parse(parse_json(e.payload))
            env = envelope or Envelope.from_json(e.envelope)
            parents = []
            for p in env.parents:
                stored = self.by_leaf.get(bytes.fromhex(p))
                if stored is None or stored.leaf_index >= e.leaf_index:
                    raise InvalidRecord(f"parent {p} is not an earlier entry")
                parents.append(self._model(stored))
            referenced = {
                rid: self._model(self.entry_of[self.by_id[rid]])
                for rid in dict.fromkeys(kind.references(model))
                if rid in self.by_id and self.by_id[rid] < e.leaf_index
            }
            ctx = AdmissionContext(self.operator, e.author, e.record_id, e.issued_at, tuple(parents), referenced)
            admitted = kind.check(model, ctx)
            edges = _edges_for(admitted, tuple(parents), referenced)
        except PayloadUnavailable as err:
            out.unverifiable.append(f"{where}: cannot be replayed: {err}")
            out.skipped.add(e.leaf_index)
            return
        except (LedgerError, ValueError) as err:
            out.refused.append(f"{where}: the replay would not admit it: {err}")
            out.skipped.add(e.leaf_index)
            return
        self._keep(e.leaf_index, model)
        out.terms.update((e.leaf_index, t.name, t.value) for t in admitted.terms)
        for edge, position in edges:
            out.edges.add((e.leaf_index, self.by_id[edge.target], str(edge.type), position))
        if admitted.state is not None:
            out.states[e.leaf_index] = admitted.state
        for change in admitted.changes:
            out.states[self.by_id[change.target]] = change.state


def recompute(store: SQLStore, log: int, *, operator: str) -> Recomputed:
    """Replay the whole log; see the module docstring."""
    replay = Replay(lambda i: store.entries_at(log, [i])[0], operator)
    start, size = 0, store.tree_size(log)
    while start < size:
        chunk = store.list_entries(log, start=start, limit=_CHUNK)
        if not chunk:
            break
        for e in chunk:
            replay.step(e)
        start = chunk[-1].leaf_index + 1
    return replay.out


def _listed(label: str, items: list[str]) -> list[str]:
    shown = [f"{label}: {x}" for x in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        shown.append(f"{label}: … and {len(items) - MAX_LISTED} more")
    return shown


def audit_effects(store: SQLStore, log: int, *, operator: str) -> EffectsReport:
    """Recompute every effect and compare it with the cached rows."""
    r = recompute(store, log, operator=operator)
    terms, edges, states = store.effect_rows(log)
    skip = r.skipped
    findings: list[str] = list(r.refused)
    unverifiable = list(r.unverifiable)
    findings += _listed("index term missing from the cache", [
        f"entry {i}: {n} = {v}" for i, n, v in sorted(r.terms - terms) if i not in skip])  # fmt: skip
    findings += _listed("index term in the cache but not derived", [
        f"entry {i}: {n} = {v}" for i, n, v in sorted(terms - r.terms) if i not in skip])  # fmt: skip
    findings += _listed("edge missing from the cache", [
        f"entry {s} → {t} ({typ})" for s, t, typ, _ in sorted(r.edges - edges, key=str) if s not in skip])  # fmt: skip
    findings += _listed("edge in the cache but not derived", [
        f"entry {s} → {t} ({typ})" for s, t, typ, _ in sorted(edges - r.edges, key=str) if s not in skip])  # fmt: skip
    differ: list[str] = []
    for idx in sorted(set(states) | set(r.states)):
        want, have = r.states.get(idx), states.get(idx)
        if want == have:
            continue
        if (have is not None and have.by in r.erased_ids) or (idx in skip and (have is None or have.by is None)):
            unverifiable.append(f"entry {idx}: cached state {have} was set by a record whose payload was erased")
            continue
        differ.append(f"entry {idx}: cached {_show(have)}, recomputed {_show(want)}")
    findings += _listed("derived state differs", differ)
    return EffectsReport(r.records, tuple(findings), tuple(unverifiable))


def _show(s: DerivedState | None) -> str:
    if s is None:
        return "none"
    facts = ", ".join(f"{n}={v}" for n, v in s.facts)
    return s.status + (f" ({s.reason})" if s.reason else "") + (f" [{facts}]" if facts else "")
