"""The log: identity and sizes, the latest signed checkpoint, proofs between checkpointed sizes.

Proofs are served only up to the latest checkpoint's size: only checkpointed roots are
signed, so a proof to a larger size would prove nothing a client could check.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import LedgerDep
from api.schemas import ConsistencyProofOut, InclusionProofOut, LogOut
from ledger.errors import MalformedInput, NotFound

router = APIRouter(tags=["log"])

MAX_SIZE = 2**63 - 1
CHECKPOINT_MEDIA_TYPE = "text/plain; charset=utf-8"

Size = Annotated[int, Query(ge=0, le=MAX_SIZE)]


def _covered(size: int, checkpoint_size: int, what: str) -> None:
    if size > checkpoint_size:
        raise NotFound(f"{what} {size} is beyond the latest checkpoint's tree size {checkpoint_size}")


@router.get("/log")
def get_log(ledger: LedgerDep) -> LogOut:
    """The log's identity — what a verifier configures itself with — and its sizes."""
    info = ledger.log
    last = ledger.checkpoint_or_none()
    return LogOut(
        origin=info.origin,
        chain_id=info.chain_id,
        contract=info.contract,
        note_key=info.note_vkey,
        operator=info.operator,
        tree_size=ledger.tree_size(),
        checkpoint_size=None if last is None else last.tree_size,
    )


@router.get("/checkpoint", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
def get_checkpoint(ledger: LedgerDep) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note."""
    note = ledger.latest_checkpoint().note
    return PlainTextResponse(note, media_type=CHECKPOINT_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@router.get("/proofs/consistency")
def get_consistency_proof(
    ledger: LedgerDep,
    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_SIZE, description="the older tree size")],
    to: Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="default: the latest checkpoint's")] = None,
) -> ConsistencyProofOut:
    """RFC 9162 consistency proof from tree size ``from`` to ``to`` (both checkpointed or below)."""
    checkpoint_size = ledger.latest_checkpoint().tree_size
    to = checkpoint_size if to is None else to
    if from_ > to:
        raise MalformedInput(f"from ({from_}) must not be greater than to ({to})")
    _covered(to, checkpoint_size, "tree size")
    proof = ledger.consistency_proof(from_, to)
    return ConsistencyProofOut(from_=from_, to=to, proof=[h.hex() for h in proof])


@router.get("/proofs/inclusion")
def get_inclusion_proof(
    ledger: LedgerDep,
    leaf_index: Annotated[int, Query(ge=0, le=MAX_SIZE)],
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_SIZE, description="default: the latest checkpoint's")] = None,
) -> InclusionProofOut:
    """RFC 9162 inclusion proof of the leaf at ``leaf_index`` in the tree of ``tree_size``."""
    checkpoint_size = ledger.latest_checkpoint().tree_size
    tree_size = checkpoint_size if tree_size is None else tree_size
    if leaf_index >= tree_size:
        raise MalformedInput(f"leaf_index ({leaf_index}) must be below tree_size ({tree_size})")
    _covered(tree_size, checkpoint_size, "tree size")
    leaf_hash, proof = ledger.inclusion_proof(leaf_index, tree_size)
    return InclusionProofOut(
        leaf_index=leaf_index, tree_size=tree_size, leaf_hash=leaf_hash.hex(), proof=[h.hex() for h in proof]
    )
