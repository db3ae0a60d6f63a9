"""The receipt: the offline proof bundle of one record (DESIGN §3).

``{"type": "tds-ledger/receipt@1", "entry": {...envelope...}, "leaf_index", "tree_size",
"inclusion_proof": [hex], "checkpoint": "<signed note>", "anchor": {...} | null,
"payload": ..., "salt": "<hex>"}``. ``payload`` and ``salt`` are present only for
callers allowed to see them (both or neither). ``anchor`` is null until the checkpoint
is anchored on chain; asking again later returns the upgraded receipt, same shape.

Parsing is strict: unknown keys, wrong types, bad hex or a proof of more than 64 hashes
raise ``MalformedReceipt``. Parsing checks form only; ``ledger.verify`` checks truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger import formats
from ledger.canonical import parse_json
from ledger.envelope import Envelope
from ledger.errors import MalformedInput, MalformedReceipt

RECEIPT_TYPE = "tds-ledger/receipt@1"
MAX_PROOF_HASHES = 64
ANCHOR_STATUSES = ("submitted", "mined", "final", "orphaned", "failed")

# ledger.formats, matched whole: ``^…$`` with ``re.match`` accepted a trailing newline (issue 8).
_HASH_HEX = formats.HEX32
_SALT_HEX = formats.HEX32
_TX_HEX = formats.TX_HASH
_ADDRESS = formats.ADDRESS


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedReceipt(f"receipt {name} must be a non-negative integer, got {value!r}")
    return value


def _str(value: Any, name: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or (pattern is not None and not formats.matches(pattern, value)):
        raise MalformedReceipt(f"receipt {name} is malformed: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where the receipt's checkpoint is anchored on chain."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, value: Any) -> "Anchor":
        keys = {"chain_id", "contract", "tx_hash", "block_number", "block_hash", "status"}
        if not isinstance(value, dict) or set(value) != keys:
            raise MalformedReceipt(f"receipt anchor must be an object with keys {sorted(keys)}")
        status = _str(value["status"], "anchor.status")
        if status not in ANCHOR_STATUSES:
            raise MalformedReceipt(f"receipt anchor.status must be one of {ANCHOR_STATUSES}, got {status!r}")
        return cls(
            chain_id=_int(value["chain_id"], "anchor.chain_id"),
            contract=_str(value["contract"], "anchor.contract", _ADDRESS),
            tx_hash=_str(value["tx_hash"], "anchor.tx_hash", _TX_HEX),
            block_number=_int(value["block_number"], "anchor.block_number"),
            block_hash=_str(value["block_hash"], "anchor.block_hash", _TX_HEX),
            status=status,
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    entry: Envelope
    leaf_index: int
    tree_size: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    anchor: Anchor | None = None
    payload: Any = None
    salt: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": RECEIPT_TYPE,
            "entry": self.entry.to_json(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            "checkpoint": self.checkpoint,
            "anchor": None if self.anchor is None else self.anchor.to_json(),
        }
        if self.salt is not None:
            out["payload"] = self.payload
            out["salt"] = self.salt.hex()
        return out

    @classmethod
    def from_json(cls, value: dict[str, Any] | bytes | str) -> "Receipt":
        if isinstance(value, (bytes, str)):
            value = parse_json(value)
        if not isinstance(value, dict):
            raise MalformedReceipt("a receipt must be a JSON object")
        required = {"type", "entry", "leaf_index", "tree_size", "inclusion_proof", "checkpoint", "anchor"}
        keys = set(value)
        if not required <= keys or not keys <= required | {"payload", "salt"}:
            raise MalformedReceipt(
                f"receipt keys must be {sorted(required)} plus optionally payload and salt, got {sorted(keys)}"
            )
        if ("payload" in keys) != ("salt" in keys):
            raise MalformedReceipt("receipt payload and salt come together or not at all")
        if value["type"] != RECEIPT_TYPE:
            raise MalformedReceipt(f"receipt type must be {RECEIPT_TYPE!r}, got {value['type']!r}")
        proof = value["inclusion_proof"]
        if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
            raise MalformedReceipt(f"receipt inclusion_proof must be a list of at most {MAX_PROOF_HASHES} hashes")
        if not isinstance(value["entry"], dict):
            raise MalformedReceipt("receipt entry must be a JSON object")
        try:
            entry = Envelope.from_json(value["entry"])
        except MalformedInput as e:
            raise MalformedReceipt(f"receipt entry: {e}") from e
        salt = None
        if "salt" in keys:
            salt = bytes.fromhex(_str(value["salt"], "salt", _SALT_HEX))
        return cls(
            entry=entry,
            leaf_index=_int(value["leaf_index"], "leaf_index"),
            tree_size=_int(value["tree_size"], "tree_size"),
            inclusion_proof=tuple(bytes.fromhex(_str(h, "inclusion_proof[]", _HASH_HEX)) for h in proof),
            checkpoint=_str(value["checkpoint"], "checkpoint"),
            anchor=None if value["anchor"] is None else Anchor.from_json(value["anchor"]),
            payload=value.get("payload"),
            salt=salt,
        )
