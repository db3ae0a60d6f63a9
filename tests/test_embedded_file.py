"""The embedded chain's file read without py-evm (``ledger.chain.embedded_file``, issue 8 item 7).

A differential test: every answer the file reader gives — the head, canonical hashes,
accounts, the registry's ``rootAt`` for every size of two logs and of an unknown one, and
``find_anchor`` for receipts at anchored and unanchored sizes and with confirmations
required — is compared with web3 over py-evm on the same file, read while the writer has
it open. Then the file is edited (a trie node, a header, the head pointer, a storage node
removed) and the reader must refuse, never answer otherwise; a look-alike contract and an
address without code are refused; and ``tdsl verify --chain-db`` runs without importing
web3, eth-tester or py-evm.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain import Registry, RegistryReverted, log_id
from ledger.chain.anchorer import anchor_latest
from ledger.chain.anchoring import RegistryAnchorReader
from ledger.chain.embedded import open_embedded_chain
from ledger.chain.embedded_file import (
    EMBEDDED_CHAIN_ID,
    ChainFileAnchorReader,
    ChainFileError,
    EmbeddedChainFile,
    RegistryStorage,
)
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant, signed_submission
from ledger.eip712 import keccak256
from ledger.envelope import address_of
from ledger.errors import VerificationError
from ledger.receipt import Receipt

ORIGIN = "embedded-file.test/log"
SECOND = "embedded-file.test/second"
# Creation code whose deployed code is one STOP byte: a contract that is not the registry.
LOOK_ALIKE_INIT = bytes.fromhex("6001600c60003960016000f300")


@dataclass
class World:
    path: Path
    w3: object
    registry: Registry
    receipts: list[Receipt]  # at anchored sizes, and the last at a sealed, unanchored size
    anchored_sizes: list[int]
    look_alike: str
    operator: str
    identity: Path
    note_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("embedded-file")
    path = tmp / "chain.db"
    w3, backend = open_embedded_chain(path)
    try:
        operator_key = os.urandom(32)
        operator = Account.from_key(operator_key)
        settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp}/ledger.db", operator_key=operator_key.hex())
        ledger, _ = init_data_dir(settings, origin=ORIGIN, chain_id=EMBEDDED_CHAIN_ID)
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": operator.address, "value": 10**20})
        registry = Registry.deploy(w3, operator)
        registry.create_log(operator, log_id(ORIGIN))
        registry.create_log(operator, log_id(SECOND))  # a log that is never anchored
        provider_key = os.urandom(32)
        register_participant(ledger, operator_key, address=address_of(provider_key), name="Provider",
                             legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
        receipts, sizes, n = [], [], 0
        for batch in (3, 9, 1, 20):
            subs = [
                signed_submission(ledger, provider_key, kind="dataset",
                                  payload={"title": f"d{n + i}", "content_hash": "sha256:" + "ab" * 32})  # fmt: skip
                for i in range(batch)
            ]
            n += batch
            ledger.submit(subs)
            ledger.seal()
            anchor = anchor_latest(ledger, registry, operator, final_when_mined=True)
            sizes.append(anchor.tree_size)
            receipts.append(ledger.receipt(subs[-1].envelope.id))
            for _ in range(2):  # blocks on top, so that confirmations differ between anchors
                w3.eth.send_transaction({"from": w3.eth.accounts[1], "to": w3.eth.accounts[2], "value": 1})
        late = signed_submission(ledger, provider_key, kind="dataset",
                                 payload={"title": "late", "content_hash": "sha256:" + "cd" * 32})  # fmt: skip
        ledger.submit([late])
        ledger.seal()  # sealed, not anchored
        receipts.append(ledger.receipt(late.envelope.id))
        assert receipts[-1].anchor is None and receipts[-1].tree_size not in sizes
        tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "data": "0x" + LOOK_ALIKE_INIT.hex()})
        look_alike = w3.eth.get_transaction_receipt(tx)["contractAddress"]
        assert bytes(w3.eth.get_code(look_alike)) == b"\x00"
        note_key = ledger.log.note_vkey
        ledger.store.close()
        yield World(path, w3, registry, receipts, sizes, look_alike, operator.address,
                    settings.data_dir / "identity.json", note_key)  # fmt: skip
    finally:
        backend.kv.close()


def _root_at_web3(registry: Registry, log: bytes, size: int):
    try:
        r = registry.root_at(log, size)
    except RegistryReverted as e:
        assert e.error_name in ("TreeSizeNotAnchored", "UnknownLog")
        return None
    return (r.root, r.block_number, r.timestamp)


def test_blocks_and_accounts_are_what_py_evm_says(world: World) -> None:
    w3 = world.w3
    with EmbeddedChainFile(world.path) as chain:
        assert chain.head().number == w3.eth.block_number > 10
        for n in range(chain.head().number + 1):
            assert chain.canonical_hash(n) == bytes(w3.eth.get_block(n)["hash"])
        with pytest.raises(ChainFileError, match="not on the chain"):
            chain.canonical_hash(chain.head().number + 1)
        for address in (world.operator, world.registry.address, world.look_alike, *w3.eth.accounts[:3]):
            account = chain.account(address)
            assert (account.nonce, account.balance) == (w3.eth.get_transaction_count(address), w3.eth.get_balance(address))
            assert account.code_hash == keccak256(bytes(w3.eth.get_code(address)))
        nobody = chain.account("0x" + "11" * 20)
        assert (nobody.nonce, nobody.balance, nobody.code_hash) == (0, 0, keccak256(b""))


def test_root_at_matches_the_contract_for_every_size_of_every_log(world: World) -> None:
    top = max(world.anchored_sizes) + 3
    with EmbeddedChainFile(world.path) as chain:
        storage = RegistryStorage(chain, world.registry.address)
        answers = {}
        for origin in (ORIGIN, SECOND, "embedded-file.test/unknown"):
            for size in range(top):
                mine = storage.root_at(log_id(origin), size)
                theirs = _root_at_web3(world.registry, log_id(origin), size)
                assert (None if mine is None else (mine.root, mine.block_number, mine.timestamp)) == theirs
                answers[origin, size] = mine
        assert storage.log_exists(log_id(SECOND)) and not storage.log_exists(log_id("embedded-file.test/unknown"))
    anchored = sorted(size for (origin, size), a in answers.items() if a is not None and origin == ORIGIN)
    assert anchored == world.anchored_sizes  # the comparison covered hits, not only misses
    assert all(a is None for (origin, _), a in answers.items() if origin != ORIGIN)


@pytest.mark.parametrize("extra", [0, 1, 2, 7, 100])
def test_find_anchor_agrees_with_the_web3_reader(world: World, extra: int) -> None:
    latest = world.w3.eth.block_number
    for receipt in world.receipts:
        root = _checkpoint_root(world, receipt)
        head = world.registry.root_at(log_id(ORIGIN), receipt.tree_size) if receipt.anchor else None
        need = 0 if head is None else max(0, latest - head.block_number - 3 + extra)  # below, at and above the depth
        outcomes = []
        for reader in (
            ChainFileAnchorReader(world.path, EMBEDDED_CHAIN_ID, world.registry.address, need),
            RegistryAnchorReader(world.registry, need),
        ):
            try:
                outcomes.append(reader.find_anchor(receipt, root))
            except VerificationError as e:
                outcomes.append(f"refused: {e}")
        assert outcomes[0] == outcomes[1]
        if receipt.anchor is None:
            assert outcomes[0] is None
    wrong = ChainFileAnchorReader(world.path, EMBEDDED_CHAIN_ID, world.registry.address)
    with pytest.raises(VerificationError, match="the chain anchors root"):
        wrong.find_anchor(world.receipts[0], b"\x07" * 32)
    with pytest.raises(VerificationError, match="the chain's id is"):
        ChainFileAnchorReader(world.path, 1, world.registry.address).find_anchor(world.receipts[0], b"\x07" * 32)


def _checkpoint_root(world: World, receipt: Receipt) -> bytes:
    return verify_checkpoint(receipt.checkpoint, NoteVerifier.from_text(world.note_key), origin=ORIGIN).root_hash


def test_a_look_alike_contract_or_an_account_without_code_is_refused(world: World) -> None:
    with EmbeddedChainFile(world.path) as chain:
        with pytest.raises(ChainFileError, match="a look-alike contract"):
            RegistryStorage(chain, world.look_alike)
        with pytest.raises(ChainFileError, match="no contract"):
            RegistryStorage(chain, world.operator)
        with pytest.raises(ChainFileError, match="not an address"):
            chain.account(world.registry.address + "\n")


def _copy(world: World, to: Path) -> sqlite3.Connection:
    src = sqlite3.connect(f"file:{world.path}?mode=ro", uri=True)
    dst = sqlite3.connect(to, isolation_level=None)
    src.backup(dst)
    src.close()
    return dst


@pytest.mark.parametrize("edit", ["node", "missing-node", "header", "head-pointer", "number-index", "not-a-chain"])
def test_an_edited_file_is_refused_never_answered(world: World, tmp_path: Path, edit: str) -> None:
    copy = tmp_path / "chain.db"
    conn = _copy(world, copy)
    receipt = world.receipts[1]
    reader = ChainFileAnchorReader(copy, EMBEDDED_CHAIN_ID, world.registry.address)
    assert reader.find_anchor(receipt, _checkpoint_root(world, receipt)) is not None  # the copy reads before the edit
    with EmbeddedChainFile(copy) as chain:
        head = chain.head()
        anchored_in = RegistryStorage(chain, world.registry.address).root_at(log_id(ORIGIN), receipt.tree_size)
        storage_root = chain.account(world.registry.address).storage_root  # on every path into the storage
    if edit == "node":  # the storage trie's root node changed (it is stored under its hash)
        value = conn.execute("SELECT value FROM kv WHERE key = ?", (storage_root,)).fetchone()[0]
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", (value[:-1] + bytes([value[-1] ^ 1]), storage_root))
        match = "corrupt"
    elif edit == "missing-node":
        conn.execute("DELETE FROM kv WHERE key = ?", (storage_root,))
        match = "missing a trie node"
    elif edit == "header":  # the head's header edited under its old hash
        value = conn.execute("SELECT value FROM kv WHERE key = ?", (head.hash,)).fetchone()[0]
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", (value[:-1] + bytes([value[-1] ^ 1]), head.hash))
        match = "corrupt"
    elif edit == "head-pointer":
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", (b"\x42" * 32, b"v1:canonical_head_hash"))
        match = "no header"
    elif edit == "number-index":  # the anchor's block number names the head's hash instead
        import rlp

        key = b"block-number-to-hash:%d" % anchored_in.block_number
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", (rlp.encode(head.hash), key))
        match = "inconsistent"
    else:
        conn.execute("DELETE FROM kv WHERE key = ?", (b"v1:canonical_head_hash",))
        match = "holds no embedded chain"
    conn.close()
    with pytest.raises(VerificationError, match=match):
        reader.find_anchor(receipt, _checkpoint_root(world, receipt))


def test_a_missing_or_foreign_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ChainFileError, match="there is no embedded chain"):
        EmbeddedChainFile(tmp_path / "absent.db")
    (tmp_path / "text.db").write_text("not a database")
    with pytest.raises(ChainFileError, match="holds no embedded chain"):
        EmbeddedChainFile(tmp_path / "text.db")


def test_tdsl_verify_with_chain_db_imports_neither_web3_nor_py_evm(world: World, tmp_path: Path) -> None:
    receipt_file = tmp_path / "r.json"
    receipt_file.write_text(__import__("json").dumps(world.receipts[2].to_json()))
    code = (
        "import sys; from ledger.cli import main; "
        f"rc = main(['verify', {str(receipt_file)!r}, '--origin', {ORIGIN!r}, '--identity', {str(world.identity)!r}, "
        f"'--chain-db', {str(world.path)!r}, '--require', 'final']); "
        "heavy = sorted(m for m in ('web3', 'eth', 'evm', 'eth_tester', 'sqlalchemy', 'fastapi') if m in sys.modules); "
        "print(rc, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "(anchor: final)" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout


def test_a_file_name_with_uri_characters_is_read_as_named(world: World, tmp_path: Path) -> None:
    odd = tmp_path / "chain?mode=rw#x.db"
    _copy(world, odd).close()
    with EmbeddedChainFile(odd) as chain:
        assert chain.head().number == world.w3.eth.block_number
