"""The SQL store: SQLite (default) and PostgreSQL, through SQLAlchemy Core.

Contract (what callers may rely on):

- ``append`` is atomic and durable once it returns: either every record of the batch is
  stored with its index, tiles and the new tree size, or nothing is. SQLite runs in WAL
  mode with ``synchronous=FULL``; PostgreSQL commits synchronously.
- Indexes are assigned gap-free and exactly once under concurrent writers, in any number
  of processes: SQLite takes the database write lock up front (``BEGIN IMMEDIATE``),
  PostgreSQL takes a row lock on the log (``SELECT … FOR UPDATE``), before reading the size.
- Appending a record id that is already stored with the same leaf hash returns its
  existing index (``duplicate=True``); with another leaf hash it raises ``Conflict`` and
  the whole batch is rolled back.
- Tiles only grow; every proof is computed from O(log n) tiles fetched in one query.
- ``erase_payload`` removes payload and salt; on SQLite ``secure_delete`` zeroes the
  freed bytes and the WAL is checkpointed and truncated, so the payload is gone from the
  files. (On PostgreSQL old row versions stay until VACUUM reclaims them.)
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, create_engine, event, func, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from ledger import merkle, tiles
from ledger.effects import DerivedState
from ledger.errors import ConfigError, Conflict, CorruptStore, NotFound
from ledger.store import lease
from ledger.store.effects import EFFECTS_VERSION, EffectsStore, state_of_row
from ledger.store.models import (
    AnchorRow,
    CheckpointRow,
    EntryRow,
    LogRow,
    ParticipantRow,
    StateRow,
    TermRow,
    TileRow,
    TokenRow,
)
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

_logs = LogRow.__table__
_entries = EntryRow.__table__
_tiles = TileRow.__table__
_checkpoints = CheckpointRow.__table__
_participants = ParticipantRow.__table__
_anchors = AnchorRow.__table__
_tokens = TokenRow.__table__
_terms = TermRow.__table__
_states = StateRow.__table__

_IN_CHUNK = 500  # keep IN lists well under every backend's bound-parameter limit
#: Full tiles kept in memory with their interior nodes, 16 KiB each: 4096 tiles = 64 MiB,
#: enough for every level-0 tile of a log of a million entries.
FULL_TILE_CACHE = 4096


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_reader(path: str | None) -> sqlite3.Connection:
    """A read-only connection to the SQLite file for ``SQLStore._point_read``: autocommit
    (each statement its own snapshot), ``query_only`` so it can never write."""
    if not path or path == ":memory:":
        raise ConfigError("the ledger's SQLite database must be a file")
    conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    for pragma in ("query_only=ON", "busy_timeout=60000", "mmap_size=268435456"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _utc(value: datetime | str | None) -> datetime | None:
    """A timestamp column read through the driver, as an aware UTC datetime: SQLite hands
    back the text SQLAlchemy wrote (naive, meant as UTC), PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _crossed_power_of_two(old: int, new: int) -> bool:
    """Whether growing from ``old`` to ``new`` reached a power of two ≥ 1024 above ``old``."""
    return new >= max(1024, 1 << old.bit_length())


def _anchor(r) -> StoredAnchor:
    sent_at = r.sent_at
    if sent_at is not None and sent_at.tzinfo is None:  # stored without a zone, as UTC
        sent_at = sent_at.replace(tzinfo=UTC)
    return StoredAnchor(
        r.tree_size, r.tx_hash, r.chain_id, r.contract, r.nonce, r.block_number, r.block_hash, r.status,
        raw_tx=None if r.raw_tx is None else bytes(r.raw_tx), max_fee_per_gas=r.max_fee_per_gas,
        max_priority_fee_per_gas=r.max_priority_fee_per_gas, sent_at=sent_at,
    )  # fmt: skip


def make_engine(url: str) -> Engine:
    """An engine configured for the ledger's durability and locking rules."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # pragma: no cover - driver callback
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
            cur = dbapi_conn.cursor()
            for pragma in (
                "journal_mode=WAL",
                "synchronous=FULL",
                "foreign_keys=ON",
                "secure_delete=ON",
                "busy_timeout=60000",
                "cache_size=-65536",  # 64 MiB page cache per connection: keeps hot tiles in memory
                "mmap_size=268435456",  # read through mmap: fewer syscalls on large logs
            ):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:  # pragma: no cover - driver callback
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # Timestamps are stored without a zone and meant as UTC: make every session agree.
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})


class SQLStore(EffectsStore):
    """The ledger's rows on one database. Thread-safe; share one per process."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite: a WAL checkpoint+truncate owed after an erasure (see ``purge``). True at
        # start so the first ``purge`` also clears what an earlier process may have left.
        self.purge_pending = self.is_sqlite
        self._full_tiles: OrderedDict[tuple[int, int, int], tiles.FullTile] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._point_conns = threading.local()  # each thread's connection for ``_point_read``
        self._all_point_conns: list = []

    def create_schema(self) -> None:
        """Create missing tables, and add nullable columns a newer release introduced.

        The only migration there is: a column added to a model later is nullable and is
        added with ``ALTER TABLE ... ADD COLUMN`` to a database created before it (e.g.
        the anchors' write-ahead columns). Nothing is ever dropped or rewritten.
        """
        SQLModel.metadata.create_all(self.engine)
        have = inspect(self.engine)
        with self._write() as conn:
            for table in SQLModel.metadata.sorted_tables:
                present = {c["name"] for c in have.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in present and column.nullable:
                        kind = column.type.compile(dialect=self.engine.dialect)
                        conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
            self._backfill_issued_us(conn)

    @staticmethod
    def _backfill_issued_us(conn: Connection) -> None:
        """Entries written before ``issued_us`` existed get it from their ``issued_at``."""
        from ledger.envelope import parse_issued_at  # the one parser of the format

        # per log, so that the (log, issued_us) index finds the NULLs: without ``log =`` SQLite
        # scanned the whole entries table on every open (0.76 s and 230 MiB mapped at 10^6)
        logs = [r.id for r in conn.execute(select(_logs.c.id))]
        rows = [r for log in logs for r in conn.execute(
            select(_entries.c.log, _entries.c.idx, _entries.c.issued_at)
            .where(_entries.c.log == log, _entries.c.issued_us.is_(None))
        )]  # fmt: skip
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        for r in rows:
            us = (parse_issued_at(r.issued_at) - epoch) // timedelta(microseconds=1)
            conn.execute(update(_entries).where(_entries.c.log == r.log, _entries.c.idx == r.idx).values(issued_us=us))

    def close(self) -> None:
        with self._cache_lock:
            conns, self._all_point_conns = self._all_point_conns, []
        for conn in conns:
            conn.close()
        self._point_conns = threading.local()
        self.engine.dispose()

    def try_lock_sealer(self, log: int) -> lease.SealerLock | None:
        """The right to run the sealer/anchorer of ``log``, or None while another holds it.

        Never blocks; see ``ledger.store.lease`` for what is locked and how.
        """
        return lease.try_lock_sealer(self.engine, self.url, log)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def _point_read(self, sql: str, params: tuple) -> tuple | None:
        """One row of one statement, straight through the driver, on a connection of this
        thread's own (autocommit, read-only; opened on first use, closed by ``close``).

        For the reads every request makes (its token, the author's roles, the tree size):
        SQLAlchemy's statement layer, a pool checkout and an explicit transaction cost ~20
        times the read itself on SQLite (460 µs against 24 µs for a token), and on
        PostgreSQL three round trips (ping, query, rollback) where one does. One statement
        sees one committed state on both databases, so no transaction is needed around it.
        ``sql`` uses ``?`` placeholders.
        """
        conn = getattr(self._point_conns, "conn", None)
        if conn is None:
            conn = self._point_conns.conn = self._point_reader()
        if self.is_sqlite:
            rows = conn.execute(sql, params).fetchall()  # run to the end: no read snapshot stays open
            return rows[0] if rows else None
        import psycopg

        try:
            return conn.execute(sql.replace("?", "%s"), params).fetchone()
        except psycopg.OperationalError:  # the server restarted or dropped us: reconnect once
            conn.close()
            conn = self._point_conns.conn = self._point_reader()
            return conn.execute(sql.replace("?", "%s"), params).fetchone()

    def _point_reader(self):
        if self.is_sqlite:
            conn = _sqlite_reader(self.engine.url.database)
        else:
            import psycopg

            conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = psycopg.connect(conninfo, autocommit=True, options="-c timezone=UTC -c default_transaction_read_only=on")
        with self._cache_lock:
            self._all_point_conns.append(conn)
        weakref.finalize(self, conn.close)  # a store dropped without ``close`` still closes it
        return conn

    # -- logs ----------------------------------------------------------------------

    def create_log(
        self, *, origin: str, chain_id: int, contract: str, operator: str, note_vkey: str
    ) -> LogInfo:
        row = dict(
            origin=origin,
            log_id=hashlib.sha256(origin.encode()).digest(),
            tree_size=0,
            chain_id=chain_id,
            contract=contract,
            operator=operator,
            note_vkey=note_vkey,
            created_at=_now(),
            effects_version=EFFECTS_VERSION,
        )
        try:
            with self._write() as conn:
                conn.execute(insert(_logs).values(**row))
        except IntegrityError as e:
            raise Conflict(f"a log with origin {origin!r} already exists") from e
        return self.get_log(origin)

    def get_log(self, origin: str | None = None) -> LogInfo:
        """The log with this origin, or the only log when origin is None."""
        with self._read() as conn:
            q = select(_logs)
            if origin is not None:
                q = q.where(_logs.c.origin == origin)
            rows = conn.execute(q.order_by(_logs.c.id).limit(2)).all()
        if not rows or (origin is None and len(rows) > 1):
            raise NotFound(f"no log {origin!r}" if origin else "expected exactly one log in the store")
        r = rows[0]
        return LogInfo(r.id, r.origin, bytes(r.log_id), r.tree_size, r.chain_id, r.contract, r.operator, r.note_vkey,
                       r.effects_version)  # fmt: skip

    def tree_size(self, log: int) -> int:
        row = self._point_read("SELECT tree_size FROM logs WHERE id = ?", (log,))
        if row is None:
            raise NotFound(f"no log {log}")
        return row[0]

    # -- appending -----------------------------------------------------------------

    def append(self, log: int, batch: Sequence[NewEntry]) -> list[Appended]:
        """Append a batch atomically; see the module contract."""
        if not batch:
            return []
        now = _now()
        with self._write() as conn:
            size = conn.execute(
                select(_logs.c.tree_size).where(_logs.c.id == log).with_for_update()
            ).scalar_one()
            batch_ids = {e.record_id for e in batch}
            known = self._indexes_of(conn, log, batch_ids | self._effect_targets(batch))
            new_ids = {e.record_id for e in batch if e.record_id not in known}
            self._check_expected(conn, log, [e for e in batch if e.record_id in new_ids], known, new_ids)
            results: list[Appended] = []
            rows: list[dict] = []
            placed: list[tuple[int, NewEntry]] = []
            hashes: list[bytes] = []
            registrations: list[ParticipantInfo] = []
            for e in batch:
                prior = known.get(e.record_id)
                if prior is not None:
                    idx, lh = prior
                    if lh != e.leaf_hash:
                        raise Conflict(
                            f"record id {e.record_id!r} is already stored at leaf {idx} with other content"
                        )
                    results.append(Appended(e.record_id, idx, lh, True))
                    continue
                idx = size + len(rows)
                known[e.record_id] = (idx, e.leaf_hash)
                hashes.append(e.leaf_hash)
                rows.append(
                    dict(
                        log=log, idx=idx, leaf_hash=e.leaf_hash, record_id=e.record_id, kind=e.kind,
                        author=e.author, issued_at=e.issued_at, issued_us=e.issued_us, visibility=e.visibility,
                        envelope=e.envelope, payload=e.payload, salt=e.salt, erased_at=None,
                        appended_at=now,
                    )
                )
                if e.registers is not None:
                    registrations.append(
                        ParticipantInfo(e.registers.address, e.registers.name, e.registers.legal_id,
                                        e.registers.roles, idx)
                    )
                placed.append((idx, e))
                results.append(Appended(e.record_id, idx, e.leaf_hash, False, e.state))
            if rows:
                conn.execute(insert(_entries), rows)
                self._write_effects(conn, log, placed, known, now)
                self._write_tiles(conn, log, size, hashes)
                for p in registrations:
                    self._put_participant(conn, log, p, now)
                conn.execute(update(_logs).where(_logs.c.id == log).values(tree_size=size + len(rows)))
        if rows and not self.is_sqlite and _crossed_power_of_two(size, size + len(rows)):
            self._analyze()
        return results

    def _analyze(self) -> None:
        """PostgreSQL: refresh planner statistics as a log grows.

        Without statistics (autovacuum off, or a fast-growing fresh table) the planner
        has been seen to answer the duplicate-id lookup by scanning the log through
        another index, making appends slow down linearly. Run when the log's size
        crosses a power of two from 1024 on, so O(log n) times over its life.
        """
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE entries")
            conn.exec_driver_sql("ANALYZE tiles")

    def _indexes_of(self, conn: Connection, log: int, record_ids: set[str]) -> dict[str, tuple[int, bytes]]:
        found: dict[str, tuple[int, bytes]] = {}
        ids = sorted(record_ids)
        for i in range(0, len(ids), _IN_CHUNK):
            q = select(_entries.c.record_id, _entries.c.idx, _entries.c.leaf_hash).where(
                _entries.c.log == log, _entries.c.record_id.in_(ids[i : i + _IN_CHUNK])
            )
            for r in conn.execute(q):
                found[r.record_id] = (r.idx, bytes(r.leaf_hash))
        return found

    def _write_tiles(self, conn: Connection, log: int, old_size: int, hashes: list[bytes]) -> None:
        existing: set[tiles.TileKey] = set()

        def read_tile(level: int, idx: int) -> bytes:
            existing.add((level, idx))
            q = select(_tiles.c.data).where(_tiles.c.log == log, _tiles.c.level == level, _tiles.c.idx == idx)
            data = conn.execute(q).scalar_one_or_none()
            if data is None:
                raise NotFound(f"partial tile {level}/{idx} is missing from the store")
            return bytes(data)

        filled: dict[tiles.TileKey, bytes] = {}
        changed = tiles.append_to_tiles(
            old_size, hashes, read_tile, on_full=lambda key, full: filled.__setitem__(key, full.interior)
        )
        new_rows = []
        for (level, idx), data in changed.items():
            interior = filled.get((level, idx))
            if (level, idx) in existing:
                conn.execute(
                    update(_tiles)
                    .where(_tiles.c.log == log, _tiles.c.level == level, _tiles.c.idx == idx)
                    .values(data=data, interior=interior)
                )
            else:
                new_rows.append(dict(log=log, level=level, idx=idx, data=data, interior=interior))
        if new_rows:
            conn.execute(insert(_tiles), new_rows)

    # -- tiles and proofs ----------------------------------------------------------

    def get_tiles(self, log: int, keys: Iterable[tiles.TileKey]) -> dict[tiles.TileKey, bytes]:
        """The stored bytes of the given tiles, read fresh from the database."""
        with self._read() as conn:
            return {k: data for k, (data, _) in self._select_tiles(conn, log, keys).items()}

    def get_interiors(self, log: int, keys: Iterable[tiles.TileKey]) -> dict[tiles.TileKey, bytes | None]:
        """The stored interior nodes of the given tiles (None where a tile has none)."""
        with self._read() as conn:
            return {k: interior for k, (_, interior) in self._select_tiles(conn, log, keys).items()}

    def _select_tiles(
        self, conn: Connection, log: int, keys: Iterable[tiles.TileKey]
    ) -> dict[tiles.TileKey, tuple[bytes, bytes | None]]:
        """Tile rows by key, ``(data, interior)``, inside ``conn``'s transaction.

        This is the proof path's one database read, so it talks to the driver directly
        (SQLAlchemy's statement building costs more than the reads): on SQLite one
        primary-key lookup per tile, on PostgreSQL one query over an ``unnest`` of the keys.
        """
        keys = sorted(set(keys))
        out: dict[tiles.TileKey, tuple[bytes, bytes | None]] = {}
        if not keys:
            return out
        cur = conn.connection.dbapi_connection.cursor()
        try:
            if self.is_sqlite:
                for level, idx in keys:
                    cur.execute(
                        "SELECT data, interior FROM tiles WHERE log = ? AND level = ? AND idx = ?", (log, level, idx)
                    )
                    row = cur.fetchone()
                    if row is not None:
                        out[(level, idx)] = (bytes(row[0]), None if row[1] is None else bytes(row[1]))
            else:
                cur.execute(
                    "SELECT t.level, t.idx, t.data, t.interior FROM tiles t"
                    " JOIN unnest(%s::int[], %s::bigint[]) AS k(level, idx) ON t.level = k.level AND t.idx = k.idx"
                    " WHERE t.log = %s",
                    ([k[0] for k in keys], [k[1] for k in keys], log),
                )
                for level, idx, data, interior in cur.fetchall():
                    out[(level, idx)] = (bytes(data), None if interior is None else bytes(interior))
        finally:
            cur.close()
        return out

    def _hash_ranges(self, log: int, size: int, ranges: list[tuple[int, int]], *, fresh: bool) -> list[bytes]:
        """Hashes of proof ranges in a tree of ``size``: one read transaction, O(log n) tiles.

        Full tiles never change, so recently used ones are kept in memory with their
        interior nodes (``FullTile``). ``fresh=True`` bypasses that cache and reads every
        tile from the database: the sealer and the audit check what is stored, not what
        this process remembers.
        """
        keys = tiles.tiles_for_ranges(ranges)
        full: dict[tiles.TileKey, tiles.FullTile] = {}
        if not fresh:
            with self._cache_lock:
                for k in keys:
                    ft = self._full_tiles.get((log, *k))
                    if ft is not None:
                        self._full_tiles.move_to_end((log, *k))
                        full[k] = ft
        with self._read() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            try:
                cur.execute(f"SELECT tree_size FROM logs WHERE id = {'?' if self.is_sqlite else '%s'}", (log,))
                (current,) = cur.fetchone()
            finally:
                cur.close()
            if size > current:
                raise NotFound(f"tree size {size} is beyond the log's size {current}")
            rows = self._select_tiles(conn, log, keys - full.keys())
        found = {k: data for k, (data, _) in rows.items()}
        if not fresh:
            self._remember_full_tiles(log, rows, full)
        try:
            return [tiles.range_hash(b, e, found, full) for b, e in ranges]
        except KeyError as e:
            raise CorruptStore(f"the stored tiles cannot give a tree of size {size}: {e.args[0]}") from None

    def _remember_full_tiles(
        self, log: int, rows: dict[tiles.TileKey, tuple[bytes, bytes | None]], full: dict[tiles.TileKey, tiles.FullTile]
    ) -> None:
        for k, (data, interior) in rows.items():
            if len(data) == tiles.TILE_WIDTH * merkle.HASH_SIZE:
                stored = interior is not None and len(interior) == len(data) - merkle.HASH_SIZE
                full[k] = tiles.FullTile.from_nodes(data + interior) if stored else tiles.FullTile(data)
                with self._cache_lock:
                    self._full_tiles[(log, *k)] = full[k]
                    while len(self._full_tiles) > FULL_TILE_CACHE:
                        self._full_tiles.popitem(last=False)

    def root_at(self, log: int, size: int, *, fresh: bool = False) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        return self._hash_ranges(log, size, [(0, size)], fresh=fresh)[0]

    def inclusion_proof(self, log: int, index: int, size: int, *, fresh: bool = False) -> list[bytes]:
        if not 0 <= index < size:
            raise NotFound(f"leaf index {index} is not in a tree of size {size}")
        return self._hash_ranges(log, size, merkle.inclusion_proof_ranges(index, size), fresh=fresh)

    def consistency_proof(self, log: int, size1: int, size2: int, *, fresh: bool = False) -> list[bytes]:
        if not 0 <= size1 <= size2:
            raise NotFound(f"no consistency proof from size {size1} to size {size2}")
        return self._hash_ranges(log, size2, merkle.consistency_proof_ranges(size1, size2), fresh=fresh)

    def frontier(self, log: int, size: int, *, fresh: bool = False) -> list[bytes]:
        """Roots of the perfect subtrees of the tree of ``size`` leaves, left to right
        (``ledger.frontier``; ``[]`` for size 0).

        Each is a node of the tree: the subtrees of heights 8L .. 8L+7 all lie in the
        one level-L tile covering leaf ``size - 1``, so the frontier reads at most one
        tile per level, in one read like a proof's. ``fresh`` as for ``root_at``.
        """
        if size < 0:
            raise NotFound(f"no tree of size {size}")
        ranges, begin = [], 0
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                ranges.append((begin, begin + (1 << height)))
                begin += 1 << height
        return self._hash_ranges(log, size, ranges, fresh=fresh) if ranges else []

    def tile(self, log: int, level: int, idx: int) -> bytes | None:
        return self.get_tiles(log, [(level, idx)]).get((level, idx))

    # -- entries -------------------------------------------------------------------

    @staticmethod
    def _entry(r) -> StoredEntry:
        return StoredEntry(
            r.idx, bytes(r.leaf_hash), r.record_id, r.kind, r.author, r.issued_at, r.visibility,
            bytes(r.envelope), None if r.payload is None else bytes(r.payload),
            None if r.salt is None else bytes(r.salt), r.erased_at, r.appended_at,
        )

    def entry_by_record_id(self, log: int, record_id: str) -> StoredEntry:
        with self._read() as conn:
            r = conn.execute(
                select(_entries).where(_entries.c.log == log, _entries.c.record_id == record_id)
            ).one_or_none()
        if r is None:
            raise NotFound(f"no record {record_id!r}")
        return self._entry(r)

    def entry_at(self, log: int, idx: int) -> StoredEntry:
        with self._read() as conn:
            r = conn.execute(select(_entries).where(_entries.c.log == log, _entries.c.idx == idx)).one_or_none()
        if r is None:
            raise NotFound(f"no entry at index {idx}")
        return self._entry(r)

    def entries_by_leaf_hash(self, log: int, leaf_hashes: Iterable[bytes]) -> dict[bytes, StoredEntry]:
        wanted = sorted(set(leaf_hashes))
        out: dict[bytes, StoredEntry] = {}
        with self._read() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                q = select(_entries).where(
                    _entries.c.log == log, _entries.c.leaf_hash.in_(wanted[i : i + _IN_CHUNK])
                )
                for r in conn.execute(q):
                    out[bytes(r.leaf_hash)] = self._entry(r)
        return out

    def entries_at(self, log: int, idxs: Iterable[int]) -> list[StoredEntry]:
        """The entries at the given indexes (those that exist), in index order."""
        wanted = sorted(set(idxs))
        out: list[StoredEntry] = []
        with self._read() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                q = select(_entries).where(_entries.c.log == log, _entries.c.idx.in_(wanted[i : i + _IN_CHUNK]))
                out += [self._entry(r) for r in conn.execute(q.order_by(_entries.c.idx))]
        return out

    def entry_heads(self, log: int, idxs: Iterable[int]) -> list[tuple[StoredEntry, DerivedState | None]]:
        """Like ``entries_at`` without the envelope, payload, salt and times (``b""``, None,
        None, None, the epoch), each with its derived state (one join): what a lineage graph
        needs of each node."""
        wanted = sorted(set(idxs))
        c, st = _entries.c, _states.c
        cols = (c.idx, c.leaf_hash, c.record_id, c.kind, c.author, c.issued_at, c.visibility, st.status, st.reason, st.by, st.facts)
        joined = _entries.outerjoin(_states, and_(st.log == c.log, st.idx == c.idx))
        out: list[tuple[StoredEntry, DerivedState | None]] = []
        with self._read() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                q = select(*cols).select_from(joined).where(c.log == log, c.idx.in_(wanted[i : i + _IN_CHUNK]))
                for r in conn.execute(q.order_by(c.idx)):
                    entry = StoredEntry(r.idx, bytes(r.leaf_hash), r.record_id, r.kind, r.author, r.issued_at,
                                        r.visibility, b"", None, None, None, _EPOCH)  # fmt: skip
                    out.append((entry, None if r.status is None else state_of_row(r.status, r.reason, r.by, r.facts)))
        return out

    def entries_by_record_id(self, log: int, record_ids: Iterable[str]) -> dict[str, StoredEntry]:
        wanted = sorted(set(record_ids))
        out: dict[str, StoredEntry] = {}
        with self._read() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                q = select(_entries).where(_entries.c.log == log, _entries.c.record_id.in_(wanted[i : i + _IN_CHUNK]))
                for r in conn.execute(q):
                    out[r.record_id] = self._entry(r)
        return out

    def list_entries(
        self, log: int, *, start: int = 0, limit: int = 100, author: str | None = None, kind: str | None = None,
        terms: Sequence[tuple[str, str]] = (), since_us: int | None = None, until_us: int | None = None,
        visible_to: str | None | type[Ellipsis] = ..., status: str | None = None,
    ) -> list[StoredEntry]:
        """Entries from index ``start`` in log order matching every filter, at most ``limit``.

        ``terms``: every ``(name, value)`` must be among the entry's index terms;
        ``since_us``/``until_us``: ``issued_at`` in ``[since, until]`` (microseconds).
        ``visible_to``: only public entries, those authored by that address and those
        disclosed to it (None: public only; ``...``: no visibility filter). ``status``: the
        entry's derived status (``record_states``) is this.
        """
        order = _entries.c.idx
        st = _states.c
        if terms:  # driven by the first term's (log, name, value, idx) key, not a scan of entries
            name, value = terms[0]
            t = _terms.c
            joined = _terms.join(_entries, and_(_entries.c.log == t.log, _entries.c.idx == t.idx))
            if status is not None:  # the state row by its primary key, not an IN over every such status
                joined = joined.join(_states, and_(st.log == t.log, st.idx == t.idx, st.status == status))
            q = select(_entries).select_from(joined).where(t.log == log, t.name == name, t.value == value, t.idx >= start)
            order = t.idx
        elif status is not None:  # driven by the (log, status, idx) key of record_states
            joined = _states.join(_entries, and_(_entries.c.log == st.log, _entries.c.idx == st.idx))
            q = select(_entries).select_from(joined).where(st.log == log, st.status == status, st.idx >= start)
            order = st.idx
        else:
            q = select(_entries).where(_entries.c.log == log, _entries.c.idx >= start)
        if author is not None:
            q = q.where(_entries.c.author == author)
        if kind is not None:
            q = q.where(_entries.c.kind == kind)
        for name, value in terms[1:]:
            q = q.where(
                _entries.c.idx.in_(
                    select(_terms.c.idx).where(_terms.c.log == log, _terms.c.name == name, _terms.c.value == value)
                )
            )
        if since_us is not None:
            q = q.where(_entries.c.issued_us >= since_us)
        if until_us is not None:
            q = q.where(_entries.c.issued_us <= until_us)
        if visible_to is not ...:
            q = q.where(self._visible_clause(log, visible_to))
        with self._read() as conn:
            return [self._entry(r) for r in conn.execute(q.order_by(order).limit(limit))]

    def leaf_data(self, log: int, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
        """``(index, leaf_hash, envelope)`` for indexes in ``[start, end)``, in order."""
        q = (
            select(_entries.c.idx, _entries.c.leaf_hash, _entries.c.envelope)
            .where(_entries.c.log == log, _entries.c.idx >= start, _entries.c.idx < end)
            .order_by(_entries.c.idx)
        )
        with self._read() as conn:
            return [(r.idx, bytes(r.leaf_hash), bytes(r.envelope)) for r in conn.execute(q)]

    def erase_payload(self, log: int, record_id: str) -> StoredEntry:
        """Delete payload and salt (and what a participant record put in ``participants``).

        On SQLite the WAL is then checkpointed and truncated so the old bytes leave the
        files; if readers keep it busy, ``purge_pending`` stays set and ``purge()`` (the
        API's sealer calls it on every poll) finishes the job later.
        """
        with self._write() as conn:
            res = conn.execute(
                update(_entries)
                .where(_entries.c.log == log, _entries.c.record_id == record_id)
                .values(payload=None, salt=None, erased_at=_now())
            )
            if res.rowcount != 1:
                raise NotFound(f"no record {record_id!r}")
            idx = conn.execute(
                select(_entries.c.idx).where(_entries.c.log == log, _entries.c.record_id == record_id)
            ).scalar_one()
            conn.execute(
                update(_participants)
                .where(_participants.c.log == log, _participants.c.entry_idx == idx)
                .values(name="", legal_id="")
            )
        if self.is_sqlite:
            self.purge_pending = True
            self.purge()
        return self.entry_by_record_id(log, record_id)

    def purge(self, busy_timeout_ms: int = 2000) -> bool:
        """SQLite: checkpoint and truncate the WAL so erased bytes leave the files.

        Returns True when nothing is pending. Readers holding old snapshots make the
        checkpoint busy; then it stays pending and a later call retries.
        """
        if not (self.is_sqlite and self.purge_pending):
            return True
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            try:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            finally:
                conn.exec_driver_sql("PRAGMA busy_timeout=60000")
        self.purge_pending = bool(busy)
        return not self.purge_pending

    # -- checkpoints ---------------------------------------------------------------

    def add_checkpoint(self, log: int, tree_size: int, root_hash: bytes, note: str) -> StoredCheckpoint:
        """Store a signed checkpoint. A second one at the same size must have the same root."""
        sealed_at = _now()
        try:
            with self._write() as conn:
                conn.execute(
                    insert(_checkpoints).values(
                        log=log, tree_size=tree_size, root_hash=root_hash, note=note, sealed_at=sealed_at
                    )
                )
        except IntegrityError as e:
            prior = self.checkpoint_at(log, tree_size)
            if prior.root_hash != root_hash:
                raise Conflict(f"a checkpoint at size {tree_size} with another root exists") from e
            return prior
        return StoredCheckpoint(tree_size, root_hash, note, sealed_at)

    @staticmethod
    def _checkpoint(r) -> StoredCheckpoint:
        return StoredCheckpoint(r.tree_size, bytes(r.root_hash), r.note, r.sealed_at)

    def latest_checkpoint(self, log: int) -> StoredCheckpoint | None:
        q = select(_checkpoints).where(_checkpoints.c.log == log).order_by(_checkpoints.c.tree_size.desc())
        with self._read() as conn:
            r = conn.execute(q.limit(1)).one_or_none()
        return None if r is None else self._checkpoint(r)

    def checkpoints(self, log: int) -> list[StoredCheckpoint]:
        q = select(_checkpoints).where(_checkpoints.c.log == log).order_by(_checkpoints.c.tree_size)
        with self._read() as conn:
            return [self._checkpoint(r) for r in conn.execute(q)]

    def checkpoint_at(self, log: int, tree_size: int) -> StoredCheckpoint:
        q = select(_checkpoints).where(_checkpoints.c.log == log, _checkpoints.c.tree_size == tree_size)
        with self._read() as conn:
            r = conn.execute(q).one_or_none()
        if r is None:
            raise NotFound(f"no checkpoint at tree size {tree_size}")
        return self._checkpoint(r)

    # -- anchors -------------------------------------------------------------------

    def put_anchor(self, log: int, anchor: StoredAnchor) -> None:
        """Insert or update the row of one anchoring transaction (keyed by size and tx hash)."""
        values = dict(
            chain_id=anchor.chain_id, contract=anchor.contract, nonce=anchor.nonce,
            block_number=anchor.block_number, block_hash=anchor.block_hash, status=anchor.status,
            raw_tx=anchor.raw_tx, max_fee_per_gas=anchor.max_fee_per_gas,
            max_priority_fee_per_gas=anchor.max_priority_fee_per_gas, sent_at=anchor.sent_at, updated_at=_now(),
        )
        key = (_anchors.c.log == log, _anchors.c.tree_size == anchor.tree_size, _anchors.c.tx_hash == anchor.tx_hash)
        with self._write() as conn:
            if conn.execute(update(_anchors).where(*key).values(**values)).rowcount == 0:
                conn.execute(insert(_anchors).values(log=log, tree_size=anchor.tree_size, tx_hash=anchor.tx_hash, **values))

    def anchor_covering(self, log: int, leaf_index: int) -> StoredAnchor | None:
        """The best anchor of a checkpoint that includes ``leaf_index``: ``final`` before
        ``mined``, then the largest tree size; None if none is mined or final."""
        q = (
            select(_anchors)
            .where(_anchors.c.log == log, _anchors.c.tree_size > leaf_index, _anchors.c.status.in_(("final", "mined")))
            .order_by((_anchors.c.status == "final").desc(), _anchors.c.tree_size.desc())
            .limit(1)
        )
        with self._read() as conn:
            r = conn.execute(q).one_or_none()
        return None if r is None else _anchor(r)

    def anchored_size(self, log: int) -> int:
        """The largest tree size with a ``mined`` or ``final`` anchor (0 if none)."""
        q = select(func.max(_anchors.c.tree_size)).where(
            _anchors.c.log == log, _anchors.c.status.in_(("final", "mined"))
        )
        with self._read() as conn:
            return conn.execute(q).scalar_one() or 0

    def anchors(self, log: int, *, status: str | None = None) -> list[StoredAnchor]:
        """Anchoring transactions, oldest checkpoint first."""
        q = select(_anchors).where(_anchors.c.log == log)
        if status is not None:
            q = q.where(_anchors.c.status == status)
        with self._read() as conn:
            rows = conn.execute(q.order_by(_anchors.c.tree_size, _anchors.c.updated_at)).all()
        return [_anchor(r) for r in rows]

    # -- participants and tokens ---------------------------------------------------

    def _put_participant(self, conn: Connection, log: int, p: ParticipantInfo, now: datetime) -> None:
        conn.execute(_participants.delete().where(_participants.c.log == log, _participants.c.address == p.address))
        conn.execute(
            insert(_participants).values(
                log=log, address=p.address, name=p.name, legal_id=p.legal_id,
                roles=",".join(sorted(p.roles)), entry_idx=p.entry_idx, registered_at=now,
            )
        )

    def participant(self, log: int, address: str) -> ParticipantInfo | None:
        r = self._point_read(
            "SELECT address, name, legal_id, roles, entry_idx FROM participants WHERE log = ? AND address = ?", (log, address)
        )
        if r is None:
            return None
        address, name, legal_id, roles, entry_idx = r
        return ParticipantInfo(address, name, legal_id, frozenset(filter(None, roles.split(","))), entry_idx)

    def participants(self, log: int) -> list[ParticipantInfo]:
        q = select(_participants).where(_participants.c.log == log).order_by(_participants.c.entry_idx)
        with self._read() as conn:
            return [
                ParticipantInfo(r.address, r.name, r.legal_id, frozenset(filter(None, r.roles.split(","))), r.entry_idx)
                for r in conn.execute(q)
            ]

    def add_token(self, log: int, token_hash: bytes, address: str, label: str, expires_at: datetime | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                insert(_tokens).values(token_hash=token_hash, log=log, address=address, label=label, created_at=_now(),
                                       expires_at=expires_at)
            )  # fmt: skip

    def token(self, token_hash: bytes) -> tuple[int, TokenInfo] | None:
        r = self._point_read(
            "SELECT t.log, t.address, t.label, t.created_at, t.revoked_at, t.expires_at, p.roles FROM api_tokens t "
            "LEFT JOIN participants p ON p.log = t.log AND p.address = t.address WHERE t.token_hash = ?",
            (token_hash,),
        )
        if r is None:
            return None
        log, address, label, created, revoked, expires, roles = r
        holder_roles = None if roles is None else frozenset(filter(None, roles.split(",")))
        return log, TokenInfo(address, label, _utc(created), _utc(revoked), _utc(expires), holder_roles)

    def revoke_token(self, token_hash: bytes) -> None:
        with self._write() as conn:
            res = conn.execute(
                update(_tokens)
                .where(_tokens.c.token_hash == token_hash, _tokens.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
            if res.rowcount != 1:
                raise NotFound("no such active token")
