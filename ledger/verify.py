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
6. the anchor: ``null`` means not yet anchored (valid, pending). A receipt that claims
   an anchor must name this log's chain and contract; checking it against the chain
   needs chain access, which ``ChainRef.reader`` provides (DESIGN §6).

Returns None or raises a ``VerificationError`` (or ``MalformedInput`` for unparsable input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledger import merkle
from ledger.checkpoint import NoteVerifier, verify_checkpoint
from ledger.envelope import Domain, make_commitment, verify_envelope
from ledger.errors import InvalidProof, InvalidSignature, VerificationError
from ledger.receipt import Receipt


class AnchorReader(Protocol):
    """Chain access for checking an anchor; implemented by ``ledger.chain``."""

    def check_anchor(self, receipt: Receipt, checkpoint_root: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class ChainRef:
    """The log's chain identity as the verifier knows it, and optionally a way to read it."""

    chain_id: int
    contract: str
    reader: AnchorReader | None = None


def verify_receipt(
    receipt: Receipt | dict[str, Any] | bytes | str, *, origin: str, chain: ChainRef, note_key: str
) -> None:
    """Check a receipt against the log identity given by the caller. None or raise."""
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
    if receipt.anchor is not None:
        a = receipt.anchor
        where = f"record {env.id!r}, anchor of tree size {receipt.tree_size} (tx {a.tx_hash}, block {a.block_number})"
        if a.chain_id != chain.chain_id or a.contract.lower() != chain.contract.lower():
            raise VerificationError(
                f"{where}: anchor is on chain {a.chain_id} contract {a.contract}, expected chain {chain.chain_id} "
                f"contract {chain.contract}"
            )
        if chain.reader is None:
            raise VerificationError(f"{where}: the receipt claims an anchor, but no chain access was given to check it")
        try:
            chain.reader.check_anchor(receipt, cp.root_hash)
        except VerificationError as e:
            raise type(e)(f"{where}: {e}") from e
