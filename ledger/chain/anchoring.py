"""Confirming anchors, and checking a receipt's anchor against the chain.

Sending anchors is ``ledger.chain.anchorer``'s job. Here:

``confirm_anchors`` (JSON-RPC chains; on the embedded chain a mined block is final) moves
``mined`` rows to ``final`` once deep enough, or to ``orphaned`` when a reorg removed
their transaction — the anchorer then anchors that checkpoint again.

``RegistryAnchorReader`` is what ``ledger.verify.check_receipt`` reads the chain with:
``find_anchor`` answers what ``rootAt(logId, tree_size)`` holds — nothing, or a head whose
root must be the checkpoint's, in which block (on the canonical chain), with how many
blocks on top (at least ``min_confirmations``), and whether it is final (at or below the
node's ``finalized`` block, or as deep as the verifier asked) — whatever the receipt claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ledger.chain.registry import Registry, RegistryReverted, log_id
from ledger.errors import AnchorError, VerificationError
from ledger.log import Ledger
from ledger.receipt import Receipt
from ledger.verify import FoundAnchor, found_anchor
from ledger.store import StoredAnchor


def confirm_anchors(ledger: Ledger, registry: Registry, *, confirmations: int) -> list[StoredAnchor]:
    """The confirmer's step: move ``mined`` anchors to ``final``, or ``orphaned`` after a reorg.

    For each ``mined`` row it asks the chain for the transaction's receipt. A receipt in the
    recorded block with ``confirmations`` blocks on top (or at or below the node's
    ``finalized`` block, where the node has one) makes it ``final``; a receipt in another
    block (re-included after a reorg) updates the block; no receipt, or a recorded block no
    longer canonical, makes it ``orphaned`` (a reverted one ``failed``) — the anchorer
    then anchors the checkpoint again from whatever head the chain has now. Returns the
    rows it changed.
    """
    w3 = registry.w3
    changed: list[StoredAnchor] = []
    latest = w3.eth.block_number
    try:
        finalized = w3.eth.get_block("finalized")["number"]
    except Exception:  # noqa: BLE001 - nodes without the tag answer with various errors
        finalized = -1
    for a in ledger.anchors(status="mined"):
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
            ledger.put_anchor(new)
            changed.append(new)
    return changed


@dataclass(frozen=True, slots=True)
class RegistryAnchorReader:
    """Checks receipts' anchors on a chain the verifier chose (``ChainRef.reader``)."""

    registry: Registry
    min_confirmations: int = 0

    def find_anchor(self, receipt: Receipt, checkpoint_root: bytes) -> FoundAnchor | None:
        """What the chain says of the receipt's tree size, whatever the receipt claims (``find_head``)."""
        return self.find_head(receipt.entry.log, receipt.tree_size, checkpoint_root)

    def find_head(self, origin: str, tree_size: int, checkpoint_root: bytes) -> FoundAnchor | None:
        """What the chain says of the log's head at ``tree_size``.

        None when the registry has no head at exactly that size. Raises
        ``VerificationError`` when it anchors another root there (the checkpoint is not
        the one on chain), or when the anchor has fewer than ``min_confirmations`` blocks
        on top (the verifier asked for them).
        """
        w3 = self.registry.w3
        try:
            try:
                on_chain = self.registry.root_at(log_id(origin), tree_size)
            except RegistryReverted as e:
                if e.error_name in ("TreeSizeNotAnchored", "UnknownLog"):
                    return None
                raise
            block = w3.eth.get_block(on_chain.block_number)
            latest = w3.eth.block_number
        except AnchorError as e:
            raise VerificationError(str(e)) from e  # verify_receipt names the record and the anchor
        try:
            finalized = w3.eth.get_block("finalized")["number"]
        except Exception:  # noqa: BLE001 - nodes without the tag answer with various errors
            finalized = None
        return found_anchor(
            tree_size=tree_size, checkpoint_root=checkpoint_root, root=on_chain.root,
            block_number=on_chain.block_number, block_hash="0x" + bytes(block["hash"]).hex(), latest=latest,
            finalized=finalized, min_confirmations=self.min_confirmations, timestamp=on_chain.timestamp,
        )  # fmt: skip
