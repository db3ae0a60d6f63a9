"""Anchoring checkpoints on the registry, and checking a receipt's anchor against the chain.

``anchor_latest`` is the anchorer's step, synchronous in this milestone: it reads the
chain's head for the log first (the chain, not our rows, says what is anchored), refuses
to go on if that head is not a head of our own tree, then sends one ``anchor`` with the
consistency proof from the chain's head to the latest checkpoint and records the mined
transaction. A reply lost after the transaction landed is found again from the
registry's events, so it never leads to a second anchor.

On the embedded chain a mined block is final (one in-process node, no reorgs), so rows
are recorded ``final``; on a JSON-RPC chain they are recorded ``mined``, and moving them
to ``final`` (or ``orphaned``) is the confirmer's job (not built yet).

``RegistryAnchorReader`` is what ``ledger.verify.verify_receipt`` uses to check an
anchor: ``rootAt(logId, tree_size)`` on chain must be the checkpoint's root, anchored in
the block the receipt names, and that block must be on the canonical chain with at least
``min_confirmations`` blocks on top (or at/below the node's ``finalized`` block).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger.chain.registry import AnchorTx, Registry, RegistryReverted, log_id
from ledger.errors import AnchorError, InconsistentTreeHead, VerificationError
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.store import StoredAnchor


def _stored(tree_size: int, tx: AnchorTx, chain_id: int, contract: str, status: str) -> StoredAnchor:
    return StoredAnchor(
        tree_size=tree_size, tx_hash="0x" + tx.tx_hash.hex(), chain_id=chain_id, contract=contract,
        nonce=tx.nonce, block_number=tx.block_number, block_hash="0x" + tx.block_hash.hex(), status=status,
    )  # fmt: skip


def anchor_latest(ledger: Ledger, registry: Registry, account, *, final_when_mined: bool) -> StoredAnchor | None:
    """Anchor the latest checkpoint if the chain does not have it yet; return its anchor row.

    Returns None when there is no checkpoint. Raises ``InconsistentTreeHead`` when the
    chain's head for this log is not a head of the stored tree (someone anchored another
    history with the operator key, or the store was rewritten), and ``AnchorError`` for a
    chain failure (nothing is recorded then).
    """
    if (registry.w3.eth.chain_id, registry.address) != (ledger.log.chain_id, ledger.log.contract):
        raise AnchorError(
            f"the registry is {registry.address} on chain {registry.w3.eth.chain_id}; this log's EIP-712 "
            f"domain names {ledger.log.contract} on chain {ledger.log.chain_id}"
        )
    store, log = ledger.store, ledger.log.id
    cp = store.latest_checkpoint(log)
    if cp is None:
        return None
    status = "final" if final_when_mined else "mined"
    lid = log_id(ledger.origin)
    head = registry.head(lid)
    if head.tree_size > cp.tree_size:
        raise InconsistentTreeHead(
            f"the chain's head for {ledger.origin!r} has size {head.tree_size}, beyond our latest checkpoint "
            f"{cp.tree_size}: it was not anchored from this store"
        )
    if head.tree_size > 0 and store.root_at(log, head.tree_size, fresh=True) != head.root:
        raise InconsistentTreeHead(
            f"the chain's head for {ledger.origin!r} at size {head.tree_size} has root {head.root.hex()}, "
            f"which is not the root of our tree at that size"
        )
    if head.tree_size == cp.tree_size:  # already there: find and record the transaction that did it
        tx = registry.anchored_tx(lid, cp.tree_size)
        if tx is None:
            raise AnchorError(f"the chain's head is at size {cp.tree_size} but no TreeHeadAnchored event says so")
        anchor = _stored(cp.tree_size, tx, ledger.log.chain_id, registry.address, status)
    else:
        proof = store.consistency_proof(log, head.tree_size, cp.tree_size, fresh=True)
        try:
            tx = registry.anchor(account, lid, cp.tree_size, cp.root_hash, proof)
        except RegistryReverted as e:
            raise AnchorError(f"the registry refused checkpoint {cp.tree_size}: {e}") from e
        anchor = _stored(cp.tree_size, tx, ledger.log.chain_id, registry.address, status)
    store.put_anchor(log, anchor)
    return anchor


def anchor_if_behind(ledger: Ledger, registry: Registry, account, *, final_when_mined: bool) -> StoredAnchor | None:
    """``anchor_latest`` when the latest checkpoint has no anchor row yet (no chain read otherwise)."""
    cp = ledger.store.latest_checkpoint(ledger.log.id)
    if cp is None:
        return None
    if ledger.store.anchored_size(ledger.log.id) >= cp.tree_size:
        return None
    return anchor_latest(ledger, registry, account, final_when_mined=final_when_mined)


def confirm_anchors(ledger: Ledger, registry: Registry, *, confirmations: int) -> list[StoredAnchor]:
    """The confirmer's step: move ``mined`` anchors to ``final``, or ``orphaned`` after a reorg.

    For each ``mined`` row it asks the chain for the transaction's receipt. A receipt in the
    recorded block with ``confirmations`` blocks on top (or at or below the node's
    ``finalized`` block, where the node has one) makes it ``final``; a receipt in another
    block (re-included after a reorg) updates the block; no receipt, or a recorded block no
    longer canonical, makes it ``orphaned`` (a reverted one ``failed``) — ``anchor_if_behind``
    then anchors the checkpoint again from whatever head the chain has now. Returns the
    rows it changed. (``submitted``, a sent transaction not yet mined, is not used yet:
    ``Registry.anchor`` waits for the receipt before anything is recorded.)
    """
    w3 = registry.w3
    changed: list[StoredAnchor] = []
    latest = w3.eth.block_number
    try:
        finalized = w3.eth.get_block("finalized")["number"]
    except Exception:  # noqa: BLE001 - nodes without the tag answer with various errors
        finalized = -1
    for a in ledger.store.anchors(ledger.log.id, status="mined"):
        try:
            receipt = w3.eth.get_transaction_receipt(a.tx_hash)
        except Exception:  # noqa: BLE001 - web3 raises TransactionNotFound (and others) for a gone tx
            receipt = None
        if receipt is None:
            new = replace(a, status="orphaned")
        elif receipt["status"] != 1:  # mined but reverted: it anchored nothing
            new = replace(a, status="failed")
        else:
            block, block_hash = receipt["blockNumber"], "0x" + bytes(receipt["blockHash"]).hex()
            canonical = "0x" + bytes(w3.eth.get_block(block)["hash"]).hex()
            if canonical != block_hash:
                new = replace(a, status="orphaned")
            elif latest - block >= confirmations or block <= finalized:
                new = replace(a, block_number=block, block_hash=block_hash, status="final")
            else:
                new = replace(a, block_number=block, block_hash=block_hash)
        if new != a:
            ledger.store.put_anchor(ledger.log.id, new)
            changed.append(new)
    return changed


@dataclass(frozen=True, slots=True)
class RegistryAnchorReader:
    """Checks receipts' anchors on a chain the verifier chose (``ChainRef.reader``)."""

    registry: Registry
    min_confirmations: int = 0

    def check_anchor(self, receipt: Receipt, checkpoint_root: bytes) -> None:
        a = receipt.anchor
        if a is None:  # verify_receipt only asks when there is one
            raise VerificationError("the receipt has no anchor to check")
        w3 = self.registry.w3
        try:
            on_chain = self.registry.root_at(log_id(receipt.entry.log), receipt.tree_size)
            block = w3.eth.get_block(a.block_number)
            latest = w3.eth.block_number
        except AnchorError as e:
            raise VerificationError(str(e)) from e  # verify_receipt names the record and the anchor
        if on_chain.root != checkpoint_root:
            raise VerificationError(
                f"the chain anchors root {on_chain.root.hex()} at size {receipt.tree_size}; "
                f"the receipt's checkpoint says {checkpoint_root.hex()}"
            )
        if on_chain.block_number != a.block_number:
            raise VerificationError(
                f"the head of size {receipt.tree_size} was anchored in block {on_chain.block_number}, "
                f"not {a.block_number} as the receipt says"
            )
        if "0x" + bytes(block["hash"]).hex() != a.block_hash:
            raise VerificationError(f"block {a.block_number} is not {a.block_hash} on the canonical chain")
        if latest - a.block_number < self.min_confirmations:
            raise VerificationError(
                f"the anchor has {latest - a.block_number} confirmations, fewer than the {self.min_confirmations} required"
            )
