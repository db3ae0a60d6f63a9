"""One sealer/anchorer per log (DESIGN §9): ``SQLStore.try_lock_sealer`` on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ledger.store import SQLStore
from ledger.store.lease import SEALER_LOCK_CLASS

REPO = Path(__file__).resolve().parents[1]
LOG = 1


@pytest.fixture
def stores(database_url):
    """Two stores on one database, as two sealer processes would have."""
    first, second = SQLStore(database_url), SQLStore(database_url)
    yield first, second
    first.close()
    second.close()


def _acquire_within(store: SQLStore, log: int, seconds: float):
    deadline = time.monotonic() + seconds
    while True:
        lock = store.try_lock_sealer(log)
        if lock is not None or time.monotonic() > deadline:
            return lock
        time.sleep(0.05)


def test_sealer_lock_class_is_a_signed_int4():
    assert -(2**31) <= SEALER_LOCK_CLASS < 2**31


def test_first_holder_gets_it_and_a_second_store_gets_none(stores):
    first, second = stores
    lock = first.try_lock_sealer(LOG)
    assert lock is not None
    assert lock.alive()
    assert second.try_lock_sealer(LOG) is None
    assert first.try_lock_sealer(LOG) is None  # not re-entrant, even on the same store
    assert lock.alive()
    lock.release()


def test_different_logs_do_not_conflict(stores):
    first, second = stores
    a = first.try_lock_sealer(1)
    b = second.try_lock_sealer(2)
    assert a is not None and b is not None
    assert a.alive() and b.alive()
    assert first.try_lock_sealer(2) is None
    assert second.try_lock_sealer(1) is None
    a.release()
    b.release()


def test_after_release_the_second_acquires(stores):
    first, second = stores
    lock = first.try_lock_sealer(LOG)
    assert lock is not None
    assert second.try_lock_sealer(LOG) is None
    lock.release()
    assert not lock.alive()
    again = second.try_lock_sealer(LOG)
    assert again is not None and again.alive()
    assert first.try_lock_sealer(LOG) is None
    again.release()


def test_with_block_releases(stores):
    first, second = stores
    with first.try_lock_sealer(LOG) as lock:
        assert lock.alive()
        assert second.try_lock_sealer(LOG) is None
    assert not lock.alive()
    after = second.try_lock_sealer(LOG)
    assert after is not None
    after.release()


def test_with_block_releases_on_error(stores):
    first, second = stores
    with pytest.raises(RuntimeError, match="boom"):
        with first.try_lock_sealer(LOG):
            raise RuntimeError("boom")
    after = second.try_lock_sealer(LOG)
    assert after is not None
    after.release()


def test_release_is_idempotent(stores):
    first, second = stores
    lock = first.try_lock_sealer(LOG)
    assert lock is not None
    lock.release()
    lock.release()
    assert not lock.alive()
    # the second release must not drop a lock that someone else took in between
    other = second.try_lock_sealer(LOG)
    assert other is not None
    lock.release()
    assert other.alive()
    assert first.try_lock_sealer(LOG) is None
    other.release()


def test_log_id_outside_int4_is_refused(stores):
    first, _ = stores
    with pytest.raises(ValueError, match="int4"):
        first.try_lock_sealer(2**31)


@pytest.mark.slow
def test_sigkilled_holder_in_a_child_process_releases_the_lock(database_url):
    code = textwrap.dedent(
        f"""
        import sys, time
        from ledger.store import SQLStore
        lock = SQLStore(sys.argv[1]).try_lock_sealer({LOG})
        print("held" if lock is not None else "refused", flush=True)
        time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code, database_url], cwd=REPO, stdout=subprocess.PIPE, text=True)
    store = SQLStore(database_url)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        assert store.try_lock_sealer(LOG) is None
        time.sleep(0.2)
        assert store.try_lock_sealer(LOG) is None  # still held while the child lives
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
        lock = _acquire_within(store, LOG, 10)
        assert lock is not None, "the lock of a SIGKILLed holder was not released"
        assert lock.alive()
        lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        store.close()


def test_sqlite_lock_file_sits_next_to_the_database(sqlite_url):
    store = SQLStore(sqlite_url)
    path = Path(f"{make_url(sqlite_url).database}.sealer-7.lock")
    assert not path.exists()
    with store.try_lock_sealer(7) as lock:
        assert path.is_file()
        assert path.stat().st_mode & 0o777 == 0o600
        assert lock.alive()
    store.close()


def test_sqlite_lock_is_lost_when_its_file_is_removed(sqlite_url):
    first, second = SQLStore(sqlite_url), SQLStore(sqlite_url)
    lock = first.try_lock_sealer(LOG)
    assert lock is not None and lock.alive()
    os.unlink(f"{make_url(sqlite_url).database}.sealer-{LOG}.lock")
    assert not lock.alive()
    other = second.try_lock_sealer(LOG)  # a new file, so a new holder can exist
    assert other is not None and other.alive()
    lock.release()
    other.release()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_lock_is_process_local(url):
    store = SQLStore(url)
    lock = store.try_lock_sealer(LOG)
    assert lock is not None and lock.alive()
    lock.release()
    assert not lock.alive()
    lock.release()
    store.close()


@pytest.mark.postgres
def test_postgres_lock_dies_with_its_backend(postgres_url):
    first, second = SQLStore(postgres_url), SQLStore(postgres_url)
    try:
        lock = first.try_lock_sealer(LOG)
        assert lock is not None and lock.alive()
        pid = lock._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with second.engine.connect() as admin:
            holder = admin.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    " AND classid = CAST(CAST(:k1 AS int4) AS oid) AND objid = :k2 AND objsubid = 2"
                ),
                {"k1": SEALER_LOCK_CLASS, "k2": LOG},
            ).scalar_one()
            assert holder == pid
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        deadline = time.monotonic() + 10
        while lock.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not lock.alive()
        assert not lock.alive()  # stays lost; never answers from a reconnected session
        lock.release()  # no error on a lost session
        other = _acquire_within(second, LOG, 10)
        assert other is not None and other.alive()
        other.release()
    finally:
        first.close()
        second.close()


def test_postgres_unreachable_raises_operational_error():
    store = SQLStore("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(OperationalError):
            store.try_lock_sealer(LOG)
    finally:
        store.close()
