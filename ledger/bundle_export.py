"""``export_bundle``: write the audit bundle of a period and scope (DESIGN §11), streaming.

The period. Its records lie in ``[s0, end)``: ``s0`` is the size of the last final
anchored checkpoint whose anchor block's time (read from the chain, not the ledger's
clock) is at or before ``since``, or 0 when there is none; ``end`` the first whose anchor
block's time is at or after ``until``. So by the chain's clock every entry logged in the
period is in ``[s0, end)``, and the verifier checks the times itself. When no anchor
covers ``until`` yet, ``NotYetAnchored`` says so; the CLI then seals and anchors once and
tries again, the API answers 409 (its sealer anchors on its own schedule). A period
ending in the future is refused the same way.

The scope. A record of ``[s0, end)`` is *in scope* when every given filter holds:
``kind`` (its kind), ``participant`` (its author, or a party of the contract it belongs
to: the ``provider``/``consumer`` index terms), ``agreement`` (the agreement itself, or a
record filed under it), ``product`` (filed under the product URN, or a passport
describing a footprint that is). In-scope records carry payload and salt, and the
ledger's derived state where it is final at ``end``. So that the verifier can replay
them, the bundle also carries what they depend on: the records they derive from
(parents and references, transitively), the records that change those records' state
(events under an agreement, revocations, superseding versions) and every later footprint
of a company whose footprint is carried (a footprint deprecates its company's earlier
ones from its payload).

The range. By default it starts at the last final anchored checkpoint at or before the
earliest of those dependencies (at or before ``s0``), so the history they carry is inside
the proven range and there are no context lines. ``context_proofs`` starts it at ``s0``
and carries the earlier ones as context lines with inclusion proofs against the end
checkpoint (smaller; their history then rests on the ledger).

Memory stays flat in the range's length: entries stream in chunks; what is kept is the
dependency set (usually small: agreements, components; at most ``MAX_CONTEXT`` before the
period) and the heads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from ledger.bundle import AnchorClaim, BundleHeader, BundleWriter, ContextLine, EntryLine, HeadLine, Record, Scope
from ledger.effects import EdgeType, term_value
from ledger.errors import Conflict, MalformedInput, NotFound
from ledger.log import Ledger
from ledger.store.values import StoredEntry
from ledger.verify import AnchorReader

_CHUNK = 1000
#: Edges along which a later record changes the target's derived state (ledger.kinds: an
#: event counts under its agreement, a revocation revokes, a new version supersedes).
_STATEFUL = frozenset({EdgeType.UNDER_AGREEMENT, EdgeType.SUPERSEDES, EdgeType.DERIVES_FROM})
MAX_CONTEXT = 200_000


class NotYetAnchored(Conflict):
    """No final anchored checkpoint covers the period's end yet."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    since: datetime
    until: datetime
    start: int
    end: int
    heads: int
    context: int
    in_scope: int
    carried: int  # entries of the range with payload (in scope, or depended on)
    lines: int
    sha256: str


@dataclass(frozen=True, slots=True)
class _Anchored:
    tree_size: int
    claim: AnchorClaim
    timestamp: int
    note: str


@dataclass
class _Plan:
    scope_start: int  # the first leaf the period's records can be at (by anchor block time)
    start: int  # the range's start: at or before scope_start, early enough for the state history
    end: int
    heads: list[_Anchored]
    needed: set[int] = field(default_factory=set)  # leaf indexes depended on by records in scope
    in_scope: int = 0


def _anchored_heads(ledger: Ledger, reader: AnchorReader) -> list[_Anchored]:
    """Final anchored checkpoints, ascending, with their anchor block's time from the chain."""
    out: list[_Anchored] = []
    seen: set[int] = set()
    for a in ledger.anchors(status="final"):
        if a.tree_size in seen or a.block_number is None or a.block_hash is None:
            continue
        seen.add(a.tree_size)
        cp = ledger.store.checkpoint_at(ledger.log.id, a.tree_size)
        found = reader.find_head(ledger.origin, a.tree_size, cp.root_hash)
        if found is None:  # the ledger's row says final, the chain does not hold it: never export it
            continue
        out.append(_Anchored(a.tree_size, AnchorClaim(found.block_number, found.block_hash), found.timestamp, cp.note))
    return out


def plan_range(ledger: Ledger, reader: AnchorReader, since: datetime, until: datetime | None, *,
               now: datetime | None = None) -> tuple[int, int, list[_Anchored], datetime]:  # fmt: skip
    """``(scope_start, end, heads, until)`` for the period: the leaves the period's records
    lie in, the final anchored heads up to ``end``, and ``until`` (None: the latest final
    anchor's block time, the newest period a bundle can cover). See the module docstring."""
    heads = _anchored_heads(ledger, reader)
    if until is None:
        if not heads:
            raise NotYetAnchored("nothing is anchored yet: seal and anchor (tdsl anchor), or wait for the sealer")
        until = datetime.fromtimestamp(heads[-1].timestamp, UTC)
    if since > until:
        raise MalformedInput(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
    before = [h for h in heads if h.timestamp <= since.timestamp()]
    after = [h for h in heads if h.timestamp >= until.timestamp()]
    if not after and until > (now or datetime.now(UTC)):
        raise NotYetAnchored(f"the period ends in the future ({until.isoformat()}); a bundle can only be made once an "
                             "anchored checkpoint covers its end")  # fmt: skip
    if not after:
        if not heads:
            raise NotYetAnchored(f"no final anchored checkpoint covers the period's end {until.isoformat()}: nothing "
                                 "is anchored yet; seal and anchor (tdsl anchor), or wait for the sealer")  # fmt: skip
        last = heads[-1]
        at = datetime.fromtimestamp(last.timestamp, UTC).isoformat().replace("+00:00", "Z")
        raise NotYetAnchored(
            f"no final anchored checkpoint covers the period's end {until.isoformat()} yet: the last one, of tree size "
            f"{last.tree_size}, was anchored at {at}. A bundle can end there (until={at}, or 'anchored'), or once "
            "a later checkpoint is anchored (the sealer anchors new entries; tdsl anchor does it now)"
        )
    start = before[-1].tree_size if before else 0
    end = after[0].tree_size
    return start, end, [h for h in heads if h.tree_size <= end], until


class _Scoper:
    """Decides which records of a chunk are in scope (see the module docstring)."""

    def __init__(self, ledger: Ledger, scope: Scope):
        self.ledger, self.scope = ledger, scope
        self.store, self.log = ledger.store, ledger.log.id
        self.product_pcfs: set[int] = set()  # footprints filed under the product, for the passports describing them

    def select(self, chunk: list[StoredEntry]) -> list[int]:
        s = self.scope
        rows = [e for e in chunk if s.kind is None or e.kind == s.kind or (s.product is not None and e.kind == "pcf")]
        if not rows:
            return []
        terms = self.store.terms_of(self.log, [e.leaf_index for e in rows]) if not s.whole else {}
        describes: dict[int, set[int]] = {}
        if s.product is not None:
            for edge in self.store.edges_from(self.log, [e.leaf_index for e in rows if e.kind == "passport"]):
                if edge.type == EdgeType.DESCRIBES:
                    describes.setdefault(edge.source, set()).add(edge.target)
        out = []
        for e in rows:
            have = {(t.name, t.value) for t in terms.get(e.leaf_index, ())}
            if s.product is not None:
                filed = ("product", s.product) in have
                if filed and e.kind == "pcf":
                    self.product_pcfs.add(e.leaf_index)
                if not (filed or describes.get(e.leaf_index, set()) & self.product_pcfs):
                    continue
                if s.kind is not None and e.kind != s.kind:
                    continue
            if s.participant is not None and e.author.lower() != s.participant and \
                    ("provider", s.participant) not in have and ("consumer", s.participant) not in have:  # fmt: skip
                continue
            if s.agreement is not None and e.record_id != s.agreement and ("agreement", s.agreement) not in have:
                continue
            out.append(e.leaf_index)
        return out


def _entries(ledger: Ledger, start: int, end: int) -> Iterator[list[StoredEntry]]:
    i = start
    while i < end:
        chunk = [e for e in ledger.store.list_entries(ledger.log.id, start=i, limit=min(_CHUNK, end - i)) if e.leaf_index < end]
        if not chunk:
            raise NotFound(f"entry {i} is missing from the store")
        yield chunk
        i = chunk[-1].leaf_index + 1


def _dependencies(ledger: Ledger, roots: list[int], start: int, end: int, known: set[int], *,
                  range_carried: bool) -> set[int]:  # fmt: skip
    """Leaf indexes the records ``roots`` depend on (see the module docstring), not already
    in ``known``. ``range_carried``: every record of ``[start, end)`` is carried anyway (the
    whole log's scope), so only those before ``start`` are collected and followed."""
    store, log = ledger.store, ledger.log.id
    found: set[int] = set()
    before = 0
    todo = list(roots)
    while todo:
        nxt: set[int] = set()
        for edge in store.edges_from(log, todo):
            nxt.add(edge.target)
        for edge in store.edges_to(log, todo, types=_STATEFUL, source_below=end):
            nxt.add(edge.source)
        todo = [i for i in nxt if i not in found and i not in known and not (range_carried and start <= i)]
        found.update(todo)
        before += sum(1 for i in todo if i < start)  # records in the range are carried in place, not held
        if before > MAX_CONTEXT:
            raise Conflict(f"the records in scope depend on more than {MAX_CONTEXT} records before the period; "
                           "narrow the scope or the period")  # fmt: skip
    return found


def _plan(ledger: Ledger, scope: Scope, s0: int, end: int, heads: list[_Anchored], *, context_proofs: bool) -> _Plan:
    """What to carry, and where the range starts (see the module docstring)."""
    store, log = ledger.store, ledger.log.id
    plan = _Plan(s0, s0, end, heads)
    whole = scope.whole
    if scope.agreement is not None:  # the scope's agreement always comes along: a verifier scopes by it
        try:
            agreement = store.entry_by_record_id(log, scope.agreement)
        except NotFound:
            raise NotFound(f"no agreement {scope.agreement!r} in this log") from None
        if agreement.kind != "contract_agreement":
            raise MalformedInput(f"{scope.agreement!r} is a {agreement.kind}, not a contract_agreement")
        if agreement.leaf_index >= end:
            raise NotYetAnchored(f"the agreement {scope.agreement!r} is not yet covered by an anchored checkpoint")
        if agreement.leaf_index < s0:
            plan.needed.add(agreement.leaf_index)
            plan.needed |= _dependencies(ledger, [agreement.leaf_index], s0, end, plan.needed, range_carried=False)
    scoper = _Scoper(ledger, scope)
    footprints: dict[str, int] = {}  # author → first carried footprint
    if whole:  # every record of the period is carried: only what it depends on before the period is needed
        plan.in_scope = end - s0
        roots = sorted({e.target for e in store.edges_leaving(log, s0, end, below=s0)})
        if roots:
            plan.needed.update(roots)
            plan.needed |= _dependencies(ledger, roots, s0, end, plan.needed, range_carried=True)
    for chunk in () if whole else _entries(ledger, s0, end):
        selected = scoper.select(chunk)
        plan.in_scope += len(selected)
        if selected:
            plan.needed |= _dependencies(ledger, selected, s0, end, plan.needed, range_carried=whole)
            chosen = set(selected)
            for e in chunk:
                if e.kind == "pcf" and e.leaf_index in chosen:
                    footprints.setdefault(e.author, e.leaf_index)
    _later_footprints(ledger, plan, footprints, whole)
    if not context_proofs:
        first = min(plan.needed, default=s0)
        plan.start = max((h.tree_size for h in heads if h.tree_size <= min(first, s0)), default=0)
    return plan


def _later_footprints(ledger: Ledger, plan: _Plan, footprints: dict[str, int], whole: bool) -> None:
    """Carry every later footprint of a company whose footprint is carried, to a fixpoint.

    A footprint deprecates its company's earlier ones by naming them in its payload
    (``precedingPfIds``), which its envelope does not show; so a verifier asks for all of a
    company's later footprints in the range, and the exporter carries them."""
    store, log = ledger.store, ledger.log.id
    done: dict[str, int] = {}
    while True:
        for chunk in _chunks(sorted(plan.needed)):
            for e in store.entries_at(log, chunk):
                if e.kind == "pcf":
                    footprints[e.author] = min(footprints.get(e.author, e.leaf_index), e.leaf_index)
        todo = {a: f for a, f in footprints.items() if done.get(a, plan.end) > f}
        if not todo:
            return
        new: list[int] = []
        for author, first in todo.items():
            done[author] = first
            i = first + 1
            while i < plan.end:
                page = store.list_entries(log, start=i, limit=_CHUNK, author=author, kind="pcf")
                page = [e for e in page if e.leaf_index < plan.end]
                new += [e.leaf_index for e in page if e.leaf_index not in plan.needed
                        and not (whole and e.leaf_index >= plan.scope_start)]  # fmt: skip
                if len(page) < _CHUNK:
                    break
                i = page[-1].leaf_index + 1
        if new:
            plan.needed.update(new)
            plan.needed |= _dependencies(ledger, new, plan.scope_start, plan.end, plan.needed, range_carried=whole)


def _chunks(values: list[int]) -> Iterator[list[int]]:
    for k in range(0, len(values), _CHUNK):
        yield values[k : k + _CHUNK]


def export_bundle(ledger: Ledger, reader: AnchorReader, out: IO[bytes], *, since: datetime, until: datetime | None,
                  scope: Scope = Scope(), now: datetime | None = None, context_proofs: bool = False) -> ExportSummary:  # fmt: skip
    """Write the bundle onto ``out``. Raises ``NotYetAnchored``, ``MalformedInput`` (since > until).

    ``until`` None: up to the latest final anchor's block time. ``context_proofs``: start
    the range at the period (a smaller bundle) and carry the earlier records in-scope
    records depend on as context lines with inclusion proofs; their state history then
    rests on the ledger (the verifier says so). By default the range reaches back to the
    anchored checkpoint before the earliest of them, so that the history is proven too."""
    scope = _normalized(scope)
    s0, end, heads, until = plan_range(ledger, reader, since, until, now=now)
    plan = _plan(ledger, scope, s0, end, heads, context_proofs=context_proofs)
    start = plan.start
    store, log = ledger.store, ledger.log.id
    context = sorted(i for i in plan.needed if i < start)
    lines = [HeadLine(0, None, None)] if start == 0 else []  # the empty tree: no note, no anchor
    lines += [HeadLine(h.tree_size, h.note, h.claim) for h in heads if start <= h.tree_size]
    header = BundleHeader(
        origin=ledger.origin, chain_id=ledger.log.chain_id, contract=ledger.log.contract, since=since, until=until,
        scope=scope, start=start, end=end, frontier=tuple(store.frontier(log, start, fresh=True)), heads=len(lines),
        context=len(context),
    )  # fmt: skip
    writer = BundleWriter(out)
    writer.write(header)
    for h in lines:
        writer.write(h)
    for idxs in _chunks(context):
        entries = store.entries_at(log, idxs)
        final = _final_states(ledger, idxs, end)
        for e in entries:
            proof = tuple(store.inclusion_proof(log, e.leaf_index, end, fresh=True))
            writer.write(ContextLine(_record(e, final.get(e.leaf_index), carried=True), proof))
    scoper = _Scoper(ledger, scope)
    carried = 0
    for chunk in _entries(ledger, start, end):
        in_period = [e for e in chunk if e.leaf_index >= s0]
        selected = {e.leaf_index for e in in_period} if scope.whole else set(scoper.select(in_period))
        keep = [e.leaf_index for e in chunk if e.leaf_index in selected or e.leaf_index in plan.needed]
        final = _final_states(ledger, keep, end) if keep else {}
        for e in chunk:
            take = e.leaf_index in selected or e.leaf_index in plan.needed
            carried += take
            writer.write(EntryLine(_record(e, final.get(e.leaf_index), carried=take)))
    trailer = writer.close()
    return ExportSummary(since, until, start, end, len(lines), len(context), plan.in_scope, carried, trailer.lines + 1,
                         trailer.sha256)  # fmt: skip


def _final_states(ledger: Ledger, idxs: list[int], end: int) -> dict[int, object]:
    """The ledger's derived state of each record that has one, unless a record at or after
    ``end`` changed it since (then the state at ``end`` is not what the ledger holds)."""
    store, log = ledger.store, ledger.log.id
    states = store.states(log, idxs)
    later = {e.target for e in store.edges_to(log, list(states), types=_STATEFUL, source_from=end)}
    return {i: s for i, s in states.items() if i not in later}


def _record(e: StoredEntry, state, *, carried: bool) -> Record:
    if not carried:
        return Record(e.leaf_index, e.envelope)
    if e.payload is None:
        return Record(e.leaf_index, e.envelope, erased=e.erased_at is not None, state=state)
    return Record(e.leaf_index, e.envelope, e.payload, e.salt, state=state)


def _normalized(scope: Scope) -> Scope:
    """Lowercase the folded filters as the index terms store them."""
    return Scope(
        participant=None if scope.participant is None else scope.participant.lower(),
        agreement=scope.agreement,
        product=None if scope.product is None else term_value("product", scope.product),
        kind=scope.kind,
    )
