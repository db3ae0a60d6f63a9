"""The log's identity as a verifier configures itself with it: ``identity.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ledger import formats
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
        """Read and check ``identity.json``: the origin, the addresses and the chain id in
        their wire formats (``ledger.formats``), the chain id a JSON integer."""
        try:
            d = json.loads(path.read_text())
            ident = cls(d["origin"], d["chain_id"], d["contract"], d["note_key"], d["operator"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"cannot read the log identity from {path}: {e}") from e
        problems = [
            name for name, ok in (
                ("origin", formats.matches(formats.ORIGIN, ident.origin)),
                ("chain_id", type(ident.chain_id) is int and ident.chain_id > 0),
                ("contract", formats.matches(formats.ADDRESS, ident.contract)),
                ("note_key", isinstance(ident.note_key, str) and ident.note_key.isascii() and ident.note_key.isprintable()),
                ("operator", formats.matches(formats.ADDRESS, ident.operator)),
            ) if not ok
        ]  # fmt: skip
        if problems:
            raise ConfigError(f"the log identity in {path} has malformed {', '.join(problems)}")
        return ident
