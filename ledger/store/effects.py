"""The store's rows for the effects of admission: index terms, typed edges, derived state,
and payload disclosures (part of ``SQLStore``; see ``ledger.store.sql`` for the contract).

Contract:

- Terms, edges and states of a batch are written in the append's own transaction, so a
  record is never visible without its effects nor its effects without the record.
- Edge and state-change targets are resolved from record ids to indexes inside that
  transaction; a target that is not stored (nor earlier in the batch) aborts the batch.
- ``NewEntry.expects`` is compare-and-swap on derived state: the append re-reads the
  states admission relied on (a component footprint still ``Active``, an agreement's
  event count) under the write lock and raises ``StaleState`` if another writer changed
  them meanwhile.
- These rows are caches of what the log says: ``ledger.derive`` recomputes them from the
  entries, and the audit reports every difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select, update

from ledger.canonical import canonicalize
from ledger.effects import UNIQUE_TERMS, DerivedState, Term
from ledger.errors import Conflict, Forbidden, NotFound, StaleState
from ledger.store.models import DisclosureRow, EdgeRow, EntryRow, StateRow, TermRow
from ledger.store.values import NewEntry, StoredEdge

_terms = TermRow.__table__
_edges = EdgeRow.__table__
_states = StateRow.__table__
_disclosures = DisclosureRow.__table__
_entries = EntryRow.__table__

_IN_CHUNK = 500
#: The version of the effect rows this code writes (``LogRow.effects_version``).
EFFECTS_VERSION = 1


def _chunks(values: Sequence, size: int = _IN_CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _state(r) -> DerivedState:
    return state_of_row(r.status, r.reason, r.by, r.facts)


def state_of_row(status: str, reason: str, by: str | None, facts: str | None) -> DerivedState:
    """A ``record_states`` row as a ``DerivedState``."""
    return DerivedState(status, reason, by, tuple(json.loads(facts).items()) if facts else ())


def state_row(s: DerivedState) -> dict[str, object]:
    """The columns of ``s`` in ``record_states``."""
    return dict(status=s.status, reason=s.reason, by=s.by, facts=canonicalize(dict(s.facts)).decode() if s.facts else None)


class EffectsStore:
    """Mixin of ``SQLStore``: needs ``_read()`` and ``_write()`` connections."""

    def _read(self) -> AbstractContextManager[Connection]: ...  # provided by SQLStore
    def _write(self) -> AbstractContextManager[Connection]: ...  # provided by SQLStore

    # -- writing, inside append's transaction ------------------------------------------

    @staticmethod
    def _effect_targets(batch: Sequence[NewEntry]) -> set[str]:
        ids: set[str] = set()
        for e in batch:
            ids.update(edge.target for edge, _ in e.edges)
            ids.update(c.target for c in e.changes)
            ids.update(record_id for record_id, _ in e.expects)
        return ids

    def _check_expected(self, conn: Connection, log: int, batch: Sequence[NewEntry],
                        known: dict[str, tuple[int, bytes]], in_batch: set[str]) -> None:  # fmt: skip
        """Compare-and-swap: the derived states admission saw are still the stored ones."""
        wanted = {rid: state for e in batch for rid, state in e.expects if rid not in in_batch}
        if not wanted:
            return
        idxs = sorted({known[rid][0] for rid in wanted if rid in known})
        now = self._states_in(conn, log, idxs)
        for rid, state in sorted(wanted.items()):
            if rid not in known:
                raise NotFound(f"record {rid!r}, which admission relied on, is not stored")
            have = now.get(known[rid][0])
            if have != state:
                raise StaleState(
                    f"the derived state of {rid!r} changed while the batch was admitted "
                    f"(expected {state.status if state else None}, now {have.status if have else None}); submit again"
                )

    def _write_effects(self, conn: Connection, log: int, placed: Sequence[tuple[int, NewEntry]],
                       known: dict[str, tuple[int, bytes]], now: datetime) -> None:  # fmt: skip
        terms, edges, states, grants = [], [], {}, []
        for idx, e in placed:
            grants += [dict(log=log, idx=idx, grantee=g, granted_at=now, standing=True) for g in dict.fromkeys(e.discloses)]
            terms += [dict(log=log, name=t.name, value=t.value, idx=idx) for t in dict.fromkeys(e.terms)]
            seen = set()
            for edge, position in e.edges:
                target = self._resolve(known, edge.target, idx)
                if (target, edge.type) not in seen:
                    seen.add((target, edge.type))
                    edges.append(dict(log=log, source=idx, target=target, type=str(edge.type), position=position))
            if e.state is not None:
                states[idx] = e.state
            for change in e.changes:
                states[self._resolve(known, change.target, idx)] = change.state
        if terms:
            self._check_unique(conn, log, [t for t in terms if t["name"] in UNIQUE_TERMS])
            conn.execute(insert(_terms), terms)
        if grants:
            conn.execute(insert(_disclosures), grants)
        if edges:
            conn.execute(insert(_edges), edges)
        if states:
            new_idx = {idx for idx, _ in placed}
            existing = set(self._states_in(conn, log, sorted(set(states) - new_idx)))
            fresh = []
            for idx, s in states.items():
                values = dict(state_row(s), updated_at=now)
                if idx in existing:
                    conn.execute(update(_states).where(_states.c.log == log, _states.c.idx == idx).values(**values))
                else:
                    fresh.append(dict(log=log, idx=idx, **values))
            if fresh:
                conn.execute(insert(_states), fresh)

    @staticmethod
    def _check_unique(conn: Connection, log: int, claimed: list[dict]) -> None:
        """A unique term (``UNIQUE_TERMS``) held by no stored entry and by one record of the
        batch only; else ``Conflict`` naming the holder. Runs under the append's write lock."""
        first: dict[tuple[str, str], int] = {}
        for t in claimed:
            key = (t["name"], t["value"])
            if key in first:
                raise Conflict(f"{key[0]} {key[1]!r} is claimed by two records of this batch (leaves {first[key]} "
                               f"and {t['idx']}); it may be held by one record only")  # fmt: skip
            first[key] = t["idx"]
        for name in {n for n, _ in first}:
            values = sorted(v for n, v in first if n == name)
            for chunk in _chunks(values):
                q = (
                    select(_terms.c.value, _entries.c.idx, _entries.c.record_id)
                    .select_from(_terms.join(_entries, (_entries.c.log == _terms.c.log) & (_entries.c.idx == _terms.c.idx)))
                    .where(_terms.c.log == log, _terms.c.name == name, _terms.c.value.in_(chunk))
                )
                for r in conn.execute(q):
                    raise Conflict(f"{name} {r.value!r} is already held by record {r.record_id!r} (leaf {r.idx}); "
                                   "it may be held by one record only")  # fmt: skip

    @staticmethod
    def _resolve(known: dict[str, tuple[int, bytes]], record_id: str, source: int) -> int:
        hit = known.get(record_id)
        if hit is None or hit[0] >= source:
            raise NotFound(f"record {record_id!r}, named by the record at {source}, is not an earlier entry")
        return hit[0]

    # -- reading -----------------------------------------------------------------------

    def _states_in(self, conn: Connection, log: int, idxs: Sequence[int]) -> dict[int, DerivedState]:
        out: dict[int, DerivedState] = {}
        c = _states.c
        for chunk in _chunks(list(idxs)):
            for r in conn.execute(select(c.idx, c.status, c.reason, c.by, c.facts).where(c.log == log, c.idx.in_(chunk))):
                out[r.idx] = _state(r)
        return out

    def states(self, log: int, idxs: Iterable[int]) -> dict[int, DerivedState]:
        """The cached derived state of each given index that has one."""
        with self._read() as conn:
            return self._states_in(conn, log, sorted(set(idxs)))

    def terms_of(self, log: int, idxs: Iterable[int]) -> dict[int, tuple[Term, ...]]:
        out: dict[int, list[Term]] = {}
        with self._read() as conn:
            for chunk in _chunks(sorted(set(idxs))):
                q = select(_terms).where(_terms.c.log == log, _terms.c.idx.in_(chunk)).order_by(_terms.c.idx)
                for r in conn.execute(q):
                    out.setdefault(r.idx, []).append(Term(r.name, r.value))
        return {i: tuple(ts) for i, ts in out.items()}

    def _edges_where(self, log: int, column, idxs: Iterable[int], *conditions) -> list[StoredEdge]:
        out: list[StoredEdge] = []
        with self._read() as conn:
            for chunk in _chunks(sorted(set(idxs))):
                q = select(_edges).where(_edges.c.log == log, column.in_(chunk), *conditions)
                out += [StoredEdge(r.source, r.target, r.type, r.position) for r in conn.execute(q)]
        out.sort(key=lambda e: (e.source, e.position if e.position is not None else 1 << 16, e.target, e.type))
        return out

    def edges_from(self, log: int, sources: Iterable[int]) -> list[StoredEdge]:
        """Edges whose source is one of ``sources``: what those records derive from."""
        return self._edges_where(log, _edges.c.source, sources)

    def edges_to(self, log: int, targets: Iterable[int], *, types: Iterable[str] | None = None,
                 source_from: int | None = None, source_below: int | None = None) -> list[StoredEdge]:  # fmt: skip
        """Edges whose target is one of ``targets``: what derives from those records;
        optionally only of these ``types`` and with a source in ``[source_from, source_below)``."""
        c = _edges.c
        conditions = [] if types is None else [c.type.in_(sorted(types))]
        if source_from is not None:
            conditions.append(c.source >= source_from)
        if source_below is not None:
            conditions.append(c.source < source_below)
        return self._edges_where(log, c.target, targets, *conditions)

    def edges_leaving(self, log: int, start: int, end: int, *, below: int) -> list[StoredEdge]:
        """Edges from a source in ``[start, end)`` to a target before ``below``."""
        c = _edges.c
        q = select(_edges).where(c.log == log, c.source >= start, c.source < end, c.target < below)
        with self._read() as conn:
            return [StoredEdge(r.source, r.target, r.type, r.position) for r in conn.execute(q)]

    def effect_rows(self, log: int) -> tuple[set[tuple[int, str, str]], set[tuple[int, int, str, int | None]],
                                            dict[int, DerivedState]]:  # fmt: skip
        """Every cached term ``(idx, name, value)``, edge ``(source, target, type, position)``
        and state of the log, for the audit to compare with its recomputation."""
        with self._read() as conn:
            terms = {(r.idx, r.name, r.value) for r in conn.execute(select(_terms).where(_terms.c.log == log))}
            edges = {
                (r.source, r.target, r.type, r.position)
                for r in conn.execute(select(_edges).where(_edges.c.log == log))
            }
            states = {r.idx: _state(r) for r in conn.execute(select(_states).where(_states.c.log == log))}
        return terms, edges, states

    def replace_effects(self, log: int, terms: set[tuple[int, str, str]], edges: set[tuple[int, int, str, int | None]],
                        states: dict[int, DerivedState], now: datetime) -> None:  # fmt: skip
        """Replace every cached term, edge and state of ``log`` (a rebuild from the log) and
        mark the rows as of ``EFFECTS_VERSION``, in one transaction."""
        from ledger.store.models import LogRow

        logs = LogRow.__table__
        with self._write() as conn:
            for table in (_terms, _edges, _states):
                conn.execute(delete(table).where(table.c.log == log))
            rows = [dict(log=log, idx=i, name=n, value=v) for i, n, v in sorted(terms)]
            for chunk in _chunks(rows, 5000):
                conn.execute(insert(_terms), list(chunk))
            rows = [dict(log=log, source=s, target=t, type=typ, position=p) for s, t, typ, p in sorted(edges, key=str)]
            for chunk in _chunks(rows, 5000):
                conn.execute(insert(_edges), list(chunk))
            rows = [dict(log=log, idx=i, **state_row(s), updated_at=now) for i, s in sorted(states.items())]
            for chunk in _chunks(rows, 5000):
                conn.execute(insert(_states), list(chunk))
            conn.execute(update(logs).where(logs.c.id == log).values(effects_version=EFFECTS_VERSION))

    # -- disclosures ---------------------------------------------------------------------

    def disclose(self, log: int, idx: int, grantees: Iterable[str], now: datetime) -> None:
        """Let each grantee read the payload of the record at ``idx`` (idempotent)."""
        with self._write() as conn:
            have = {
                r.grantee
                for r in conn.execute(select(_disclosures.c.grantee).where(_disclosures.c.log == log, _disclosures.c.idx == idx))
            }
            new = [dict(log=log, idx=idx, grantee=g, granted_at=now) for g in sorted(set(grantees) - have)]
            if new:
                conn.execute(insert(_disclosures), new)

    def withdraw(self, log: int, idx: int, grantee: str) -> bool:
        """End a disclosure; False if there was none. ``Forbidden`` for one the record's
        admission granted (``DisclosureRow.standing``)."""
        d = _disclosures.c
        with self._write() as conn:
            standing = conn.execute(
                select(d.standing).where(d.log == log, d.idx == idx, d.grantee == grantee)
            ).scalar_one_or_none()
            if standing:
                raise Forbidden(f"the record is disclosed to {grantee} as a party of its contract; that cannot be withdrawn")
            res = conn.execute(delete(_disclosures).where(d.log == log, d.idx == idx, d.grantee == grantee))
        return res.rowcount == 1

    def disclosed_to(self, log: int, idxs: Iterable[int], grantee: str) -> set[int]:
        """Which of ``idxs`` are disclosed to ``grantee``."""
        out: set[int] = set()
        with self._read() as conn:
            for chunk in _chunks(sorted(set(idxs))):
                q = select(_disclosures.c.idx).where(
                    _disclosures.c.log == log, _disclosures.c.grantee == grantee, _disclosures.c.idx.in_(chunk)
                )
                out.update(r.idx for r in conn.execute(q))
        return out

    @staticmethod
    def _visible_clause(log: int, address: str | None) -> ColumnElement[bool]:
        """Entries ``address`` may see: public ones, its own, and those disclosed to it."""
        if address is None:
            return _entries.c.visibility == "public"
        disclosed = (
            select(_disclosures.c.idx)
            .where(_disclosures.c.log == log, _disclosures.c.idx == _entries.c.idx, _disclosures.c.grantee == address)
            .exists()
        )
        return or_(_entries.c.visibility == "public", _entries.c.author == address, disclosed)

    def grantees(self, log: int, idx: int) -> list[str]:
        q = select(_disclosures.c.grantee).where(_disclosures.c.log == log, _disclosures.c.idx == idx)
        with self._read() as conn:
            return sorted(r.grantee for r in conn.execute(q))

