"""``verify_receipt``: the whole offline check of a receipt, as ``tdsl verify`` runs it.

The verifier takes the log's identity from its own configuration or command line —
the origin, the chain id and registry contract that form the EIP-712 domain, and the
checkpoint note key — never from the receipt it is checking. It then checks, in order:

1. the receipt parses (``MalformedReceipt`` otherwise);
2. the checkpoint is a C2SP signed note by the log's note key, for this origin, and
   its tree size is the receipt's ``tree_size``;
3. the entry names this log and its EIP-712 signature recovers its author under the
   log's domain (so a record signed for another deployment fails);
4. the entry's leaf hash is included at ``leaf_index`` in the checkpoint's tree;
5. when payload and salt are present, they match the entry's commitment;
6. the anchor. A claimed anchor must name this log's chain and contract. Given chain
   access (``ChainRef.reader``), the verifier reads ``rootAt(logId, tree_size)`` itself,
   **whatever the receipt claims**, and the status it reports is the one it found:
   ``final``, ``mined`` or ``unanchored`` (issue 8: a receipt whose anchor was stripped
   to ``null`` used to pass as "pending" although the chain held it). A claim the chain
   contradicts is refused, naming it: no head at that size (an anchor of a smaller tree
   claimed for this one), another block, a block off the canonical chain, ``final``
   where the chain shows it is not. Without chain access a receipt that claims an anchor
   is invalid, and one that claims none is ``unchecked``.

``check_receipt`` returns that status (``AnchorStatus``); ``verify_receipt`` returns None
and, with ``require="anchored"`` or ``require="final"``, refuses anything weaker. Both
raise a ``VerificationError`` (or ``MalformedInput`` for unparsable input).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ledger import merkle
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.envelope import Domain, make_commitment, verify_envelope
from ledger.errors import InvalidProof, InvalidSignature, VerificationError
from ledger.receipt import Receipt


class AnchorStatus(StrEnum):
    """What the verifier found of the receipt's checkpoint on chain."""

    FINAL = "final"
    MINED = "mined"
    UNANCHORED = "unanchored"
    UNCHECKED = "unchecked"  # no chain access, and the receipt claims no anchor


#: ``require=`` values of ``verify_receipt`` and the statuses that meet them.
REQUIREMENTS = {"anchored": frozenset({AnchorStatus.MINED, AnchorStatus.FINAL}), "final": frozenset({AnchorStatus.FINAL})}


@dataclass(frozen=True, slots=True)
class FoundAnchor:
    """The head the chain holds at the receipt's tree size (its root already matched)."""

    block_number: int
    block_hash: str  # of that block on the canonical chain, 0x-hex
    confirmations: int
    final: bool  # at or below the node's finalized block, or deep enough for the verifier
    timestamp: int = 0  # the anchoring block's time (seconds since the epoch), as rootAt returns it


class AnchorReader(Protocol):
    """Chain access for checking an anchor; implemented by ``ledger.chain``."""

    def find_anchor(self, receipt: Receipt, checkpoint_root: bytes) -> FoundAnchor | None: ...

    def find_head(self, origin: str, tree_size: int, checkpoint_root: bytes) -> FoundAnchor | None:
        """The same for the log of ``origin`` at ``tree_size`` (no receipt needed: the audit bundle)."""
        ...


def found_anchor(
    *, tree_size: int, checkpoint_root: bytes, root: bytes, block_number: int, block_hash: str, latest: int,
    finalized: int | None, min_confirmations: int, timestamp: int = 0,
) -> FoundAnchor:
    """The verifier's rule for the head a chain holds at ``tree_size`` (every reader applies it).

    ``root`` and ``block_number`` are what ``rootAt`` returned, ``block_hash`` that block's
    canonical hash, ``latest`` the chain's newest block and ``finalized`` its finalized one
    (None where the chain has no such tag). Raises ``VerificationError`` when the root is not
    the checkpoint's, or when fewer than ``min_confirmations`` blocks are on top.
    """
    if root != checkpoint_root:
        raise VerificationError(
            f"the chain anchors root {root.hex()} at size {tree_size}; the receipt's checkpoint says {checkpoint_root.hex()}"
        )
    confirmations = latest - block_number
    if confirmations < min_confirmations:
        raise VerificationError(
            f"the anchor has {confirmations} confirmations, fewer than the {min_confirmations} required"
        )
    final = (finalized is not None and block_number <= finalized) or (
        min_confirmations > 0 and confirmations >= min_confirmations
    )
    return FoundAnchor(block_number, block_hash, confirmations, final, timestamp)


@dataclass(frozen=True, slots=True)
class ChainRef:
    """The log's chain identity as the verifier knows it, and optionally a way to read it."""

    chain_id: int
    contract: str
    reader: AnchorReader | None = None


def verify_receipt(
    receipt: Receipt | dict[str, Any] | bytes | str, *, origin: str, chain: ChainRef, note_key: str,
    require: str | None = None,
) -> None:
    """Check a receipt against the log identity given by the caller. None or raise.

    ``require``: ``"anchored"`` (mined or final) or ``"final"``; anything weaker is refused.
    """
    if require is not None and require not in REQUIREMENTS:
        raise ValueError(f"require must be one of {sorted(REQUIREMENTS)}, got {require!r}")
    status = check_receipt(receipt, origin=origin, chain=chain, note_key=note_key)
    if require is not None and status not in REQUIREMENTS[require]:
        raise VerificationError(f"the receipt's checkpoint is {status} on chain; {require} was required")


def check_receipt(
    receipt: Receipt | dict[str, Any] | bytes | str, *, origin: str, chain: ChainRef, note_key: str
) -> AnchorStatus:
    """Every check of the module docstring; returns the anchor status found on chain."""
    if not isinstance(receipt, Receipt):
        receipt = Receipt.from_json(receipt)
    cp = verify_checkpoint(receipt.checkpoint, NoteVerifier.from_text(note_key), origin=origin)
    if cp.tree_size != receipt.tree_size:
        raise VerificationError(
            f"receipt tree_size {receipt.tree_size} differs from its checkpoint's size {cp.tree_size}"
        )
    env = receipt.entry
    if env.log != origin:
        raise VerificationError(f"record {env.id!r} is for log {env.log!r}, expected {origin!r}")
    try:
        verify_envelope(env, Domain(chain_id=chain.chain_id, verifying_contract=chain.contract))
    except InvalidSignature as e:
        raise InvalidSignature(f"record {env.id!r} at leaf {receipt.leaf_index}: {e}") from e
    try:
        merkle.verify_inclusion(env.leaf_hash(), receipt.leaf_index, receipt.tree_size, receipt.inclusion_proof, cp.root_hash)
    except InvalidProof as e:
        raise InvalidProof(
            f"record {env.id!r} at leaf {receipt.leaf_index} is not in the checkpoint of size {cp.tree_size}: {e}",
            expected=e.expected,
            calculated=e.calculated,
        ) from e
    if receipt.salt is not None and make_commitment(receipt.payload, receipt.salt) != env.commitment:
        raise VerificationError(f"record {env.id!r}: payload and salt do not match the signed commitment")
    a = receipt.anchor
    where = f"record {env.id!r}, checkpoint of tree size {receipt.tree_size}"
    if a is not None:
        where += f" (claimed anchor: tx {a.tx_hash}, block {a.block_number}, {a.status})"
        if a.chain_id != chain.chain_id or a.contract.lower() != chain.contract.lower():
            raise VerificationError(
                f"{where}: anchor is on chain {a.chain_id} contract {a.contract}, expected chain {chain.chain_id} "
                f"contract {chain.contract}"
            )
    if chain.reader is None:
        if a is not None:
            raise VerificationError(f"{where}: the receipt claims an anchor, but no chain access was given to check it")
        return AnchorStatus.UNCHECKED
    try:
        found = chain.reader.find_anchor(receipt, cp.root_hash)
    except VerificationError as e:
        raise type(e)(f"{where}: {e}") from e
    if a is not None:
        if found is None:
            raise VerificationError(f"{where}: the chain holds no anchor at tree size {receipt.tree_size}")
        if found.block_number != a.block_number:
            raise VerificationError(
                f"{where}: the head of size {receipt.tree_size} was anchored in block {found.block_number}, "
                f"not {a.block_number} as the receipt says"
            )
        if found.block_hash != a.block_hash:
            raise VerificationError(f"{where}: block {a.block_number} is not {a.block_hash} on the canonical chain")
        if a.status == "final" and not found.final:
            raise VerificationError(
                f"{where}: the receipt claims final, but the anchor has {found.confirmations} confirmations "
                "and is not below the chain's finalized block"
            )
    if found is None:
        return AnchorStatus.UNANCHORED
    return AnchorStatus.FINAL if found.final else AnchorStatus.MINED
