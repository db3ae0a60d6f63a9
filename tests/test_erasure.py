"""Erasure (crypto-shredding): ``Ledger.erase`` removes payload and salt, keeps the entry.

On SQLite the test reads the database files (``ledger.db``, ``-wal``, ``-shm``) byte by
byte: a unique marker in the payload, and the record's random salt, must be found there
before erasure (positive control: the search can see them) and nowhere after it. Then
the entry is still there, its receipt verifies without the payload, the whole tree
re-verifies from the entries, and the log seals again.

On PostgreSQL the same is checked through SQL only: payload and salt are NULL. A file
grep would be meaningless there: an UPDATE leaves the old row version in the heap (and
in the WAL) until VACUUM reclaims it, as the store's contract says, and the data
directory belongs to the server, not to the ledger.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_log_fixtures are parameters here)
from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from ledger_fixtures import World, check_whole_tree
from sqlalchemy import select
from test_log_fixtures import (  # noqa: F401
    backend_url,
    dataset,
    new_participant,
    shared_postgres_url,
    sqlite_world,
    world,
)

from ledger.access import ANONYMOUS, Viewer
from ledger.datadir import signed_submission
from ledger.errors import Forbidden, NotFound
from ledger.log import Ledger
from ledger.store.models import EntryRow
from ledger.verify import ChainRef, verify_receipt


def _db_files(w: World) -> list[Path]:
    db = Path(w.ledger.store.url.removeprefix("sqlite:///"))
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def _found_in(w: World, needle: bytes) -> list[str]:
    """The database files that contain ``needle`` anywhere in their raw bytes."""
    return [p.name for p in _db_files(w) if needle in p.read_bytes()]


def _verify(ledger: Ledger, receipt) -> None:
    verify_receipt(
        receipt, origin=ledger.origin, chain=ChainRef(ledger.log.chain_id, ledger.log.contract),
        note_key=ledger.log.note_vkey,
    )  # fmt: skip


def _submit_marked(w: World, *, large: bool = False, key: bytes | None = None) -> tuple[str, str, bytes]:
    """A dataset whose payload holds a fresh marker; returns (record id, marker, salt)."""
    marker = uuid.uuid4().hex
    extra = {"description": f"secret {marker} " + "x" * 3900} if large else {"location": f"vault {marker}"}
    sub = signed_submission(w.ledger, key or w.provider_key, kind="dataset", payload=dataset(f"ds {marker}", **extra))
    w.ledger.submit([sub])
    return sub.envelope.id, marker, sub.salt


def _after_erasure_everything_still_verifies(w: World, record_id: str) -> None:
    ledger = w.ledger
    entry = ledger.store.entry_by_record_id(ledger.log.id, record_id)
    assert entry.payload is None and entry.salt is None and entry.erased_at is not None
    # the author still gets the record and a receipt, just without the payload
    author = ledger.viewer_for(entry.author)
    out = ledger.record(record_id, author).to_json()
    assert "payload" not in out and out["erased_at"] is not None
    receipt = ledger.receipt(record_id, author)
    assert receipt.payload is None and receipt.salt is None
    _verify(ledger, receipt.to_json())
    size = check_whole_tree(ledger)
    # a fresh seal still works, and a receipt against it too
    more = signed_submission(ledger, w.provider_key, kind="dataset", payload=dataset(uuid.uuid4().hex))
    ledger.submit([more])
    cp = ledger.seal()
    assert cp.tree_size == size + 1
    _verify(ledger, ledger.receipt(record_id, author))


# -- SQLite: the bytes are gone from the files -------------------------------------------


@pytest.mark.parametrize("large", [False, True], ids=["inline", "overflow-pages"])
def test_erased_payload_and_salt_are_gone_from_the_sqlite_files(sqlite_world, large):
    w = sqlite_world
    record_id, marker, salt = _submit_marked(w, large=large)
    w.ledger.seal()
    # positive control: before erasure the search finds both
    assert _found_in(w, marker.encode()), "the marker is not in the database files before erasure"
    assert _found_in(w, salt), "the salt is not in the database files before erasure"

    w.ledger.erase(record_id, w.ledger.viewer_for(w.provider))

    assert _found_in(w, marker.encode()) == []
    assert _found_in(w, salt) == []
    _after_erasure_everything_still_verifies(w, record_id)
    assert _found_in(w, marker.encode()) == []


def test_erased_payload_is_gone_even_after_it_was_checkpointed_into_the_main_file(sqlite_world):
    """The payload reached ledger.db itself (WAL checkpointed) before it was erased."""
    w = sqlite_world
    record_id, marker, _ = _submit_marked(w)
    with w.ledger.store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert "ledger.db" in _found_in(w, marker.encode())
    w.ledger.erase(record_id, w.ledger.viewer_for(w.ledger.log.operator))
    assert _found_in(w, marker.encode()) == []
    _after_erasure_everything_still_verifies(w, record_id)


def test_erasure_while_another_connection_reads(sqlite_world):
    """A reader holds a snapshot (say a long query of another process) during the erasure.

    The WAL cannot be truncated past it, so the old page stays in the files: the store
    must then say the purge is pending (not return as if the bytes were gone), and a
    later ``purge`` (the API's sealer calls it on every poll) must finish the job.
    """
    w = sqlite_world
    store = w.ledger.store
    record_id, marker, _ = _submit_marked(w)
    reader = sqlite3.connect(_db_files(w)[0])
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM entries").fetchone()  # holds a read snapshot
        store.purge(busy_timeout_ms=200)
        w.ledger.erase(record_id, w.ledger.viewer_for(w.provider))
        assert store.purge_pending, "the reader blocks the WAL truncation, yet no purge is pending"
        assert store.purge(busy_timeout_ms=200) is False
    finally:
        reader.rollback()
        reader.close()
    assert store.purge() is True and not store.purge_pending
    assert _found_in(w, marker.encode()) == [], "the purge finished, but the payload is still in the files"


def test_erasing_a_participant_record_removes_its_name_from_the_files(sqlite_world):
    w = sqlite_world
    marker = uuid.uuid4().hex
    _, address = new_participant(w, ["consumer"], name=f"Sole trader {marker}")
    entry_idx = w.ledger.store.participant(w.ledger.log.id, address).entry_idx
    record_id = w.ledger.store.entry_at(w.ledger.log.id, entry_idx).record_id
    assert _found_in(w, marker.encode())
    w.ledger.erase(record_id, w.ledger.viewer_for(w.ledger.log.operator))
    assert w.ledger.store.entry_by_record_id(w.ledger.log.id, record_id).payload is None
    assert _found_in(w, marker.encode()) == []
    # the registration itself (address and roles) still stands
    assert w.ledger.store.participant(w.ledger.log.id, address).roles == frozenset({"consumer"})


# -- who may erase (SQLite) --------------------------------------------------------------


def test_only_the_author_or_the_operator_may_erase(sqlite_world):
    w = sqlite_world
    ledger = w.ledger
    _, other = new_participant(w, ["provider"], "Provider B")
    _, regulator = new_participant(w, ["regulator"], "Regulator")
    by_author, _, _ = _submit_marked(w)
    by_operator, _, _ = _submit_marked(w)
    for viewer in (ledger.viewer_for(other), ledger.viewer_for(regulator), ANONYMOUS, Viewer(other, frozenset({"provider"}))):
        with pytest.raises(Forbidden, match="only the author"):
            ledger.erase(by_author, viewer)
    assert ledger.store.entry_by_record_id(ledger.log.id, by_author).payload is not None

    erased = ledger.erase(by_author, ledger.viewer_for(w.provider))
    assert erased.payload is None and erased.salt is None and erased.erased_at is not None
    erased = ledger.erase(by_operator, ledger.viewer_for(ledger.log.operator))
    assert erased.payload is None and erased.salt is None
    _after_erasure_everything_still_verifies(w, by_author)
    _after_erasure_everything_still_verifies(w, by_operator)


def test_erasing_a_missing_record_is_not_found(sqlite_world):
    with pytest.raises(NotFound):
        sqlite_world.ledger.erase("no-such-record", sqlite_world.ledger.viewer_for(sqlite_world.ledger.log.operator))


def test_erasing_one_record_leaves_the_others_payloads(sqlite_world):
    w = sqlite_world
    erased_id, erased_marker, _ = _submit_marked(w)
    kept_id, kept_marker, _ = _submit_marked(w)
    w.ledger.erase(erased_id, w.ledger.viewer_for(w.provider))
    assert _found_in(w, erased_marker.encode()) == []
    assert _found_in(w, kept_marker.encode())
    kept = w.ledger.receipt(kept_id, w.ledger.viewer_for(w.provider))
    assert kept.payload["location"] == f"vault {kept_marker}"
    _verify(w.ledger, kept)


# -- both backends: NULLs in the row, proofs unchanged -----------------------------------


def test_erasure_nulls_payload_and_salt_and_keeps_every_proof(world):
    ledger = world.ledger
    record_id, marker, _ = _submit_marked(world)
    before_cp = ledger.seal()
    before_receipt = ledger.receipt(record_id, ledger.viewer_for(world.provider))
    ledger.erase(record_id, ledger.viewer_for(world.provider))

    table = EntryRow.__table__
    with ledger.store.engine.connect() as conn:
        row = conn.execute(
            select(table.c.payload, table.c.salt, table.c.erased_at, table.c.envelope, table.c.leaf_hash).where(
                table.c.log == ledger.log.id, table.c.record_id == record_id
            )
        ).one()
        stored_payloads = [bytes(p) for (p,) in conn.execute(select(table.c.payload).where(table.c.payload.is_not(None)))]
    assert row.payload is None and row.salt is None and row.erased_at is not None
    assert bytes(row.leaf_hash) == before_receipt.entry.leaf_hash()
    assert bytes(row.envelope) == before_receipt.entry.to_bytes()
    assert not any(marker.encode() in p for p in stored_payloads)
    # the checkpoint is unchanged and the old receipt, stripped of its payload, still verifies
    assert ledger.latest_checkpoint() == before_cp
    stripped = before_receipt.to_json()
    del stripped["payload"], stripped["salt"]
    _verify(ledger, stripped)
    _after_erasure_everything_still_verifies(world, record_id)


def test_erasure_of_a_participant_record_keeps_the_participant_registered(world):
    """Authorization is derived state: erasing the registration's payload does not unregister."""
    ledger = world.ledger
    reg_idx = ledger.store.participant(ledger.log.id, world.provider).entry_idx
    reg_id = ledger.store.entry_at(ledger.log.id, reg_idx).record_id
    ledger.erase(reg_id, ledger.viewer_for(ledger.log.operator))
    assert ledger.store.participant(ledger.log.id, world.provider).roles == {"provider", "producer"}
    _submit_marked(world)  # its records are still admitted
    _after_erasure_everything_still_verifies(world, reg_id)
