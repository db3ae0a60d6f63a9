"""What the ledger answers about records: ``RecordView`` (a record as one viewer may see
it) and ``RecordQuery`` (the filters of ``Ledger.list_records``, DESIGN §10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.canonical import parse_json
from ledger.effects import DerivedState, Term
from ledger.envelope import Envelope
from ledger.store import StoredEntry


def z_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RecordView:
    """A stored record as one viewer may see it (payload only when allowed)."""

    entry: StoredEntry
    envelope: Envelope
    payload_visible: bool
    state: DerivedState | None = None
    terms: tuple[Term, ...] = ()

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        out: dict[str, Any] = {
            "id": e.record_id,
            "kind": e.kind,
            "author": e.author,
            "leaf_index": e.leaf_index,
            "leaf_hash": e.leaf_hash.hex(),
            "visibility": e.visibility,
            "envelope": self.envelope.to_json(),
            "appended_at": z_time(e.appended_at),
            "erased_at": z_time(e.erased_at),
            "terms": [{"name": t.name, "value": t.value} for t in self.terms],
            "state": state_json(self.state),
        }
        payload = self.payload_json()
        if payload is not None:
            out["payload"] = payload
            out["salt"] = e.salt.hex() if e.salt is not None else None
        return out

    def payload_json(self) -> Any:
        """The payload as JSON, or None where the viewer may not read it (or it was erased)."""
        if self.payload_visible and self.entry.payload is not None:
            return parse_json(self.entry.payload)
        return None


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """Filters of ``Ledger.list_records`` (DESIGN §10); every one must match."""

    kind: str | None = None
    author: str | None = None
    terms: tuple[tuple[str, str], ...] = ()  # (name, value): product, dataset, agreement, company
    since: datetime | None = None  # issued_at at or after
    until: datetime | None = None  # issued_at at or before
    status: str | None = None  # derived status (an access event's ``violation``)


def state_json(state: DerivedState | None) -> dict[str, Any] | None:
    """A derived state as the API and the CLI show it."""
    if state is None:
        return None
    return {"status": state.status, "reason": state.reason or None, "by": state.by, "facts": dict(state.facts)}
