"""The embedded chain: an in-process py-evm chain (eth-tester) persisted under the data directory.

DESIGN §6: the default chain needs no node. eth-tester's py-evm backend keeps its state
in memory; here its key-value database is a SQLite file, so blocks, state and receipts
survive a restart and every earlier anchor is still there.

Durability contract: py-evm writes go to an in-memory overlay; after every mined block the
overlay is committed to SQLite in one transaction (``synchronous=FULL``). eth-tester mines
each transaction into its own block before ``eth_sendRawTransaction`` returns, so a
transaction whose hash was returned is durable; a process killed mid-commit leaves the
previous block as the head (SQLite rolls the torn transaction back).

The chain id is eth-tester's (131277322940537). Its prefunded development accounts are
derived from a public, fixed key list: they fund the operator on first use and must never
hold anything of value — this chain is for a single operator's own anchoring.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
from pathlib import Path

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.main import generate_genesis_state_for_keys, get_default_genesis_params
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from ledger.chain.embedded_file import EMBEDDED_CHAIN_ID
from ledger.errors import ConfigError

__all__ = ["EMBEDDED_CHAIN_ID", "PersistentPyEVMBackend", "SQLiteKV", "open_embedded_chain"]

_HEAD_KEY = b"tdsl:initialised"


class SQLiteKV(BaseDB):
    """A py-evm key-value database in one SQLite table, written in per-block transactions.

    One process at a time: a second opener of the same file gets ``ConfigError`` (two
    writers would each extend the chain from the same head and fork it).
    """

    def __init__(self, path: Path, *, read_only: bool = False):
        self.read_only = read_only
        self._lockfile = None
        if read_only:  # a verifier's view: no lock, never written (WAL lets it read beside the writer)
            if not path.exists():
                raise ConfigError(f"there is no embedded chain at {path}")
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
            self._pending: dict[bytes, bytes | None] = {}
            self._lock = threading.RLock()
            return
        self._lockfile = open(f"{path}.lock", "a+")  # noqa: SIM115 - held for the object's life
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.close()
            raise ConfigError(f"the embedded chain {path} is open in another process") from None
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        self._pending: dict[bytes, bytes | None] = {}
        self._lock = threading.RLock()

    def __getitem__(self, key: bytes) -> bytes:
        with self._lock:
            if key in self._pending:
                value = self._pending[key]
                if value is None:
                    raise KeyError(key)
                return value
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        with self._lock:
            self._pending[bytes(key)] = bytes(value)

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        with self._lock:
            self._pending[bytes(key)] = None

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def commit(self) -> None:
        """Write every pending change in one durable transaction."""
        with self._lock:
            if not self._pending or self.read_only:
                return
            items = list(self._pending.items())
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
                    [(k, v) for k, v in items if v is not None],
                )
                self._conn.executemany("DELETE FROM kv WHERE key = ?", [(k,) for k, v in items if v is None])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._pending.clear()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._lockfile is not None:
                self._lockfile.close()  # releases the flock


class PersistentPyEVMBackend(PyEVMBackend):
    """eth-tester's py-evm backend over ``SQLiteKV``: the chain survives restarts."""

    def __init__(self, path: Path, *, read_only: bool = False):
        super().__init__()  # builds the genesis in memory: the chain class and dev keys
        self.kv = SQLiteKV(path, read_only=read_only)
        chain_class = type(self.chain)
        if _HEAD_KEY in self.kv:
            self.chain = chain_class(AtomicDB(self.kv))
        elif read_only:
            raise ConfigError(f"{path} holds no embedded chain")
        else:
            params = get_default_genesis_params()
            genesis_state = generate_genesis_state_for_keys(self.account_keys)
            self.chain = chain_class.from_genesis(AtomicDB(self.kv), params, genesis_state)
            self.kv[_HEAD_KEY] = b"1"
            self.kv.commit()

    def _stamp_pending_block(self) -> None:
        """Give the pending block the current time before its first transaction runs.

        py-evm stamps a pending block when the block before it is mined (or the chain is
        loaded): a ledger that anchors rarely would anchor with the time of its previous
        anchor, minutes or hours old, and the registry stores that time (``rootAt``), which
        verifiers judge ``issued_at`` against (audit bundles: backdating). Block times still
        increase by at least a second a block, so they run ahead of the clock when blocks
        come faster than one a second."""
        chain = self.chain
        if chain.get_block().transactions:
            return
        now = max(chain.get_canonical_head().timestamp + 1, int(time.time()))
        if chain.header.timestamp < now:
            chain.header = chain.header.copy(timestamp=now)

    def send_raw_transaction(self, raw_transaction):  # type: ignore[override]
        self._stamp_pending_block()
        return super().send_raw_transaction(raw_transaction)

    def send_signed_transaction(self, signed_transaction, block_number="latest"):  # type: ignore[override]
        self._stamp_pending_block()
        return super().send_signed_transaction(signed_transaction, block_number)

    def send_transaction(self, transaction):  # type: ignore[override]
        self._stamp_pending_block()
        return super().send_transaction(transaction)

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = b"\x00" * 20):  # type: ignore[override]
        hashes = super().mine_blocks(num_blocks, coinbase)
        self.kv.commit()
        return hashes


def open_embedded_chain(path: Path, *, read_only: bool = False) -> tuple[Web3, PersistentPyEVMBackend]:
    """A web3 client of the embedded chain stored at ``path`` (created on first use).

    Returns the backend too: ``backend.kv.close()`` releases the file for another process.
    ``read_only``: for verifiers and other readers beside the running ledger; it takes no
    lock and never writes (sending a transaction through it changes nothing on disk).
    """
    backend = PersistentPyEVMBackend(path, read_only=read_only)
    return Web3(EthereumTesterProvider(EthereumTester(backend))), backend
