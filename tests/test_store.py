"""The SQL store's contract, run on SQLite and on PostgreSQL (issue 2, item 4)."""

from __future__ import annotations

import hashlib
import random

import pytest
from sqlalchemy import event, update

from ledger import merkle, tiles
from ledger.errors import Conflict, NotFound
from ledger.store import NewEntry, SQLStore
from ledger.store.models import TileRow


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
    """Run fn; return the SELECT statements it ran and how many tile rows it fetched."""
    statements: list[str] = []
    tiles_read: list[int] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    real_select_tiles = store._select_tiles

    def counting_select_tiles(conn, log_, keys):
        got = real_select_tiles(conn, log_, keys)
        tiles_read.append(len(got))
        return got

    store._select_tiles = counting_select_tiles
    try:
        fn()
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        del store._select_tiles
    return statements, sum(tiles_read)


def test_proofs_read_o_log_n_tiles(store, log):
    """Each proof reads the size once and at most 2 tiles per tile level, whatever n.

    Read fresh (no in-memory tile cache), so every tile the proof needs is counted. The
    proof path reads through the driver (the size, then one primary-key lookup per tile
    on SQLite, one query on PostgreSQL): no other statement may run.
    """
    rng = random.Random(3)
    batch = [_entry(i) for i in range(70_000)]
    for i in range(0, len(batch), 5000):
        store.append(log, batch[i : i + 5000])
    for size in (300, 5_000, 70_000):
        levels = 1 + (size.bit_length() - 1) // tiles.TILE_HEIGHT
        for _ in range(30):
            index = rng.randrange(size)
            statements, n_tiles = _count_reads(store, lambda: store.inclusion_proof(log, index, size, fresh=True))
            assert statements == [], statements
            assert 1 <= n_tiles <= 2 * levels, (size, index, n_tiles)
            size1 = rng.randint(1, size)
            statements, n_tiles = _count_reads(store, lambda: store.consistency_proof(log, size1, size, fresh=True))
            assert statements == [], statements
            assert 1 <= n_tiles <= 2 * levels + 2, (size1, size, n_tiles)


def test_cached_full_tiles_give_the_same_proofs_and_save_reads(store, log):
    entries = [_entry(i) for i in range(3 * 256 + 17)]
    hashes = [e.leaf_hash for e in entries]
    store.append(log, entries)
    size = len(entries)
    root = merkle.root_hash(hashes)
    for index in (0, 255, 256, 600, size - 1):
        first = store.inclusion_proof(log, index, size)  # fills the cache with full tiles
        _, n_fresh = _count_reads(store, lambda: store.inclusion_proof(log, index, size, fresh=True))
        _, n_cached = _count_reads(store, lambda: store.inclusion_proof(log, index, size))
        second = store.inclusion_proof(log, index, size)
        assert first == second == merkle.inclusion_proof(hashes, index, size)
        merkle.verify_inclusion(hashes[index], index, size, second, root)
        if index < 3 * 256:  # its own level-0 tile is full: cached, only partial tiles are read again
            assert n_cached < n_fresh, (index, n_cached, n_fresh)
        else:  # every tile on its path is partial: nothing to cache
            assert n_cached == n_fresh, (index, n_cached, n_fresh)


def test_fresh_reads_see_a_tampered_tile_that_the_cache_hides(store, log):
    """Why the sealer and the audit read fresh: the cache remembers what was stored."""
    entries = [_entry(i) for i in range(600)]
    store.append(log, entries)
    good = store.inclusion_proof(log, 3, 600)
    with store.engine.begin() as conn:
        conn.execute(
            update(TileRow.__table__)
            .where(TileRow.__table__.c.log == log, TileRow.__table__.c.level == 0, TileRow.__table__.c.idx == 0)
            .values(data=bytes(256 * 32))
        )
    assert store.inclusion_proof(log, 3, 600) == good  # from the cache
    assert store.inclusion_proof(log, 3, 600, fresh=True) != good


def test_statistics_refresh_points_are_powers_of_two_from_1024():
    from ledger.store.sql import _crossed_power_of_two

    assert _crossed_power_of_two(1023, 1024) and _crossed_power_of_two(0, 5000) and _crossed_power_of_two(4095, 4096)
    assert not _crossed_power_of_two(1024, 2047) and not _crossed_power_of_two(0, 1023)
    assert [n for n in range(1, 70_000) if _crossed_power_of_two(n - 1, n)] == [2**k for k in range(10, 17)]


def test_anchor_rows_keep_the_write_ahead_and_an_older_database_gains_its_columns(store, log, database_url):
    """A database made before the anchors' write-ahead columns existed gets them (nullable,
    ALTER TABLE ... ADD COLUMN) when the schema is created again; its rows are untouched."""
    from datetime import UTC, datetime

    from sqlalchemy import inspect, text

    from ledger.store import StoredAnchor

    sent_at = datetime(2026, 11, 27, 5, 0, 1, tzinfo=UTC)
    row = StoredAnchor(7, "0x" + "aa" * 32, 1, "0x" + "00" * 20, 3, None, None, "submitted", raw_tx=b"\x02raw",
                       max_fee_per_gas=3 * 10**9, max_priority_fee_per_gas=10**9, sent_at=sent_at)  # fmt: skip
    store.put_anchor(log, row)
    assert store.anchors(log) == [row]
    new_columns = ("raw_tx", "max_fee_per_gas", "max_priority_fee_per_gas", "sent_at")
    with store.engine.begin() as conn:
        for column in new_columns:  # back to the schema of the earlier release
            conn.execute(text(f'ALTER TABLE anchors DROP COLUMN "{column}"'))
    older = SQLStore(database_url)
    try:
        assert not set(new_columns) & {c["name"] for c in inspect(older.engine).get_columns("anchors")}
        older.create_schema()
        assert set(new_columns) <= {c["name"] for c in inspect(older.engine).get_columns("anchors")}
        [kept] = older.anchors(log)
        assert (kept.tx_hash, kept.nonce, kept.status, kept.raw_tx, kept.sent_at) == (row.tx_hash, 3, "submitted", None, None)
        older.put_anchor(log, row)
        assert older.anchors(log) == [row]
        older.create_schema()  # idempotent
    finally:
        older.close()


def test_list_entries_by_status_with_and_without_terms_matches_a_naive_filter(store, log):
    """The derived-status filter (``/v1/violations``) drives from record_states, or joins it
    by key under a term filter; either way the answer is the naive filter's, page by page."""
    from dataclasses import replace

    from ledger.effects import DerivedState, Term

    rng = random.Random(11)
    rows = []  # (status, agreement) per index
    batch = []
    for i in range(600):
        status = rng.choice(["permitted", "violation", "undetermined", None])
        agreement = rng.choice(["urn:uuid:a", "urn:uuid:b"])
        rows.append((status, agreement))
        batch.append(replace(_entry(i), terms=(Term("agreement", agreement),),
                             state=None if status is None else DerivedState(status)))  # fmt: skip
    for k in range(0, 600, 150):
        store.append(log, batch[k : k + 150])
    for terms in ((), (("agreement", "urn:uuid:b"),)):
        for status in ("violation", "permitted"):
            want = [i for i, (st, agr) in enumerate(rows) if st == status and (not terms or agr == terms[0][1])]
            got, start = [], 0
            while True:
                page = store.list_entries(log, start=start, limit=37, status=status, terms=terms, kind="dataset")
                got += [e.leaf_index for e in page]
                if len(page) < 37:
                    break
                start = page[-1].leaf_index + 1
            assert got == want and len(want) > 50, (terms, status)
    assert store.list_entries(log, status="violation", kind="access_event") == []
