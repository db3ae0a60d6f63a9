"""The committed AnchorRegistry build and the contract's log id, without a chain client.

Kept apart from ``ledger.chain.rpc`` so that a verifier reading the embedded chain's
file (``ledger.chain.embedded_file``) needs neither web3 nor py-evm.

``load_artifact()``
    The committed build ``contracts/build/AnchorRegistry.json`` (abi, creation bytecode,
    deployed bytecode). Raises ``AnchorError`` when it cannot be read.
``log_id(origin)``
    ``SHA-256(origin)``, the contract's ``bytes32`` id of a log (DESIGN §4).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ledger.errors import AnchorError

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_PATH = REPO_ROOT / "contracts" / "build" / "AnchorRegistry.json"


@dataclass(frozen=True)
class Artifact:
    """The committed build of AnchorRegistry."""

    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    deployed_bytecode: bytes


def hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@cache
def load_artifact() -> Artifact:
    """The committed ABI and bytecode (``contracts/build/AnchorRegistry.json``)."""
    try:
        data = json.loads(ARTIFACT_PATH.read_text())
        return Artifact(
            abi=tuple(data["abi"]),
            bytecode=hex_bytes(data["bytecode"]),
            deployed_bytecode=hex_bytes(data["deployedBytecode"]),
        )
    except (OSError, ValueError, KeyError) as exc:
        raise AnchorError(f"cannot read the AnchorRegistry build {ARTIFACT_PATH}: {exc}") from exc


def log_id(origin: str) -> bytes:
    """The contract's log id of a log: ``SHA-256(origin)`` (DESIGN §4)."""
    if not isinstance(origin, str):
        raise TypeError(f"origin must be str, got {type(origin).__name__}")
    return hashlib.sha256(origin.encode("utf-8")).digest()
