"""Tamper matrix (issue 3 item 7): what a hostile operator can do after anchoring, and what catches it.

Each test starts from the same scenario on the embedded chain: a log with its registration
records and 20 datasets, sealed and anchored with ``anchor_latest``; a regulator holds
receipts fetched before any tampering. The operator then changes the store behind the
ledger's back (SQL on the real tables, as in tests/test_sealer.py) or uses its key on
chain, and each test asserts which check catches it and what the error names.

Cases (docs/security.md has the table):
 (i)   edit a stored envelope             (iv)  rewrite a level-0 tile
 (ii)  delete an entry                    (v)   anchor a tree rebuilt without one record
 (iii) swap two entries                   (vi)  anchor on a freshly deployed contract
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import delete, update

from ledger import merkle
from ledger.chain import Registry, log_id
from ledger.chain.anchorer import anchor_latest
from ledger.chain.anchoring import RegistryAnchorReader
from ledger.chain.embedded import EMBEDDED_CHAIN_ID, open_embedded_chain
from ledger.chain.registry import RegistryReverted
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.config import Settings
from ledger.datadir import first_contract_address, init_data_dir, register_participant, signed_submission
from ledger.envelope import Envelope, address_of
from ledger.errors import (
    AnchorError,
    CorruptStore,
    InvalidProof,
    InvalidSignature,
    NotFound,
    SealerHalted,
    VerificationError,
)
from ledger.log import Ledger
from ledger.receipt import Anchor, Receipt
from ledger.store import SQLStore, StoredAnchor
from ledger.store.models import EntryRow, TileRow
from ledger.verify import ChainRef, verify_receipt

_entries = EntryRow.__table__
_tiles = TileRow.__table__
H = merkle.HASH_SIZE
N_RECORDS = 20


@dataclass
class Scene:
    ledger: Ledger
    registry: Registry
    operator: object  # LocalAccount
    provider_key: bytes
    ids: list[str]  # the 20 dataset records, in log order
    size: int  # the anchored tree size
    root: bytes  # the anchored root
    anchor: StoredAnchor
    held: dict[str, Receipt]  # honest receipts the regulator fetched before tampering


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    operator_key = os.urandom(32)
    operator = Account.from_key(operator_key)
    w3, backend = open_embedded_chain(tmp_path / "chain.db")
    try:
        settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/ledger.db",
                            operator_key=operator_key.hex())  # fmt: skip
        ledger, _ = init_data_dir(settings, origin="tamper.test/log", chain_id=EMBEDDED_CHAIN_ID)
        assert ledger.log.contract == first_contract_address(operator.address)
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": operator.address, "value": 10**20})
        registry = Registry.deploy(w3, operator)
        assert registry.address == ledger.log.contract
        registry.create_log(operator, log_id(ledger.origin))
        provider_key = os.urandom(32)
        register_participant(ledger, operator_key, address=address_of(provider_key), name="Provider",
                             legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
        subs = [
            signed_submission(ledger, provider_key, kind="dataset",
                              payload={"title": f"d{i}", "content_hash": "sha256:" + "ab" * 32})  # fmt: skip
            for i in range(N_RECORDS)
        ]
        before = ledger.store.tree_size(ledger.log.id)  # the operator's and the provider's registrations
        ledger.submit(subs)
        cp = ledger.seal()
        anchor = anchor_latest(ledger, registry, operator, final_when_mined=True)
        assert anchor is not None and anchor.tree_size == cp.tree_size == before + N_RECORDS
        ids = [s.envelope.id for s in subs]
        held = {rid: ledger.receipt(rid) for rid in ids[3:8]}
        s = Scene(ledger, registry, operator, provider_key, ids, cp.tree_size, cp.root_hash, anchor, held)
        for r in held.values():
            verify(s, r)
        yield s
    finally:
        backend.kv.close()


# -- helpers ----------------------------------------------------------------------------


def chain_ref(s: Scene) -> ChainRef:
    """The verifier's own idea of the log's chain: from the log's identity, not a receipt."""
    return ChainRef(s.ledger.log.chain_id, s.ledger.log.contract, reader=RegistryAnchorReader(s.registry))


def verify(s: Scene, receipt: Receipt, chain: ChainRef | None = None) -> None:
    verify_receipt(receipt.to_json(), origin=s.ledger.origin, chain=chain or chain_ref(s),
                   note_key=s.ledger.log.note_vkey)  # fmt: skip


def index_of(s: Scene, rid: str) -> int:
    return s.ledger.store.entry_by_record_id(s.ledger.log.id, rid).leaf_index


def execute(s: Scene, statement) -> int:
    with s.ledger.store.engine.begin() as conn:
        return conn.execute(statement).rowcount


def entry_where(s: Scene, idx: int):
    return (_entries.c.log == s.ledger.log.id) & (_entries.c.idx == idx)


def add_one(s: Scene) -> None:
    sub = signed_submission(s.ledger, s.provider_key, kind="dataset",
                            payload={"title": "later", "content_hash": "sha256:" + "cd" * 32})  # fmt: skip
    s.ledger.submit([sub])


def fresh_ledger(s: Scene) -> Ledger:
    """The same log opened by a new process: nothing cached from before the tampering."""
    return Ledger(SQLStore(s.ledger.store.url), s.ledger.log, note_signer=s.ledger.note_signer)


def assert_held_receipts_verify(s: Scene) -> None:
    for r in s.held.values():
        verify(s, r)
    head = s.registry.head(log_id(s.ledger.origin))
    assert (head.tree_size, head.root) == (s.size, s.root)


# -- (i) an edited envelope -------------------------------------------------------------


def test_i_an_edited_envelope_is_caught_by_the_signature_and_the_audit(scene: Scene):
    s = scene
    rid = s.ids[5]
    k = index_of(s, rid)
    stored = s.ledger.store.entry_at(s.ledger.log.id, k).envelope
    env = Envelope.from_json(stored)
    edited = stored.replace(env.issued_at.encode(), b"2020-01-01T00:00:00Z")  # still valid JSON and a valid envelope
    assert edited != stored
    assert execute(s, update(_entries).where(entry_where(s, k)).values(envelope=edited)) == 1

    served = s.ledger.receipt(rid)
    assert served.entry.issued_at == "2020-01-01T00:00:00Z"
    # The edited envelope no longer carries its author's signature: caught at step 3 of
    # verify_receipt, before inclusion. The message names neither the record nor the anchor.
    with pytest.raises(InvalidSignature, match="not by the author"):
        verify(s, served)
    # Had the signature check been passed, its leaf hash is not in the anchored tree either.
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(served.entry.leaf_hash(), k, s.size, served.inclusion_proof, s.root)
    assert_held_receipts_verify(s)  # the regulator's copy still proves the original
    with pytest.raises(CorruptStore, match=rf"^entry {k}: the envelope does not hash to its stored leaf hash$"):
        s.ledger.audit()

    # The sealer checks only the entries added since the last checkpoint (incremental):
    # a sealed envelope edited in place is NOT caught by seal(), which signs the next
    # checkpoint; only the audit catches it.
    add_one(s)
    cp = s.ledger.seal()
    assert cp.tree_size == s.size + 1
    with pytest.raises(CorruptStore, match=rf"^entry {k}:"):
        s.ledger.audit()


def _inclusion_message(rid: str, k: int, size: int) -> str:
    return rf"record '{re.escape(rid)}' at leaf {k} is not in the checkpoint of size {size}"


# -- (ii) a deleted entry ---------------------------------------------------------------


def test_ii_a_deleted_entry_is_missing_for_the_audit_and_still_proven_by_the_chain(scene: Scene):
    s = scene
    rid = s.ids[5]
    k = index_of(s, rid)
    assert rid in s.held
    assert execute(s, delete(_entries).where(entry_where(s, k))) == 1

    with pytest.raises(NotFound, match=re.escape(f"no record {rid!r}")):
        s.ledger.receipt(rid)
    with pytest.raises(CorruptStore, match=rf"^entry {k} is missing from the store$"):
        s.ledger.audit()
    # The regulator's receipt still verifies against the chain's head: the record was in
    # the anchored tree at leaf k, so its deletion is provable.
    verify(s, s.held[rid])
    assert s.held[rid].leaf_index == k and s.held[rid].tree_size == s.size
    assert_held_receipts_verify(s)
    # Other records keep verifying (the tiles were not touched).
    verify(s, s.ledger.receipt(s.ids[9]))
    # The sealer does not re-read sealed entries: the next seal goes through.
    add_one(s)
    assert s.ledger.seal().tree_size == s.size + 1
    with pytest.raises(CorruptStore, match=rf"^entry {k} is missing"):
        s.ledger.audit()


# -- (iii) two swapped entries ----------------------------------------------------------


_SWAPPED = ("record_id", "leaf_hash", "envelope", "kind", "author", "issued_at", "payload", "salt")


def test_iii_swapped_entries_fail_inclusion_and_the_audit(scene: Scene):
    s = scene
    a_id, b_id = s.ids[4], s.ids[7]
    a, b = index_of(s, a_id), index_of(s, b_id)
    rows = {i: s.ledger.store.entry_at(s.ledger.log.id, i) for i in (a, b)}

    def values(e):
        return {name: getattr(e, name) for name in _SWAPPED}

    assert set(values(rows[a])) == set(_SWAPPED)
    # record_id is unique per log: park one row's id first
    execute(s, update(_entries).where(entry_where(s, a)).values(record_id="parked"))
    execute(s, update(_entries).where(entry_where(s, b)).values(**values(rows[a])))
    execute(s, update(_entries).where(entry_where(s, a)).values(**values(rows[b])))
    assert index_of(s, a_id) == b and index_of(s, b_id) == a

    for rid, at in ((a_id, b), (b_id, a)):
        served = s.ledger.receipt(rid)
        assert served.leaf_index == at and served.tree_size == s.size and served.anchor is not None
        with pytest.raises(InvalidProof, match=_inclusion_message(rid, at, s.size)):
            verify(s, served)
    assert_held_receipts_verify(s)
    # Each envelope still hashes to its (swapped) leaf hash; the tile no longer matches.
    # The audit names the tile and its first entry, not the swapped entries.
    with pytest.raises(CorruptStore, match=r"^level-0 tile 0 does not hold the leaf hashes of entries 0\.\.$"):
        s.ledger.audit()


# -- (iv) a rewritten tile --------------------------------------------------------------


def test_iv_a_rewritten_tile_fails_the_audit_fresh_proofs_and_the_sealer(scene: Scene):
    s = scene
    rid = s.ids[5]
    k = index_of(s, rid)
    sib_id = next(r for r in s.ids if index_of(s, r) == k ^ 1)  # its sibling's proof starts with leaf k
    tile = s.ledger.store.tile(s.ledger.log.id, 0, 0)
    assert tile is not None and len(tile) == s.size * H
    forged = tile[: k * H] + merkle.leaf_hash(b"forged") + tile[(k + 1) * H :]
    n = execute(s, update(_tiles).where(_tiles.c.log == s.ledger.log.id, _tiles.c.level == 0, _tiles.c.idx == 0)
                .values(data=forged))  # fmt: skip
    assert n == 1

    with pytest.raises(CorruptStore, match=r"^level-0 tile 0 does not hold the leaf hashes of entries 0\.\.$"):
        s.ledger.audit()
    other = fresh_ledger(s)  # a new process: proofs come from the rewritten tile
    try:
        proof = other.store.inclusion_proof(s.ledger.log.id, k ^ 1, s.size, fresh=True)
        assert proof[0] == merkle.leaf_hash(b"forged")
        served = other.receipt(sib_id)
        assert served.inclusion_proof == tuple(proof)
        with pytest.raises(InvalidProof, match=_inclusion_message(sib_id, k ^ 1, s.size)):
            verify(s, served)
        # the record whose hash was replaced: its own leaf is no longer on its proof path,
        # but its proof (siblings) is untouched, so its receipt still verifies
        verify(s, other.receipt(rid))
        # the sealer recomputes the root from the fresh tiles: no consistent extension
        add_one(s)
        with pytest.raises(SealerHalted, match=rf"stored tree of size {s.size + 1} does not extend checkpoint {s.size}"):
            other.seal()
        assert other.latest_checkpoint().tree_size == s.size
    finally:
        other.store.close()
    assert_held_receipts_verify(s)


# -- (v) a history without one record ---------------------------------------------------


def test_v_a_tree_rebuilt_without_one_record_is_refused_by_the_contract(scene: Scene):
    s = scene
    lid = log_id(s.ledger.origin)
    leaves = [h for _, h, _ in s.ledger.store.leaf_data(s.ledger.log.id, 0, s.size)]
    k = index_of(s, s.ids[5])
    without = leaves[:k] + leaves[k + 1 :]
    # a longer history without record k (so the size increases)
    forged = without + [merkle.leaf_hash(b"filler-1"), merkle.leaf_hash(b"filler-2")]
    with pytest.raises(RegistryReverted, match=r"InvalidConsistencyProof") as exc:
        s.registry.anchor(s.operator, lid, len(forged), merkle.root_hash(forged),
                          merkle.consistency_proof(forged, s.size, len(forged)))  # fmt: skip
    assert exc.value.error_name == "InvalidConsistencyProof"
    assert isinstance(exc.value, AnchorError)
    # ... with a proof of the length the contract expects but made of anything
    n = len(merkle.consistency_proof(forged, s.size, len(forged)))
    with pytest.raises(RegistryReverted) as exc:
        s.registry.anchor(s.operator, lid, len(forged), merkle.root_hash(forged), [bytes(32)] * (n + 1))
    assert exc.value.error_name == "ProofLengthMismatch"
    # ... the same size as the anchored head, or smaller
    with pytest.raises(RegistryReverted, match=rf"SizeNotIncreasing\({s.size}, {s.size - 1}\)") as exc:
        s.registry.anchor(s.operator, lid, len(without), merkle.root_hash(without), [])
    assert exc.value.error_name == "SizeNotIncreasing"
    head = s.registry.head(lid)
    assert (head.tree_size, head.root) == (s.size, s.root)
    assert_held_receipts_verify(s)


# -- (vi) a freshly deployed contract ---------------------------------------------------


def _anchor_of(registry: Registry, tx, chain_id: int) -> Anchor:
    return Anchor(chain_id=chain_id, contract=registry.address, tx_hash="0x" + tx.tx_hash.hex(),
                  block_number=tx.block_number, block_hash="0x" + tx.block_hash.hex(), status="final")  # fmt: skip


def test_vi_receipts_anchored_on_a_fresh_contract_fail_against_the_logs_contract(scene: Scene):
    s = scene
    lid = log_id(s.ledger.origin)
    w3 = s.registry.w3
    fake = Registry.deploy(w3, s.operator)  # the operator's key, a later nonce: another address
    assert fake.address != s.registry.address
    fake.create_log(s.operator, lid)

    # A forged history without record k, of the anchored size, sealed with the real note
    # key and anchored on the fresh contract (its first head: no proof needed there).
    rows = s.ledger.store.leaf_data(s.ledger.log.id, 0, s.size)
    k = index_of(s, s.ids[5])
    kept = [r for r in rows if r[0] != k]
    leaves = [h for _, h, _ in kept] + [merkle.leaf_hash(b"filler")]
    assert len(leaves) == s.size
    root = merkle.root_hash(leaves)
    note = sign_checkpoint(Checkpoint(s.ledger.origin, s.size, root), s.ledger.note_signer)
    tx = fake.anchor(s.operator, lid, s.size, root, [])
    # the record after k moved to leaf k in the forged tree
    _, leaf_j, env_j = kept[k]
    forged = Receipt(entry=Envelope.from_json(env_j), leaf_index=k, tree_size=s.size,
                     inclusion_proof=tuple(merkle.inclusion_proof(leaves, k, s.size)), checkpoint=note,
                     anchor=_anchor_of(fake, tx, w3.eth.chain_id))  # fmt: skip
    assert merkle.leaf_hash(env_j) == leaf_j

    # A verifier that took the chain from the receipt would accept the anchor, but the
    # envelope's EIP-712 domain names the real contract, so the signature fails there.
    with pytest.raises(InvalidSignature):
        verify(s, forged, ChainRef(s.ledger.log.chain_id, fake.address, reader=RegistryAnchorReader(fake)))
    # The verifier's own ChainRef (the log's identity): the anchor names another contract.
    with pytest.raises(VerificationError, match=rf"contract {fake.address}, expected chain {EMBEDDED_CHAIN_ID} "
                                                rf"contract {s.ledger.log.contract}"):  # fmt: skip
        verify(s, forged)
    # The receipt's anchor rewritten to name the real contract: rootAt on the real contract
    # at this size is the honest root.
    renamed = replace(forged, anchor=replace(forged.anchor, contract=s.registry.address))
    with pytest.raises(VerificationError, match=rf"the chain anchors root {s.root.hex()} at size {s.size}; "
                                                rf"the receipt's checkpoint says {root.hex()}"):  # fmt: skip
        verify(s, renamed)
    # ... and with the real anchor's block too, the root check still comes first and fails
    real_block = replace(renamed, anchor=replace(renamed.anchor, block_number=s.anchor.block_number,
                                                 block_hash=s.anchor.block_hash, tx_hash=s.anchor.tx_hash))  # fmt: skip
    with pytest.raises(VerificationError, match=rf"at size {s.size}; the receipt's checkpoint says"):
        verify(s, real_block)

    # The ledger itself serving receipts anchored on a fresh contract: the operator grows
    # the log, seals, anchors the new head only on another fresh contract, and records
    # that anchor in its store.
    fake = Registry.deploy(w3, s.operator)
    fake.create_log(s.operator, lid)
    add_one(s)
    cp = s.ledger.seal()
    fake_tx = fake.anchor(s.operator, lid, cp.tree_size, cp.root_hash, [])
    a = _anchor_of(fake, fake_tx, w3.eth.chain_id)
    s.ledger.store.put_anchor(s.ledger.log.id, StoredAnchor(
        tree_size=cp.tree_size, tx_hash=a.tx_hash, chain_id=a.chain_id, contract=a.contract, nonce=fake_tx.nonce,
        block_number=a.block_number, block_hash=a.block_hash, status="final"))  # fmt: skip
    served = s.ledger.receipt(s.ids[5])
    assert served.anchor is not None and served.anchor.contract == fake.address and served.tree_size == cp.tree_size
    with pytest.raises(VerificationError, match=rf"contract {fake.address}, expected chain"):
        verify(s, served)
    # renamed to the real contract: nothing is anchored there at that size
    with pytest.raises(VerificationError,
                       match=rf"^record '.*', checkpoint of tree size {cp.tree_size} \(claimed anchor: tx .*\): "
                             rf"the chain holds no anchor at tree size {cp.tree_size}"):  # fmt: skip
        verify(s, replace(served, anchor=replace(served.anchor, contract=s.registry.address)))
    head = s.registry.head(lid)
    assert (head.tree_size, head.root) == (s.size, s.root)
    assert_held_receipts_verify(s)
