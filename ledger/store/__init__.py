"""Storage of the ledger: SQLModel rows and the SQL store (SQLite, PostgreSQL).

``SQLStore`` and ``make_engine`` are imported on first use, so that the pure value types
(``ledger.store.values``) come without SQLAlchemy: ``tdsl audit verify`` builds
``StoredEntry`` values for its replay and must run without the store (issue 11).
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from ledger.store.sql import SQLStore, make_engine


def __getattr__(name: str):
    if name in ("SQLStore", "make_engine"):
        from ledger.store import sql

        return getattr(sql, name)
    raise AttributeError(f"module 'ledger.store' has no attribute {name!r}")


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
