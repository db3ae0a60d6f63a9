"""SQLModel tables of the ledger (DESIGN §5).

These classes define the schema only. Rows are written from typed, already validated
values by ``ledger.store.sql``, never built from raw wire input. Hashes and signed bytes
are stored as raw bytes (``LargeBinary``); the exact canonical envelope bytes are kept
(``entries.envelope``) and never rebuilt from the other columns, which exist for queries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class LogRow(SQLModel, table=True):
    """One append-only log (one data space). ``tree_size`` is the sequencer's counter."""

    __tablename__ = "logs"

    id: int | None = Field(default=None, primary_key=True)
    origin: str = Field(unique=True, max_length=255)
    log_id: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))  # SHA-256(origin)
    tree_size: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(max_length=42)
    operator: str = Field(max_length=42)
    note_vkey: str = Field(max_length=512)
    created_at: datetime
    #: Version of the effect rows (terms, edges, derived state) kept for this log. NULL on a
    #: log created before they existed: opening its data directory rebuilds them from the log.
    effects_version: int | None = Field(default=None)


class EntryRow(SQLModel, table=True):
    """One log entry. ``payload``/``salt`` are NULL once erased; the entry stays."""

    __tablename__ = "entries"
    __table_args__ = (
        UniqueConstraint("log", "record_id", name="uq_entries_record_id"),
        Index("ix_entries_leaf_hash", "log", "leaf_hash"),
        Index("ix_entries_author", "log", "author", "idx"),
        Index("ix_entries_kind", "log", "kind", "idx"),
        Index("ix_entries_issued", "log", "issued_us"),
    )

    log: int = Field(foreign_key="logs.id", primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    record_id: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    author: str = Field(max_length=42)
    issued_at: str = Field(max_length=40)
    #: ``issued_at`` in microseconds since the epoch, for period queries (the text does not
    #: sort: ``…:00Z`` > ``…:00.5Z``). NULL only on rows written before it existed.
    issued_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    visibility: str = Field(max_length=8)
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    payload: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    salt: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    erased_at: datetime | None = None
    appended_at: datetime


class TileRow(SQLModel, table=True):
    """The newest content of one C2SP tile; it only grows, so any prefix is an older version."""

    __tablename__ = "tiles"

    log: int = Field(foreign_key="logs.id", primary_key=True)
    level: int = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    #: For a full tile, its 255 interior node hashes (computed anyway to get its root),
    #: so proofs look subtrees up instead of hashing. Not served, not trusted by the
    #: sealer or the audit, which recompute from ``data`` (the audit checks these too).
    interior: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class CheckpointRow(SQLModel, table=True):
    """A signed checkpoint. At most one per (log, tree_size): the sealer never signs a fork."""

    __tablename__ = "checkpoints"

    log: int = Field(foreign_key="logs.id", primary_key=True)
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    note: str
    sealed_at: datetime


class AnchorRow(SQLModel, table=True):
    """One anchoring transaction of a checkpoint (DESIGN §5): a tree head sent to the registry.

    ``status``: submitted / mined / final / orphaned / failed. A checkpoint may have several
    rows (a resubmission after a drop or a reorg); at most one of them ends ``final``.
    """

    __tablename__ = "anchors"

    log: int = Field(foreign_key="logs.id", primary_key=True)
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    tx_hash: str = Field(primary_key=True, max_length=66)
    chain_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    contract: str = Field(max_length=42)
    nonce: int = Field(sa_column=Column(BigInteger, nullable=False))
    block_number: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    block_hash: str | None = Field(default=None, max_length=66)
    status: str = Field(max_length=10)
    updated_at: datetime
    # The write-ahead of the signed transaction (DESIGN §5 "submitted"): recorded before it
    # is broadcast, so a crash after sending loses nothing and it can be sent again as is.
    raw_tx: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    max_fee_per_gas: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    max_priority_fee_per_gas: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    sent_at: datetime | None = None


class ParticipantRow(SQLModel, table=True):
    """A registered participant, derived from the ``participant`` record at ``entry_idx``."""

    __tablename__ = "participants"

    log: int = Field(foreign_key="logs.id", primary_key=True)
    address: str = Field(primary_key=True, max_length=42)
    name: str = Field(max_length=255)
    legal_id: str = Field(max_length=255)
    roles: str = Field(max_length=255)  # comma-separated, sorted
    entry_idx: int = Field(sa_column=Column(BigInteger, nullable=False))
    registered_at: datetime


class TokenRow(SQLModel, table=True):
    """An API token, stored as SHA-256 of the token string; revocable."""

    __tablename__ = "api_tokens"

    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    log: int = Field(foreign_key="logs.id")
    address: str = Field(max_length=42)
    label: str = Field(default="", max_length=255)
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # short-lived access tokens (OAuth2 client credentials)


# -- effects of admission (DESIGN §8): caches of what the log says, recomputed by the audit --


class TermRow(SQLModel, table=True):
    """An index term a record is filed under (``product = urn:gtin:…``)."""

    __tablename__ = "record_terms"
    # Covering, so a record's terms are read by index (the key leads with name, value).
    __table_args__ = (Index("ix_record_terms_idx", "log", "idx", "name", "value"),)

    log: int = Field(foreign_key="logs.id", primary_key=True)
    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(primary_key=True, max_length=255)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class EdgeRow(SQLModel, table=True):
    """A typed edge from the record at ``source`` to the earlier record at ``target``."""

    __tablename__ = "record_edges"
    __table_args__ = (Index("ix_record_edges_target", "log", "target", "source"),)

    log: int = Field(foreign_key="logs.id", primary_key=True)
    source: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    target: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(primary_key=True, max_length=32)
    position: int | None = Field(default=None)  # the target's place in the envelope's parents, if it is one


class StateRow(SQLModel, table=True):
    """A record's derived state (a footprint's status), set by ``by`` (NULL: the record itself)."""

    __tablename__ = "record_states"
    __table_args__ = (Index("ix_record_states_status", "log", "status", "idx"),)

    log: int = Field(foreign_key="logs.id", primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    status: str = Field(max_length=32)
    reason: str = Field(default="", max_length=1000)
    by: str | None = Field(default=None, max_length=128)
    #: ``DerivedState.facts`` as a JSON object (canonical JSON); NULL when there are none.
    facts: str | None = Field(default=None)
    updated_at: datetime


class DisclosureRow(SQLModel, table=True):
    """The author of the record at ``idx`` lets ``grantee`` read its payload (and see it)."""

    __tablename__ = "disclosures"

    log: int = Field(foreign_key="logs.id", primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    grantee: str = Field(primary_key=True, max_length=42)
    granted_at: datetime
    #: Granted by the record's admission (the other party of a contract): cannot be withdrawn.
    standing: bool | None = Field(default=None)
