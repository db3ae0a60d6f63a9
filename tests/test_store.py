"""The SQL store's contract, run on SQLite and on PostgreSQL (issue 2, item 4)."""

from __future__ import annotations

import hashlib
import random

import pytest
from sqlalchemy import event

from ledger import merkle, tiles
from ledger.errors import Conflict, NotFound
from ledger.store import NewEntry, SQLStore


def _entry(i: int, tag: str = "") -> NewEntry:
    envelope = f'{{"id":"r{i}{tag}"}}'.encode()
    return NewEntry(
        record_id=f"r{i}", kind="dataset", author="0x" + "ab" * 20, issued_at="2026-11-27T00:00:00Z",
        leaf_hash=merkle.leaf_hash(envelope), envelope=envelope, payload=b"{}", salt=bytes(32), visibility="public",
    )


@pytest.fixture
def store(database_url):
    s = SQLStore(database_url)
    s.create_schema()
    yield s
    s.close()


@pytest.fixture
def log(store):
    return store.create_log(origin="store.test/log", chain_id=1, contract="0x" + "00" * 20,
                            operator="0x" + "11" * 20, note_vkey="k").id


def test_append_assigns_consecutive_indexes_and_tiles_match(store, log):
    rng = random.Random(7)
    entries = [_entry(i) for i in range(3000)]
    pos = 0
    while pos < len(entries):
        n = rng.choice([1, 2, 255, 256, 257, 700])
        out = store.append(log, entries[pos : pos + n])
        assert [a.leaf_index for a in out] == list(range(pos, pos + len(out)))
        pos += len(out)
    hashes = [e.leaf_hash for e in entries]
    assert store.tree_size(log) == 3000
    for size in (1, 255, 256, 257, 1000, 2999, 3000):
        assert store.root_at(log, size) == merkle.root_hash(hashes[:size])
    for _ in range(200):
        size = rng.randint(1, 3000)
        index = rng.randrange(size)
        assert store.inclusion_proof(log, index, size) == merkle.inclusion_proof(hashes, index, size)
        size1 = rng.randint(0, size)
        assert store.consistency_proof(log, size1, size) == merkle.consistency_proof(hashes, size1, size)


def test_same_record_twice_is_idempotent(store, log):
    store.append(log, [_entry(0), _entry(1)])
    again = store.append(log, [_entry(1), _entry(2)])
    assert [(a.leaf_index, a.duplicate) for a in again] == [(1, True), (2, False)]
    assert store.tree_size(log) == 3


def test_same_id_other_content_conflicts_and_stores_nothing(store, log):
    store.append(log, [_entry(0)])
    with pytest.raises(Conflict, match="r0"):
        store.append(log, [_entry(1), _entry(0, tag="-changed")])
    assert store.tree_size(log) == 1
    with pytest.raises(NotFound):
        store.entry_by_record_id(log, "r1")


def test_same_id_twice_in_one_batch_with_other_content_conflicts(store, log):
    with pytest.raises(Conflict):
        store.append(log, [_entry(5), _entry(5, tag="-x")])
    assert store.tree_size(log) == 0


def test_proofs_beyond_the_tree_are_refused(store, log):
    store.append(log, [_entry(i) for i in range(10)])
    with pytest.raises(NotFound):
        store.inclusion_proof(log, 3, 11)
    with pytest.raises(NotFound):
        store.inclusion_proof(log, 10, 10)
    with pytest.raises(NotFound):
        store.consistency_proof(log, 5, 4)


def test_checkpoint_at_same_size_with_other_root_is_a_conflict(store, log):
    store.add_checkpoint(log, 0, merkle.EMPTY_ROOT, "note a")
    assert store.add_checkpoint(log, 0, merkle.EMPTY_ROOT, "note b").note == "note a"
    with pytest.raises(Conflict):
        store.add_checkpoint(log, 0, hashlib.sha256(b"x").digest(), "note c")


def test_erase_removes_payload_and_salt_only(store, log):
    store.append(log, [_entry(0)])
    erased = store.erase_payload(log, "r0")
    assert erased.payload is None and erased.salt is None and erased.erased_at is not None
    assert erased.leaf_hash == _entry(0).leaf_hash and erased.envelope == _entry(0).envelope


def _count_reads(store: SQLStore, fn):
    statements: list[str] = []
    tiles_read: list[int] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    real_get_tiles = store.get_tiles

    def counting_get_tiles(log_, keys):
        got = real_get_tiles(log_, keys)
        tiles_read.append(len(got))
        return got

    store.get_tiles = counting_get_tiles
    try:
        fn()
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        del store.get_tiles
    return statements, sum(tiles_read)


def test_proofs_read_o_log_n_tiles_in_two_queries(store, log):
    """Each proof costs 2 SELECTs (size, tiles) and at most 2 tiles per tile level, whatever n."""
    rng = random.Random(3)
    batch = [_entry(i) for i in range(70_000)]
    for i in range(0, len(batch), 5000):
        store.append(log, batch[i : i + 5000])
    for size in (300, 5_000, 70_000):
        levels = 1 + (size.bit_length() - 1) // tiles.TILE_HEIGHT
        for _ in range(30):
            index = rng.randrange(size)
            statements, n_tiles = _count_reads(store, lambda: store.inclusion_proof(log, index, size))
            assert len(statements) == 2, statements
            assert n_tiles <= 2 * levels, (size, index, n_tiles)
            size1 = rng.randint(1, size)
            statements, n_tiles = _count_reads(store, lambda: store.consistency_proof(log, size1, size))
            assert len(statements) == 2, statements
            assert n_tiles <= 2 * levels + 2, (size1, size, n_tiles)
