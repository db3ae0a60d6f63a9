"""On-chain anchoring of tree heads (DESIGN §4, §6): a typed client of AnchorRegistry."""

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
