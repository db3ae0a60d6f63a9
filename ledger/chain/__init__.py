"""On-chain anchoring of tree heads (DESIGN §4, §6).

Layers, each building on the one before: artifact (the committed build, log ids) ← rpc
(reverts decoded, failures as AnchorError) ← transactions (fees, signing, broadcast,
lookup) ← registry (the typed contract client) ← anchorer (submitted → mined) and
anchoring (→ final / orphaned, and checking a receipt's anchor). embedded (the persistent
py-evm chain) and access (which chain a data directory uses, opened and checked) open the
chain. embedded_file reads the embedded chain's file for a verifier; it and artifact need
neither web3 nor py-evm.

The names below come from ``ledger.chain.registry`` on first use, so that importing a light
module of this package (a verifier's) does not import web3.
"""

from importlib import import_module

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


def __getattr__(name: str):
    if name in __all__:
        return getattr(import_module("ledger.chain.registry"), name)
    raise AttributeError(f"module 'ledger.chain' has no attribute {name!r}")
