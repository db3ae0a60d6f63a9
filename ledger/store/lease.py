"""One sealer/anchorer per log: an exclusive lock that a process holds while it runs them.

What is locked: the right to run the sealer/anchorer of one log. Writes are not locked:
appends stay concurrent with each other and with the sealer (they have their own locking).

On what:

- PostgreSQL: the session-level advisory lock ``(SEALER_LOCK_CLASS, log)``, taken with
  ``pg_try_advisory_lock`` on a connection of its own that stays checked out until
  ``release``. The lock lives as long as that database session.
- SQLite: ``flock(LOCK_EX | LOCK_NB)`` on the file ``<database file>.sealer-<log>.lock``
  (created with mode 0600 and never removed). An in-memory database belongs to one
  process, so its lock is a process-local object that is always granted.

When the holding process dies, the lock goes with it: the kernel releases its flock, and
PostgreSQL ends its session, and with it the session's advisory locks, when the
connection drops. A PostgreSQL session can also be lost while the process lives on;
``alive()`` then answers False and the sealer must stop.

Errors: there is no store-availability error in ``ledger.errors``, so an unreachable
PostgreSQL raises SQLAlchemy's ``OperationalError``; a lock file that cannot be opened
raises ``OSError``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

#: First advisory-lock key of every TDS Ledger sealer lock: the first four bytes of
#: SHA-256("tdsl-sealer") as a signed int4. The second key is the log id.
SEALER_LOCK_CLASS = int.from_bytes(hashlib.sha256(b"tdsl-sealer").digest()[:4], "big", signed=True)

_INT4_MIN, _INT4_MAX = -(2**31), 2**31 - 1


class SealerLock:
    """The held right to run the sealer/anchorer of one log, until ``release``."""

    def alive(self) -> bool:
        """Whether the lock is still held."""
        raise NotImplementedError

    def release(self) -> None:
        """Give the lock up; calling it again does nothing."""
        raise NotImplementedError

    def __enter__(self) -> SealerLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class _LocalLock(SealerLock):
    """An in-memory SQLite database: no other process can reach it, so always granted."""

    def __init__(self) -> None:
        self._held = True

    def alive(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False


class _FileLock(SealerLock):
    """An exclusive flock on an open file description of the lock file."""

    def __init__(self, path: str, fd: int) -> None:
        self._path = path
        self._fd: int | None = fd
        self._mutex = threading.Lock()

    def alive(self) -> bool:
        # Held while our descriptor is open and the file at the path is still the one we
        # locked: if the file was removed, another process could lock a new one there.
        with self._mutex:
            if self._fd is None:
                return False
            try:
                ours, there = os.fstat(self._fd), os.stat(self._path)
            except OSError:
                return False
            return (ours.st_dev, ours.st_ino) == (there.st_dev, there.st_ino)

    def release(self) -> None:
        with self._mutex:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor of the description drops the flock


class _AdvisoryLock(SealerLock):
    """A PostgreSQL session-level advisory lock held on a dedicated connection."""

    def __init__(self, conn: Connection, log: int) -> None:
        self._conn: Connection | None = conn
        self._log = log
        self._mutex = threading.Lock()

    def alive(self) -> bool:
        with self._mutex:
            if self._conn is None:
                return False
            try:
                held = self._conn.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND granted AND objsubid = 2"
                        " AND classid = CAST(CAST(:k1 AS int4) AS oid)"
                        " AND objid = CAST(CAST(:k2 AS int4) AS oid))"
                    ),
                    {"k1": SEALER_LOCK_CLASS, "k2": self._log},
                ).scalar_one()
            except SQLAlchemyError:
                held = False
            if not held:
                # Lost for good: a pooled connection may later reconnect to a new session
                # that does not hold the lock, so never ask again.
                self._discard()
            return bool(held)

    def release(self) -> None:
        with self._mutex:
            if self._conn is None:
                return
            try:
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k1, :k2)"), {"k1": SEALER_LOCK_CLASS, "k2": self._log}
                )
            except SQLAlchemyError:
                pass  # session already gone, and its locks with it
            finally:
                self._discard()

    def _discard(self) -> None:
        # Close the DBAPI connection instead of pooling it: ending the session is the
        # certain way to drop the lock even if the unlock above did not run.
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
            finally:
                conn.close()


def try_lock_sealer(engine: Engine, url: str, log: int) -> SealerLock | None:
    """Take the sealer lock of ``log`` on the database at ``url``; None if another holds it.

    Never blocks. Two calls for the same log exclude each other even in one process (each
    takes its own connection or open file description).
    """
    if not _INT4_MIN <= log <= _INT4_MAX:
        raise ValueError(f"log id must fit in int4 for an advisory lock, got {log}")
    if engine.dialect.name == "postgresql":
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:k1, :k2)"), {"k1": SEALER_LOCK_CLASS, "k2": log}
            ).scalar_one()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return None
        return _AdvisoryLock(conn, log)
    if engine.dialect.name != "sqlite":
        raise ValueError(f"no sealer lock for the {engine.dialect.name} dialect")
    database = make_url(url).database
    if not database or database == ":memory:":
        return _LocalLock()
    path = f"{database}.sealer-{log}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return _FileLock(path, fd)
