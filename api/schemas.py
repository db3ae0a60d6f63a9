"""Wire shapes of the API: request bodies (parsed by the library), response models, docs.

Request bodies are read by ``api.deps.read_json_body`` (strict JSON) and turned into the
library's typed values here (``Submission.from_json``); their JSON Schemas below only
document them in OpenAPI (``openapi_extra``) — FastAPI never validates a body.
Response models are the public shapes; record views and receipts are the library's own
``to_json`` documents.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.envelope import parse_issued_at
from ledger.errors import LedgerError, MalformedEnvelope, MalformedInput
from ledger.log import MAX_BATCH
from ledger.submission import Submission

HEX32 = formats.anchored(formats.HEX32)

ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The signed record (DESIGN §3); every field is covered by the EIP-712 signature.",
    "required": ["v", "log", "kind", "id", "author", "issued_at", "commitment", "parents", "sig"],
    "additionalProperties": False,
    "properties": {
        "v": {"const": 1},
        "log": {"type": "string", "description": "the log's origin"},
        "kind": {"type": "string", "pattern": formats.anchored(formats.KIND), "examples": ["dataset"]},
        "id": {"type": "string", "pattern": formats.anchored(formats.RECORD_ID)},
        "author": {"type": "string", "pattern": formats.anchored(formats.ADDRESS), "description": "EIP-55 address"},
        "issued_at": {"type": "string", "examples": ["2026-11-27T10:00:00Z"]},
        "commitment": {"type": "string", "pattern": formats.anchored(formats.COMMITMENT)},
        "parents": {
            "type": "array", "maxItems": 256, "uniqueItems": True, "items": {"type": "string", "pattern": HEX32},
            "description": "leaf hashes of earlier entries this record derives from",
        },
        "sig": {"type": "string", "pattern": formats.anchored(formats.SIGNATURE), "description": "r ‖ s ‖ v, 65 bytes"},
    },
}

SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["envelope", "payload", "salt"],
    "additionalProperties": False,
    "properties": {
        "envelope": ENVELOPE_SCHEMA,
        "payload": {"description": "the record's payload; SHA-256(salt ‖ JCS(payload)) is the commitment"},
        "salt": {"type": "string", "pattern": HEX32, "description": "32 bytes as 64 lowercase hex digits"},
        "visibility": {"enum": ["public", "private"], "description": "default: the kind's"},
    },
}

BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {"records": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": SUBMISSION_SCHEMA}},
}

TOKEN_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["address"],
    "additionalProperties": False,
    "properties": {
        "address": {"type": "string", "pattern": formats.anchored(formats.ADDRESS), "description": "a registered participant"},
        "label": {"type": "string", "maxLength": 200},
    },
}

TOKEN_REVOKE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["token"],
    "additionalProperties": False,
    "properties": {"token": {"type": "string"}},
}

DISCLOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grantees"],
    "additionalProperties": False,
    "properties": {
        "grantees": {
            "type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": True,
            "items": {"type": "string", "pattern": formats.anchored(formats.ADDRESS)},
            "description": "registered participants (EIP-55 addresses) who may read the payload",
        },
    },
}

MAX_LABEL = 200
MAX_GRANTEES = 100
_ADDRESS = formats.ADDRESS
_DATE = formats.DATE


def json_body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body that FastAPI does not parse."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# -- parsing bodies into library values -------------------------------------------------


def _object(value: Any, what: str, required: set[str], optional: set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedInput(f"{what} must be a JSON object, got {type(value).__name__}")
    keys = set(value)
    if not required <= keys <= required | optional:
        raise MalformedInput(
            f"{what} has keys {sorted(required)}"
            + (f" and optionally {sorted(optional)}" if optional else "")
            + f"; got {sorted(keys)}"
        )
    return value


def submission_from_json(value: Any) -> Submission:
    """One submission. The envelope must be a JSON object, not JSON text inside a string."""
    if not isinstance(value, dict):
        raise MalformedEnvelope(f"a submission must be a JSON object, got {type(value).__name__}")
    if "envelope" in value and not isinstance(value["envelope"], dict):
        raise MalformedEnvelope(f"envelope must be a JSON object, got {type(value['envelope']).__name__}")
    return Submission.from_json(value)


def batch_from_json(value: Any) -> list[Submission]:
    """``{"records": [submission, ...]}``; an error names the index of the bad record."""
    records = _object(value, "a batch", {"records"})["records"]
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH:
        raise MalformedInput(f"records must be a list of 1..{MAX_BATCH} submissions")
    out = []
    for i, item in enumerate(records):
        try:
            out.append(submission_from_json(item))
        except LedgerError as e:
            e.args = (f"record {i}: {e.args[0] if e.args else ''}",) + e.args[1:]
            raise
    return out


def token_request_from_json(value: Any) -> tuple[str, str]:
    body = _object(value, "a token request", {"address"}, {"label"})
    address, label = body["address"], body.get("label", "")
    if not isinstance(address, str) or not isinstance(label, str) or len(label) > MAX_LABEL:
        raise MalformedInput(f"address must be a string and label a string of at most {MAX_LABEL} characters")
    return address, label


def disclose_from_json(value: Any) -> list[str]:
    grantees = _object(value, "a disclosure", {"grantees"})["grantees"]
    if not isinstance(grantees, list) or not 1 <= len(grantees) <= MAX_GRANTEES:
        raise MalformedInput(f"grantees must be a list of 1..{MAX_GRANTEES} addresses")
    for g in grantees:
        if not isinstance(g, str) or not _ADDRESS.fullmatch(g):
            raise MalformedInput(f"each grantee must be an 0x address of 40 hex digits, got {str(g)[:80]!r}")
    return grantees


def period_bound(value: str | None, name: str) -> datetime | None:
    """A ``since``/``until`` query value: RFC 3339 UTC (as ``issued_at`` is written) or a
    date ``YYYY-MM-DD`` (its first instant for ``since``, its last for ``until``)."""
    if value is None:
        return None
    m = _DATE.fullmatch(value)
    try:
        if m is not None:
            day = datetime(*(int(g) for g in m.groups()), tzinfo=UTC)
            return day if name == "since" else day + timedelta(days=1) - timedelta(microseconds=1)
        return parse_issued_at(value)
    except (ValueError, MalformedInput):
        raise MalformedInput(
            f"{name} must be an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SS[.fraction]Z) or a date YYYY-MM-DD, "
            f"got {value[:60]!r}"
        ) from None


def token_revoke_from_json(value: Any) -> str:
    token = _object(value, "a token revocation", {"token"})["token"]
    if not isinstance(token, str) or not token:
        raise MalformedInput("token must be a non-empty string")
    return token


# -- responses ----------------------------------------------------------------------------


class StateOut(BaseModel):
    """A record's derived state (DESIGN §8): a footprint's status, an agreement's, an
    access event's verdict with its facts (``count``, ``late``, …)."""

    status: str
    reason: str | None
    by: str | None = Field(description="the record whose admission set this state; null: the record's own")
    facts: dict[str, str]


class AppendedOut(BaseModel):
    """Where a submitted record is in the log; ``duplicate`` when it already was, and the
    derived state its admission gave it (null for a duplicate, and for kinds without one)."""

    id: str
    leaf_index: int
    leaf_hash: str = Field(pattern=HEX32)
    duplicate: bool
    state: StateOut | None = None


class LogOut(BaseModel):
    """The log's identity (what a verifier configures itself with) and its sizes."""

    origin: str
    chain_id: int
    contract: str
    note_key: str
    operator: str
    tree_size: int = Field(description="entries appended so far")
    checkpoint_size: int | None = Field(description="tree size of the latest signed checkpoint")


class ConsistencyProofOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    proof: list[str]


class InclusionProofOut(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class LegalIdOut(BaseModel):
    scheme: str
    value: str


class ParticipantOut(BaseModel):
    address: str
    name: str
    legal_id: LegalIdOut
    roles: list[str]


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its hash is stored")
    address: str
    label: str


class HealthOut(BaseModel):
    status: str = Field(description='"ok" or "unhealthy"')
    sealer: str = Field(
        description='"running", "standby" (another process holds the log\'s sealer lock), "halted", "stopped" or '
        '"disabled"'
    )
    detail: str | None = None
    tree_size: int
    checkpoint_size: int | None


class RecordListOut(BaseModel):
    records: list[dict[str, Any]]
    next_start: int | None = Field(description="pass as start to read on; null at the end of the log")


class PageOut(BaseModel):
    items: list[dict[str, Any]]
    next_start: int | None = Field(description="pass as start to read on; null at the end")


class DisclosuresOut(BaseModel):
    id: str
    grantees: list[str] = Field(description="participants the payload is disclosed to")
