"""A submission: a signed envelope with the payload and salt its commitment was made from.

This is what a client builds (``Submission.sign``) and sends (``to_json``), and what the
ledger parses from the wire (``from_json``) before admission (``ledger.log``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.access import VISIBILITIES
from ledger.canonical import parse_json
from ledger.envelope import Domain, Envelope, make_commitment, new_salt, sign_envelope
from ledger.errors import MalformedEnvelope


@dataclass(frozen=True, slots=True)
class Submission:
    """A signed envelope with the payload and salt its commitment was made from."""

    envelope: Envelope
    payload: Any
    salt: bytes
    visibility: str | None = None  # None: the kind's default

    @classmethod
    def sign(
        cls, *, origin: str, domain: Domain, private_key: bytes, kind: str, payload: Any,
        parents: Sequence[str] = (), record_id: str | None = None, visibility: str | None = None,
        issued_at: str | None = None,
    ) -> "Submission":
        """Build and sign a submission for the log ``origin`` with ``domain`` (a client's job)."""
        salt = new_salt()
        envelope = sign_envelope(
            log=origin,
            kind=kind,
            id=record_id or str(uuid.uuid4()),
            issued_at=issued_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            commitment=make_commitment(payload, salt),
            parents=tuple(parents),
            private_key=private_key,
            domain=domain,
        )
        return cls(envelope, payload, salt, visibility)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"envelope": self.envelope.to_json(), "payload": self.payload, "salt": self.salt.hex()}
        if self.visibility is not None:
            out["visibility"] = self.visibility
        return out

    @classmethod
    def from_json(cls, value: Any) -> "Submission":
        """Parse ``{"envelope": {...}, "payload": ..., "salt": "<64 hex>", "visibility"?: ...}``."""
        if isinstance(value, (bytes, str)):
            value = parse_json(value)
        if not isinstance(value, dict):
            raise MalformedEnvelope("a submission must be a JSON object")
        keys = set(value)
        if not {"envelope", "payload", "salt"} <= keys <= {"envelope", "payload", "salt", "visibility"}:
            raise MalformedEnvelope(
                f"a submission has keys envelope, payload, salt and optionally visibility; got {sorted(keys)}"
            )
        salt = value["salt"]
        if not isinstance(salt, str) or len(salt) != 64 or salt.strip("0123456789abcdef"):
            raise MalformedEnvelope("salt must be 32 bytes as 64 lowercase hex digits")
        visibility = value.get("visibility")
        if visibility is not None and visibility not in VISIBILITIES:
            raise MalformedEnvelope(f"visibility must be one of {VISIBILITIES}, got {visibility!r}")
        if not isinstance(value["envelope"], dict):
            raise MalformedEnvelope("envelope must be a JSON object")
        return cls(Envelope.from_json(value["envelope"]), value["payload"], bytes.fromhex(salt), visibility)
