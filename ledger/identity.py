"""The log's identity as a verifier configures itself with it: ``identity.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Identity:
    origin: str
    chain_id: int
    contract: str
    note_key: str
    operator: str

    def to_json(self) -> dict:
        return {
            "origin": self.origin,
            "chain_id": self.chain_id,
            "contract": self.contract,
            "note_key": self.note_key,
            "operator": self.operator,
        }

    @classmethod
    def from_file(cls, path: Path) -> "Identity":
        try:
            d = json.loads(path.read_text())
            return cls(d["origin"], int(d["chain_id"]), d["contract"], d["note_key"], d["operator"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"cannot read the log identity from {path}: {e}") from e
