"""Typed values the store takes and returns. No dicts cross the store's boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.effects import DerivedState, Edge, StateChange, Term


@dataclass(frozen=True, slots=True)
class LogInfo:
    """A log's identity and current size. ``log_id`` = SHA-256(origin) (DESIGN §4)."""

    id: int
    origin: str
    log_id: bytes
    tree_size: int
    chain_id: int
    contract: str
    operator: str
    note_vkey: str
    effects_version: int | None = None  # see ``LogRow.effects_version``


@dataclass(frozen=True, slots=True)
class ParticipantInfo:
    address: str
    name: str
    legal_id: str
    roles: frozenset[str]
    entry_idx: int = -1  # filled in by the store when the registering entry is appended


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An admitted record, ready to append. ``envelope`` holds the exact leaf input bytes."""

    record_id: str
    kind: str
    author: str
    issued_at: str
    leaf_hash: bytes
    envelope: bytes
    payload: bytes | None
    salt: bytes | None
    visibility: str
    registers: ParticipantInfo | None = None  # a participant record's effect, applied atomically
    issued_us: int | None = None  # issued_at in microseconds since the epoch
    # Effects of admission (``ledger.effects``), written in the same transaction. Edges,
    # state changes and parent positions name their targets by record id; the store
    # resolves them to indexes (earlier in the batch or already stored).
    terms: tuple[Term, ...] = ()
    edges: tuple[tuple[Edge, int | None], ...] = ()  # (edge, position among the parents or None)
    state: DerivedState | None = None
    changes: tuple[StateChange, ...] = ()
    discloses: tuple[str, ...] = ()  # addresses the payload is disclosed to on admission
    # Compare-and-swap: (record id, derived state or None) of the stored records whose
    # state admission relied on, as they stood when the batch's admission began.
    expects: tuple[tuple[str, DerivedState | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Appended:
    """The outcome of appending one record: its index, and whether it was already there."""

    record_id: str
    leaf_index: int
    leaf_hash: bytes
    duplicate: bool
    state: DerivedState | None = None  # the record's own derived state as admitted (None for a duplicate)


@dataclass(frozen=True, slots=True)
class StoredEntry:
    leaf_index: int
    leaf_hash: bytes
    record_id: str
    kind: str
    author: str
    issued_at: str
    visibility: str
    envelope: bytes
    payload: bytes | None
    salt: bytes | None
    erased_at: datetime | None
    appended_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str
    sealed_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAnchor:
    """An anchoring transaction of the checkpoint at ``tree_size``."""

    tree_size: int
    tx_hash: str
    chain_id: int
    contract: str
    nonce: int
    block_number: int | None
    block_hash: str | None
    status: str  # submitted / mined / final / orphaned / failed
    # the signed transaction and its EIP-1559 fees, written before it is broadcast
    raw_tx: bytes | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None  # None: until revoked
    #: The holder's roles as a participant of the token's log, read with the token in one
    #: statement (a request authenticates in one round trip); None: not a participant.
    holder_roles: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class StoredEdge:
    """A typed edge between two stored records (by leaf index)."""

    source: int
    target: int
    type: str
    position: int | None
