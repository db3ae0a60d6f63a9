"""On-chain anchoring of tree heads (DESIGN §4, §6).

Layers, each building on the one before: rpc (the committed build, reverts, failures as
AnchorError) ← transactions (fees, signing, broadcast, lookup) ← registry (the typed
contract client) ← anchorer (submitted → mined) and anchoring (→ final / orphaned, and
checking a receipt's anchor). embedded (the persistent py-evm chain) and access (which
chain a data directory uses, opened and checked) open the chain.
"""

from ledger.chain.registry import (
    AnchoredRoot,
    AnchorTx,
    Artifact,
    Head,
    InvalidArgument,
    LookAlikeContract,
    Registry,
    RegistryReverted,
    load_artifact,
    log_id,
)

__all__ = [
    "AnchoredRoot",
    "AnchorTx",
    "Artifact",
    "Head",
    "InvalidArgument",
    "LookAlikeContract",
    "Registry",
    "RegistryReverted",
    "load_artifact",
    "log_id",
]
