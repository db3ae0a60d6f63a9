"""Admission of a batch of records (the rules are listed in ``ledger.log``).

``BatchAdmission`` admits the records of one batch in order. It resolves each record's
parents (by leaf hash) and the records its kind references (by id) into typed
``ParentRecord`` values — payload parsed by the parent's own kind where the ledger holds
it and the new record's author may read it, derived state as the log stands with the
batch's earlier records applied — runs the kind's check, and turns the ``Admitted``
effects into the ``NewEntry`` the store appends. Reads happen here, before the append's
transaction; ``NewEntry.expects`` makes the store re-check, under its write lock, the
derived states admission relied on.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger import merkle
from ledger.access import VISIBILITIES, Viewer, can_see_payload
from ledger.canonical import canonicalize, parse_json
from ledger.effects import DerivedState, Edge, EdgeType
from ledger.envelope import Domain, commitment_of, verify_envelope
from ledger.errors import InvalidRecord
from ledger.kinds import KINDS, AdmissionContext, Admitted, ParentRecord, get_kind
from ledger.store import LogInfo, NewEntry, ParticipantInfo, StoredEntry
from ledger.submission import Submission

if TYPE_CHECKING:
    from ledger.store import SQLStore  # only the store-backed entry points need it

MAX_CLOCK_SKEW = timedelta(minutes=5)
#: C2SP entry bundles prefix each entry with a 16-bit length.
MAX_ENVELOPE_BYTES = 0xFFFF
#: References (ids beyond the parents) one record may name; parents are bounded by the envelope.
MAX_REFERENCES = 256


_EPOCH = datetime(1970, 1, 1)


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    offset = value.utcoffset()
    td = value.replace(tzinfo=None) - _EPOCH - (offset or timedelta(0))
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


class ModelCache:
    """Typed payloads parsed by their kinds, keyed by (kind, payload bytes); thread-safe LRU.

    Keyed by the bytes, not the record: an erased payload is never looked up again.
    """

    def __init__(self, size: int = 4096):
        self._size = size
        self._items: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._lock = threading.Lock()

    def model(self, kind: str, payload: bytes) -> Any:
        key = (kind, payload)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        model = KINDS[kind].parse(parse_json(payload))
        with self._lock:
            self._items[key] = model
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return model


def parent_record(entry: StoredEntry, models: ModelCache, state: DerivedState | None, *, readable: bool) -> ParentRecord:
    """``entry`` as admission sees it; ``readable``: whether the new record's author may read it."""
    model, why = None, ""
    if entry.payload is None:
        why = "erased" if entry.erased_at is not None else "not held"
    elif not readable:
        why = "not disclosed"
    elif entry.kind in KINDS:
        try:
            model = models.model(entry.kind, entry.payload)
        except (InvalidRecord, ValueError):
            why = "unreadable"
    return ParentRecord(
        entry.leaf_index, entry.leaf_hash, entry.record_id, entry.kind, entry.author, entry.issued_at,
        model, why, state, entry.visibility,
    )  # fmt: skip


class BatchAdmission:
    """Admits one batch's records in order; see the module docstring."""

    def __init__(self, store: SQLStore, log: LogInfo, domain: Domain, models: ModelCache, now: datetime,
                 submissions: list[Submission]):  # fmt: skip
        self.store, self.log, self.domain, self.models, self.now = store, log, domain, models, now
        self.authors: dict[str, ParticipantInfo | None] = {}
        self._viewers: dict[str, Viewer] = {}
        wanted = {bytes.fromhex(p) for s in submissions for p in s.envelope.parents}
        self.stored = store.entries_by_leaf_hash(log.id, wanted) if wanted else {}
        self.states = store.states(log.id, (e.leaf_index for e in self.stored.values())) if self.stored else {}
        # The stored states as this batch found them: what the append's compare-and-swap
        # checks (``self.states`` moves on as the batch's records change them).
        self.initial: dict[int, DerivedState | None] = {e.leaf_index: self.states.get(e.leaf_index)
                                                        for e in self.stored.values()}  # fmt: skip
        self._disclosed: dict[str, dict[int, bool]] = {}  # author → leaf index → disclosed to it
        # Records admitted earlier in this batch, by leaf hash and by id.
        self.batch_by_leaf: dict[bytes, ParentRecord] = {}
        self.batch_by_id: dict[str, ParentRecord] = {}
        self.batch_grants: dict[bytes, tuple[str, ...]] = {}  # leaf hash → addresses it discloses to
        # Stored parents as one author sees them (many records of a batch share components).
        self._seen: dict[tuple[bytes, str | None], ParentRecord] = {}

    # -- the rules ---------------------------------------------------------------------

    def admit(self, sub: Submission, leaf_input: bytes | None = None) -> NewEntry:
        """Admit one record (``leaf_input``: its envelope's bytes, if the caller has them)."""
        env = sub.envelope
        if env.log != self.log.origin:
            raise InvalidRecord(f"envelope is for log {env.log!r}, this log is {self.log.origin!r}")
        kind = get_kind(env.kind)
        if sub.visibility is not None and sub.visibility not in VISIBILITIES:
            raise InvalidRecord(f"visibility must be one of {VISIBILITIES}, got {sub.visibility!r}")
        verify_envelope(env, self.domain)
        issued = env.issued_at_datetime()
        if issued > self.now + MAX_CLOCK_SKEW:
            raise InvalidRecord(f"issued_at {env.issued_at} is in the future (now {self.now.isoformat()})")
        payload = canonicalize(sub.payload)  # the bytes stored, and the bytes committed to
        if commitment_of(payload, sub.salt) != env.commitment:
            raise InvalidRecord("payload and salt do not match the envelope's commitment")
        author = self._author_viewer(env.author, env.kind, kind.roles)
        model = kind.parse(sub.payload)
        parents = tuple(self._parent(bytes.fromhex(p), author) for p in env.parents)
        referenced = self._referenced(kind.references(model), author)
        ctx = AdmissionContext(self.log.operator, env.author, env.id, env.issued_at, parents, referenced)
        admitted = kind.check(model, ctx)
        leaf_input = leaf_input if leaf_input is not None else env.to_bytes()
        if len(leaf_input) > MAX_ENVELOPE_BYTES:
            raise InvalidRecord(f"the envelope is {len(leaf_input)} bytes; at most {MAX_ENVELOPE_BYTES} fit a tile entry")
        leaf = merkle.leaf_hash(leaf_input)
        edges = _edges_for(admitted, parents, referenced)
        seen = [*parents, *referenced.values()]
        new = NewEntry(
            record_id=env.id, kind=env.kind, author=env.author, issued_at=env.issued_at, leaf_hash=leaf,
            envelope=leaf_input, payload=payload, salt=sub.salt,
            visibility=sub.visibility or kind.default_visibility, registers=admitted.registers,
            issued_us=epoch_us(issued), terms=admitted.terms, edges=edges, state=admitted.state,
            changes=admitted.changes, discloses=admitted.discloses,
            expects=tuple(
                dict.fromkeys((p.record_id, self.initial.get(p.leaf_index)) for p in seen if p.leaf_index is not None)
            ),
        )  # fmt: skip
        self._remember(new, model, admitted)
        return new

    def _author_viewer(self, author: str, kind_name: str, roles: frozenset[str]) -> Viewer:
        if author == self.log.operator:
            return Viewer(author, frozenset({"operator"}))
        if author not in self.authors:
            self.authors[author] = self.store.participant(self.log.id, author)
        who = self.authors[author]
        if who is None:
            raise InvalidRecord(f"author {author} is not a registered participant of this log")
        if not roles:
            raise InvalidRecord(f"only the log operator may author a {kind_name} record; author is {author}")
        if who.roles.isdisjoint(roles):
            raise InvalidRecord(f"author {author} has roles {sorted(who.roles)}; a {kind_name} needs one of {sorted(roles)}")
        viewer = self._viewers.get(author)
        if viewer is None or viewer.roles != who.roles:
            viewer = self._viewers[author] = Viewer(author, who.roles)
        return viewer

    # -- parents and references ---------------------------------------------------------

    def _readable(self, entry: StoredEntry, author: Viewer) -> bool:
        kind = KINDS.get(entry.kind)
        if can_see_payload(entry, author, public_payload=kind is not None and kind.public_payload):
            return True
        assert author.address is not None
        checked = self._disclosed.setdefault(author.address, {})
        if entry.leaf_index not in checked:  # one query for every stored parent not checked yet
            idxs = [e.leaf_index for e in self.stored.values() if e.leaf_index not in checked]
            hits = self.store.disclosed_to(self.log.id, idxs, author.address)
            checked.update({i: i in hits for i in idxs})
        return checked[entry.leaf_index]

    def _parent(self, leaf: bytes, author: Viewer) -> ParentRecord:
        hit = self.batch_by_leaf.get(leaf)
        if hit is not None:
            return self._readable_batch(hit, author)
        key = (leaf, author.address)
        seen = self._seen.get(key)
        if seen is not None:
            return seen
        entry = self.stored.get(leaf)
        if entry is None:
            raise InvalidRecord(f"parent {leaf.hex()} is not an entry of this log")
        record = parent_record(entry, self.models, self.states.get(entry.leaf_index), readable=self._readable(entry, author))
        self._seen[key] = record
        return record

    def _readable_batch(self, p: ParentRecord, author: Viewer) -> ParentRecord:
        """A record earlier in the batch: readable by its author and privileged authors only."""
        if p.author == author.address or author.is_privileged or p.model is None:
            return p
        if author.address in self.batch_grants.get(p.leaf_hash, ()):
            return p
        kind = KINDS.get(p.kind)
        if kind is not None and kind.public_payload and p.visibility == "public":
            return p
        return replace(p, model=None, unreadable="not disclosed")

    def _referenced(self, ids: Iterable[str], author: Viewer) -> dict[str, ParentRecord]:
        ids = list(dict.fromkeys(ids))
        if len(ids) > MAX_REFERENCES:
            raise InvalidRecord(f"a record refers to at most {MAX_REFERENCES} other records, got {len(ids)}")
        out = {i: self._readable_batch(self.batch_by_id[i], author) for i in ids if i in self.batch_by_id}
        missing = [i for i in ids if i not in out]
        if missing:
            for e in self.store.entries_by_record_id(self.log.id, missing).values():
                if e.leaf_index not in self.initial:  # first seen now; else keep what the batch changed
                    self.stored.setdefault(e.leaf_hash, e)
                    state = self.store.states(self.log.id, [e.leaf_index]).get(e.leaf_index)
                    self.initial[e.leaf_index] = state
                    if state is not None:
                        self.states[e.leaf_index] = state
                out[e.record_id] = parent_record(e, self.models, self.states.get(e.leaf_index),
                                                 readable=self._readable(e, author))  # fmt: skip
        return out

    def _remember(self, new: NewEntry, model: Any, admitted: Admitted) -> None:
        """Later records of the batch may name this one as a parent, or see its effects."""
        record = ParentRecord(None, new.leaf_hash, new.record_id, new.kind, new.author, new.issued_at, model, "",
                              admitted.state, new.visibility)  # fmt: skip
        self.batch_by_leaf[new.leaf_hash] = record
        self.batch_by_id[new.record_id] = record
        if new.discloses:
            self.batch_grants[new.leaf_hash] = new.discloses
        for change in admitted.changes:
            self._set_state(change.target, change.state)

    def _set_state(self, record_id: str, state: DerivedState) -> None:
        if record_id in self.batch_by_id:
            old = self.batch_by_id[record_id]
            new = replace(old, state=state)
            self.batch_by_id[record_id] = self.batch_by_leaf[old.leaf_hash] = new
            return
        for e in self.stored.values():
            if e.record_id == record_id:
                self.states[e.leaf_index] = state
                self._seen = {k: v for k, v in self._seen.items() if k[0] != e.leaf_hash}


def _edges_for(admitted: Admitted, parents: tuple[ParentRecord, ...],
               referenced: dict[str, ParentRecord]) -> tuple[tuple[Edge, int | None], ...]:  # fmt: skip
    """The kind's edges with each parent's position, plus ``derives_from`` for a parent without one.

    A kind may point edges and state changes only at records it was shown.
    """
    position = {p.record_id: i for i, p in reversed(list(enumerate(parents)))}
    allowed = set(position) | set(referenced)
    out: list[tuple[Edge, int | None]] = []
    covered: set[str] = set()
    for edge in admitted.edges:
        if edge.target not in allowed:
            raise InvalidRecord(f"an edge names {edge.target!r}, which is neither a parent nor a referenced record")
        out.append((edge, position.get(edge.target)))
        covered.add(edge.target)
    for p in parents:
        if p.record_id not in covered:
            out.append((Edge(EdgeType.DERIVES_FROM, p.record_id), position[p.record_id]))
            covered.add(p.record_id)
    for change in admitted.changes:
        if change.target not in allowed:
            raise InvalidRecord(f"a state change names {change.target!r}, which is neither a parent nor referenced")
    return tuple(out)
