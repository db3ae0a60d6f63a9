"""The embedded chain's file, read for a verifier without web3 or py-evm (``tdsl verify --chain-db``).

``ledger.chain.embedded`` stores py-evm's key-value database in one SQLite table
(``kv``). A verifier needs three things from it, and reads them straight from that table,
so that ``tdsl verify --chain-db`` starts without importing web3, eth-tester or py-evm
(issue 8, item 7: about 3 s of imports):

- the canonical head: ``v1:canonical_head_hash`` names the newest mined block; its header
  (RLP, stored under its hash) gives its number and state root;
- a block's canonical hash: ``block-number-to-hash:<n>`` (RLP of the hash);
- the registry's storage: the account at the contract's address in the state trie (key
  ``keccak(address)``), then the slots of ``rootAt(logId, treeSize)`` in its storage trie
  (key ``keccak(slot)``), both Merkle Patricia tries walked with py-trie's ``HexaryTrie``.

These are py-evm's own schema names (``eth.db.schema.SchemaV1``); the differential test
(``tests/test_embedded_file.py``) checks every answer against web3 over py-evm on the same
file.

Storage layout of ``contracts/AnchorRegistry.sol`` (Solidity's rules for mappings): slot 0
is ``_logs``, slot 1 ``_heads``. ``_logs[logId]`` is at ``keccak(logId ‖ 0)``, its operator
in the low 20 bytes. ``_heads[logId][treeSize]`` is at ``keccak(treeSize ‖ keccak(logId ‖
1))``: ``root`` in that slot, and ``blockNumber`` (low 8 bytes) and ``timestamp`` (the next
8) packed in the one after. A ``blockNumber`` of zero is "not anchored", as in the
contract.

Fail closed: every header and trie node read is checked against the hash it is stored
under, so a corrupt or partly edited file gives an error, never another answer. The file
is the verifier's own copy of the chain, trusted as one trusts one's own node: someone
who can rewrite it wholesale (new state, new headers, a new head) can forge it, which no
check on one file can catch. The contract's code is
checked by hash: the account's ``code_hash`` must be ``keccak`` of the committed deployed
bytecode. On the embedded chain a mined block is final (DESIGN §6), as eth-tester's
``finalized`` tag says.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import rlp
from trie.exceptions import MissingTrieNode
from trie.hexary import HexaryTrie

from ledger import formats
from ledger.chain.artifact import load_artifact, log_id
from ledger.eip712 import keccak256
from ledger.errors import VerificationError
from ledger.receipt import Receipt
from ledger.verify import FoundAnchor, found_anchor

#: eth-tester's chain id, which the embedded chain keeps.
EMBEDDED_CHAIN_ID = 131277322940537

_CANONICAL_HEAD = b"v1:canonical_head_hash"
_LOGS_SLOT, _HEADS_SLOT = 0, 1
_EMPTY_CODE_HASH = keccak256(b"")


class ChainFileError(VerificationError):
    """The embedded chain's file is missing, unreadable or inconsistent."""


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: bytes
    state_root: bytes


@dataclass(frozen=True, slots=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


class _HashCheckedKV:
    """The ``kv`` table as the mapping ``HexaryTrie`` reads nodes from, each checked against its key."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def raw(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __getitem__(self, node_hash: bytes) -> bytes:
        value = self.raw(node_hash)
        if keccak256(value) != node_hash:
            raise ChainFileError(f"the chain file is corrupt: the node stored under {node_hash.hex()} has another hash")
        return value

    def __contains__(self, key: bytes) -> bool:
        try:
            self.raw(key)
        except KeyError:
            return False
        return True


def _slot_key(*words: bytes) -> int:
    return int.from_bytes(keccak256(b"".join(words)), "big")


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


class EmbeddedChainFile:
    """Read-only access to an embedded chain's SQLite file (see the module docstring)."""

    chain_id = EMBEDDED_CHAIN_ID

    def __init__(self, path: Path):
        if not Path(path).is_file():
            raise ChainFileError(f"there is no embedded chain at {path}")
        try:
            # as_uri percent-encodes the path: a '?' or '#' in a file name stays part of it
            self._conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
            self._kv = _HashCheckedKV(self._conn)
            head_hash = self._kv.raw(_CANONICAL_HEAD)
        except (sqlite3.Error, KeyError) as e:
            raise ChainFileError(f"{path} holds no embedded chain ({e})") from None
        self.path = Path(path)
        self._head = self._header(head_hash)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EmbeddedChainFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- blocks ------------------------------------------------------------------------------

    def head(self) -> BlockHeader:
        """The newest mined block (the canonical head when the file was opened)."""
        return self._head

    def _header(self, block_hash: bytes) -> BlockHeader:
        try:
            fields = rlp.decode(self._kv[block_hash])
            number, state_root = int.from_bytes(fields[8], "big"), bytes(fields[3])
        except KeyError:
            raise ChainFileError(f"the chain file has no header {block_hash.hex()}") from None
        except (rlp.DecodingError, IndexError, TypeError) as e:
            raise ChainFileError(f"the chain file's header {block_hash.hex()} does not decode: {e}") from None
        return BlockHeader(number=number, hash=block_hash, state_root=state_root)

    def canonical_hash(self, number: int) -> bytes:
        """The hash of canonical block ``number`` (at most the head's)."""
        if not 0 <= number <= self._head.number:
            raise ChainFileError(f"block {number} is not on the chain (its head is block {self._head.number})")
        try:
            block_hash = rlp.decode(self._kv.raw(b"block-number-to-hash:%d" % number))
        except (KeyError, rlp.DecodingError):
            raise ChainFileError(f"the chain file has no canonical block {number}") from None
        if not isinstance(block_hash, bytes) or len(block_hash) != 32 or self._header(block_hash).number != number:
            raise ChainFileError(f"the chain file's canonical block {number} is inconsistent")
        return block_hash

    # -- state at the head ---------------------------------------------------------------------

    def _trie_get(self, root: bytes, key: bytes) -> bytes:
        try:
            return HexaryTrie(self._kv, root).get(keccak256(key))
        except MissingTrieNode as e:
            raise ChainFileError(f"the chain file is missing a trie node: {e}") from None

    def account(self, address: str) -> Account:
        """The account at ``address`` in the head's state (an empty one if it does not exist)."""
        if not formats.ADDRESS.fullmatch(address):
            raise ChainFileError(f"not an address: {address!r}")
        raw = self._trie_get(self._head.state_root, bytes.fromhex(address[2:]))
        if not raw:
            return Account(0, 0, HexaryTrie.BLANK_NODE_HASH, _EMPTY_CODE_HASH)
        try:
            nonce, balance, storage_root, code_hash = rlp.decode(raw)
            return Account(int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), bytes(storage_root), bytes(code_hash))
        except (rlp.DecodingError, ValueError, TypeError) as e:
            raise ChainFileError(f"the chain file's account {address} does not decode: {e}") from None

    def storage(self, account: Account, slot: int) -> int:
        """The word in ``slot`` of ``account``'s storage (0 where nothing is stored)."""
        raw = self._trie_get(account.storage_root, _word(slot))
        if not raw:
            return 0
        try:
            value = rlp.decode(raw)
        except rlp.DecodingError as e:
            raise ChainFileError(f"the chain file's storage slot {slot:#x} does not decode: {e}") from None
        if not isinstance(value, bytes) or len(value) > 32:
            raise ChainFileError(f"the chain file's storage slot {slot:#x} is not a word")
        return int.from_bytes(value, "big")


@dataclass(frozen=True, slots=True)
class AnchoredHead:
    """What ``rootAt(logId, treeSize)`` returns, read from storage."""

    root: bytes
    block_number: int
    timestamp: int


class RegistryStorage:
    """The AnchorRegistry at ``contract`` in a chain file's head state; its code checked first."""

    def __init__(self, chain: EmbeddedChainFile, contract: str):
        self._account = chain.account(contract)
        self._chain = chain
        if self._account.code_hash != keccak256(load_artifact().deployed_bytecode):
            what = "no contract" if self._account.code_hash == _EMPTY_CODE_HASH else "a look-alike contract"
            raise ChainFileError(f"{what} at {contract}: its code is not the committed AnchorRegistry build")

    def log_exists(self, log: bytes) -> bool:
        operator = self._chain.storage(self._account, _slot_key(log, _word(_LOGS_SLOT))) & ((1 << 160) - 1)
        return operator != 0

    def root_at(self, log: bytes, tree_size: int) -> AnchoredHead | None:
        """The head anchored at exactly ``tree_size``, or None (unknown log, or nothing at that size)."""
        if not self.log_exists(log):
            return None
        base = _slot_key(_word(tree_size), _word(_slot_key(log, _word(_HEADS_SLOT))))
        packed = self._chain.storage(self._account, base + 1)
        block_number, timestamp = packed & (2**64 - 1), (packed >> 64) & (2**64 - 1)
        if block_number == 0:
            return None
        return AnchoredHead(_word(self._chain.storage(self._account, base)), block_number, timestamp)


@dataclass(frozen=True, slots=True)
class ChainFileAnchorReader:
    """``ledger.verify.AnchorReader`` over an embedded chain's file: ``tdsl verify --chain-db``."""

    path: Path
    chain_id: int
    contract: str
    min_confirmations: int = 0

    def find_anchor(self, receipt: Receipt, checkpoint_root: bytes) -> FoundAnchor | None:
        """As ``ledger.chain.anchoring.RegistryAnchorReader.find_anchor``, from the file."""
        return self.find_head(receipt.entry.log, receipt.tree_size, checkpoint_root)

    def find_head(self, origin: str, tree_size: int, checkpoint_root: bytes) -> FoundAnchor | None:
        """As ``ledger.chain.anchoring.RegistryAnchorReader.find_head``, from the file."""
        with EmbeddedChainFile(self.path) as chain:
            if chain.chain_id != self.chain_id:
                raise VerificationError(f"the chain's id is {chain.chain_id}, the log's is {self.chain_id}")
            head = RegistryStorage(chain, self.contract).root_at(log_id(origin), tree_size)
            if head is None:
                return None
            latest = chain.head().number
            return found_anchor(
                tree_size=tree_size, checkpoint_root=checkpoint_root, root=head.root,
                block_number=head.block_number, block_hash="0x" + chain.canonical_hash(head.block_number).hex(),
                latest=latest, finalized=latest, min_confirmations=self.min_confirmations, timestamp=head.timestamp,
            )  # fmt: skip
