"""Storage of the ledger: SQLModel rows and the SQL store (SQLite, PostgreSQL)."""

from ledger.store.sql import SQLStore, make_engine
from ledger.store.values import (
    Appended,
    LogInfo,
    NewEntry,
    ParticipantInfo,
    StoredAnchor,
    StoredCheckpoint,
    StoredEntry,
    TokenInfo,
)

__all__ = [
    "SQLStore",
    "make_engine",
    "Appended",
    "LogInfo",
    "NewEntry",
    "ParticipantInfo",
    "StoredAnchor",
    "StoredCheckpoint",
    "StoredEntry",
    "TokenInfo",
]
