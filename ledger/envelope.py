"""The signed record: envelope format, EIP-712 signing and verification (DESIGN §3).

An ``Envelope`` is one log entry. Every field but ``sig`` is signed as the EIP-712 struct

  Record(string log,string kind,string id,address author,string issuedAt,bytes32 commitment,bytes32[] parents)

under the domain ``{name: "TDS Ledger", version: "1", chainId, verifyingContract}`` — the
chain id and registry contract of the log's anchor — so a signature cannot be replayed on
another log or deployment. ``commitment`` is signed as its 32 raw digest bytes, each
parent as its 32-byte leaf hash. ``leaf_input = to_bytes() = JCS(to_json())``.

An ``Envelope`` is valid by construction: the constructor checks every field's type and
format and raises ``ledger.errors.MalformedEnvelope`` naming the field. Whether the
signature is right is a separate question, answered by ``verify_envelope``, which returns
None or raises ``ledger.errors.InvalidSignature``.

Hot paths use keccak from safe-pysha3 (``ledger.eip712.keccak256``) and libsecp256k1 through
coincurve directly, not eth-account.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, ClassVar

import coincurve

from ledger import formats, merkle
from ledger.canonical import canonicalize, parse_json
from ledger.eip712 import keccak256, to_checksum_address
from ledger.errors import (
    InvalidSignature,
    MalformedEnvelope,
    MalformedInput,
    VerificationError,
)

__all__ = [
    "ENVELOPE_VERSION", "MAX_PARENTS", "RECORD_TYPE", "RECORD_TYPES", "ZERO_ADDRESS",
    "Domain", "Envelope", "address_of", "make_commitment", "new_salt", "parse_issued_at",
    "record_digest", "sign_envelope", "verify_commitment", "verify_envelope",
]  # fmt: skip

ENVELOPE_VERSION = 1
MAX_PARENTS = 256
ZERO_ADDRESS = "0x" + "0" * 40

RECORD_TYPE = (
    "Record(string log,string kind,string id,address author,string issuedAt,"
    "bytes32 commitment,bytes32[] parents)"
)
_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"


def _members(encoded_type: str) -> list[dict[str, str]]:
    """``Name(t1 n1,t2 n2)`` → ``[{"name": "n1", "type": "t1"}, ...]``."""
    inner = encoded_type[encoded_type.index("(") + 1 : -1]
    return [{"name": n, "type": t} for t, n in (member.split(" ") for member in inner.split(","))]


#: The same types as ``eth_signTypedData_v4`` JSON, for wallets and generic encoders.
RECORD_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": _members(_DOMAIN_TYPE),
    "Record": _members(RECORD_TYPE),
}
_RECORD_TYPE_HASH = keccak256(RECORD_TYPE.encode("ascii"))
_DOMAIN_TYPE_HASH = keccak256(_DOMAIN_TYPE.encode("ascii"))
_NAME_HASH = keccak256(b"TDS Ledger")
_VERSION_HASH = keccak256(b"1")

# secp256k1 group order.
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = _N // 2

# -- field formats: ledger.formats (fullmatch; ASCII only) -------------------------------
_LOG = formats.ORIGIN
_KIND = formats.KIND
_ID = formats.RECORD_ID
_ADDRESS = formats.ADDRESS
_ISSUED_AT = formats.ISSUED_AT
_COMMITMENT = formats.COMMITMENT
_LEAF_HASH = formats.HEX32
_SIG = formats.SIGNATURE

_FIELDS = ("v", "log", "kind", "id", "author", "issued_at", "commitment", "parents", "sig")
_FIELD_SET = frozenset(_FIELDS)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _fail(name: str, expected: str, value: object) -> MalformedEnvelope:
    return MalformedEnvelope(f"envelope.{name}: expected {expected}, got {_show(value)}")


def _check_str(name: str, value: object, pattern: re.Pattern[str], expected: str) -> None:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise _fail(name, expected, value)


def parse_issued_at(value: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` (RFC 3339, UTC, 'Z', ≤ 9 fraction digits).

    Returns an aware UTC datetime (fraction truncated to microseconds). A leap second
    (``:60``) is refused. Raises MalformedEnvelope naming ``issued_at``.
    """
    expected = "RFC 3339 UTC time YYYY-MM-DDTHH:MM:SS[.fraction]Z"
    if type(value) is not str or (m := _ISSUED_AT.fullmatch(value)) is None:
        raise _fail("issued_at", expected, value)
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError as exc:
        raise _fail("issued_at", f"a real date and time ({exc})", value) from exc


def _check_author(name: str, value: object) -> None:
    if type(value) is not str or _ADDRESS.fullmatch(value) is None:
        raise _fail(name, "an EIP-55 address 0x + 40 hex digits", value)
    checksummed = to_checksum_address(value)
    if value != checksummed:
        raise _fail(name, f"the EIP-55 checksummed form {checksummed}", value)
    if value == ZERO_ADDRESS:
        raise _fail(name, "a non-zero address", value)


def check_origin(origin: object) -> str:
    """Check a log origin (the envelope's ``log``, the checkpoint's first line, the note
    key name): 1..255 printable ASCII characters without space or '+'. Returns it."""
    _check_str("log", origin, _LOG, "an origin of 1..255 printable ASCII characters without space or '+'")
    return origin  # type: ignore[return-value]


def _check_record(
    log: object, kind: object, id: object, author: object, issued_at: object, commitment: object,
    parents: object,
) -> None:  # fmt: skip
    """Check every signed field's type and format; raise MalformedEnvelope naming it."""
    _check_str("log", log, _LOG, "an origin of 1..255 printable ASCII characters without space or '+'")
    _check_str("kind", kind, _KIND, formats.anchored(formats.KIND))
    _check_str("id", id, _ID, "1..128 characters of [A-Za-z0-9._:-]")
    _check_author("author", author)
    parse_issued_at(issued_at)  # type: ignore[arg-type]
    _check_str("commitment", commitment, _COMMITMENT, '"sha256:" + 64 lowercase hex digits')
    if type(parents) is not tuple:
        raise _fail("parents", "a tuple of leaf hashes", type(parents).__name__)
    if len(parents) > MAX_PARENTS:
        raise _fail("parents", f"at most {MAX_PARENTS} leaf hashes", f"{len(parents)} of them")
    for i, parent in enumerate(parents):
        _check_str(f"parents[{i}]", parent, _LEAF_HASH, "a leaf hash of 64 lowercase hex digits")
    if len(set(parents)) != len(parents):
        raise _fail("parents", "unique leaf hashes", "a repeated one")


@dataclass(frozen=True, slots=True)
class Domain:
    """The EIP-712 domain of one log's deployment: its anchor's chain and registry.

    ``name`` is "TDS Ledger" and ``version`` "1". ``verifying_contract`` must be in EIP-55
    checksummed form; ``chain_id`` an int in [1, 2**256). ``separator`` (the 32-byte
    domain separator) is computed once, at construction. Raises MalformedInput.
    """

    chain_id: int
    verifying_contract: str
    separator: bytes = field(init=False, repr=False, compare=False)

    name: ClassVar[str] = "TDS Ledger"
    version: ClassVar[str] = "1"

    def __post_init__(self) -> None:
        chain_id, contract = self.chain_id, self.verifying_contract
        if type(chain_id) is not int or not 0 < chain_id < 2**256:
            raise MalformedInput(f"domain.chain_id: expected an int in [1, 2**256), got {_show(chain_id)}")
        if type(contract) is not str or _ADDRESS.fullmatch(contract) is None:
            raise MalformedInput(f"domain.verifying_contract: expected an address, got {_show(contract)}")
        checksummed = to_checksum_address(contract)
        if contract != checksummed:
            raise MalformedInput(f"domain.verifying_contract: expected EIP-55 {checksummed}, got {contract}")
        address = bytes(12) + bytes.fromhex(contract[2:])
        encoded = _DOMAIN_TYPE_HASH + _NAME_HASH + _VERSION_HASH + chain_id.to_bytes(32, "big") + address
        separator = keccak256(encoded)
        object.__setattr__(self, "separator", separator)

    def to_json(self) -> dict[str, Any]:
        """The domain as ``eth_signTypedData_v4`` JSON."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@lru_cache(maxsize=1024)
def _keccak_text(text: str) -> bytes:
    """keccak256 of a low-cardinality string (a log origin, a kind), cached."""
    return keccak256(text.encode("ascii"))


def _record_digest(
    separator: bytes, log: str, kind: str, id: str, author: str, issued_at: str, commitment: str,
    parents: Sequence[str],
) -> bytes:  # fmt: skip
    """EIP-712 digest of a Record. Requires fields already checked by ``_check_record``."""
    struct_hash = keccak256(
        b"".join(
            (
                _RECORD_TYPE_HASH,
                _keccak_text(log),
                _keccak_text(kind),
                keccak256(id.encode("ascii")),
                bytes(12) + bytes.fromhex(author[2:]),
                keccak256(issued_at.encode("ascii")),
                bytes.fromhex(commitment[7:]),
                keccak256(bytes.fromhex("".join(parents))),
            )
        )
    )
    return keccak256(b"\x19\x01" + separator + struct_hash)


def _check_domain(domain: object) -> Domain:
    if not isinstance(domain, Domain):
        raise TypeError(f"expected a Domain, got {type(domain).__name__}")
    return domain


@dataclass(frozen=True, slots=True)
class Envelope:
    """One signed record; valid by construction (see the module docstring).

    ``parents`` is a tuple of unique 64-char lowercase hex leaf hashes (≤ 256), ``sig`` is
    ``0x`` + 130 lowercase hex (r ‖ s ‖ v). Raises MalformedEnvelope naming the field.
    """

    v: int
    log: str
    kind: str
    id: str
    author: str
    issued_at: str
    commitment: str
    parents: tuple[str, ...]
    sig: str

    def __post_init__(self) -> None:
        if type(self.v) is not int or self.v != ENVELOPE_VERSION:
            raise _fail("v", str(ENVELOPE_VERSION), self.v)
        _check_record(
            self.log, self.kind, self.id, self.author, self.issued_at, self.commitment, self.parents
        )
        _check_str("sig", self.sig, _SIG, "0x + 130 lowercase hex digits (r ‖ s ‖ v, 65 bytes)")

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | bytes | str) -> Envelope:
        """Parse an envelope from strict JSON (bytes/str) or an already parsed object.

        Requires exactly the fields of DESIGN §3, each of its JSON type. Raises
        MalformedJSON for bytes that are not strict JSON, MalformedEnvelope otherwise.
        """
        if isinstance(value, (bytes, bytearray, memoryview, str)):
            value = parse_json(value)  # type: ignore[assignment]
        if not isinstance(value, Mapping):
            raise MalformedEnvelope(f"envelope: expected a JSON object, got {type(value).__name__}")
        keys = set(value)
        if keys != _FIELD_SET:
            missing = sorted(_FIELD_SET - keys)
            extra = sorted(str(k) for k in keys - _FIELD_SET)
            raise MalformedEnvelope(f"envelope: fields do not match (missing {missing}, unexpected {extra})")
        parents = value["parents"]
        if not isinstance(parents, (list, tuple)):
            raise _fail("parents", "a JSON array", parents)
        return cls(**{name: value[name] for name in _FIELDS if name != "parents"}, parents=tuple(parents))

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON object (``parents`` as a list)."""
        value = {name: getattr(self, name) for name in _FIELDS}
        value["parents"] = list(self.parents)
        return value

    def to_bytes(self) -> bytes:
        """``JCS(to_json())``: the log's ``leaf_input``."""
        return canonicalize(self.to_json())

    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of ``to_bytes()``."""
        return merkle.leaf_hash(self.to_bytes())

    def issued_at_datetime(self) -> datetime:
        """``issued_at`` as an aware UTC datetime (microsecond precision)."""
        return parse_issued_at(self.issued_at)

    def signing_digest(self, domain: Domain) -> bytes:
        """The 32-byte EIP-712 digest the author signed, under ``domain``."""
        return _record_digest(
            _check_domain(domain).separator,
            self.log, self.kind, self.id, self.author, self.issued_at, self.commitment, self.parents,
        )  # fmt: skip

    def typed_data(self, domain: Domain) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` document for this record (what a wallet shows)."""
        message = {
            "log": self.log, "kind": self.kind, "id": self.id, "author": self.author,
            "issuedAt": self.issued_at, "commitment": "0x" + self.commitment[7:],
            "parents": ["0x" + p for p in self.parents],
        }  # fmt: skip
        types = {name: [dict(m) for m in members] for name, members in RECORD_TYPES.items()}
        domain_json = _check_domain(domain).to_json()
        return {"types": types, "primaryType": "Record", "domain": domain_json, "message": message}


def _parents_tuple(parents: Sequence[str | bytes]) -> tuple[str, ...]:
    """Accept leaf hashes as hex str or 32 raw bytes; return hex strings."""
    if isinstance(parents, (str, bytes)):
        raise _fail("parents", "a sequence of leaf hashes", parents)
    return tuple(p.hex() if isinstance(p, bytes) and len(p) == 32 else p for p in parents)  # type: ignore


def record_digest(
    domain: Domain, *, log: str, kind: str, id: str, author: str, issued_at: str, commitment: str,
    parents: Sequence[str | bytes],
) -> bytes:  # fmt: skip
    """EIP-712 digest of an unsigned record, for a signer outside this process.

    Checks the fields as ``Envelope`` does (MalformedEnvelope). Sign the digest, then
    build ``Envelope(v=1, ..., sig=...)``; ``Envelope.typed_data`` gives the wallet view.
    """
    parents_t = _parents_tuple(parents)
    _check_record(log, kind, id, author, issued_at, commitment, parents_t)
    separator = _check_domain(domain).separator
    return _record_digest(separator, log, kind, id, author, issued_at, commitment, parents_t)


# -- keys, signing, verification --------------------------------------------------------


def _private_key(private_key: bytes) -> coincurve.PrivateKey:
    if not isinstance(private_key, bytes):
        raise TypeError(f"private_key: expected bytes, got {type(private_key).__name__}")
    if len(private_key) != 32:
        raise MalformedInput(f"private_key: expected 32 bytes, got {len(private_key)}")
    if not 0 < int.from_bytes(private_key, "big") < _N:
        raise MalformedInput("private_key: not a secp256k1 scalar in [1, n)")
    return coincurve.PrivateKey(private_key)


def _address_bytes(public_key: coincurve.PublicKey) -> bytes:
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def address_of(private_key: bytes) -> str:
    """EIP-55 address of a 32-byte secp256k1 private key."""
    return to_checksum_address(_address_bytes(_private_key(private_key).public_key))


def sign_envelope(
    *, log: str, kind: str, id: str, issued_at: str, commitment: str, parents: Sequence[str | bytes],
    private_key: bytes, domain: Domain,
) -> Envelope:  # fmt: skip
    """Sign a record as the key's address under ``domain``.

    ``parents`` may be hex strings or 32-byte leaf hashes. The signature is r ‖ s ‖ v
    with v = 27/28 and low s (libsecp256k1 normalizes s; RFC 6979 nonces).
    """
    key = _private_key(private_key)
    author = to_checksum_address(_address_bytes(key.public_key))
    parents_t = _parents_tuple(parents)
    digest = record_digest(
        domain, log=log, kind=kind, id=id, author=author, issued_at=issued_at, commitment=commitment,
        parents=parents_t,
    )  # fmt: skip
    rsv = key.sign_recoverable(digest, hasher=None)
    sig = rsv[:64] + bytes((27 + rsv[64],))
    return Envelope(
        v=ENVELOPE_VERSION, log=log, kind=kind, id=id, author=author, issued_at=issued_at,
        commitment=commitment, parents=parents_t, sig="0x" + sig.hex(),
    )  # fmt: skip


def verify_envelope(envelope: Envelope, domain: Domain) -> None:
    """Check that ``envelope.author`` signed ``envelope`` under ``domain``.

    Returns None or raises InvalidSignature: v not 27/28, r or s outside [1, n), high s
    (s > n/2), recovery failure, a recovered address other than ``author``, or the zero
    address as author. Raises TypeError for arguments of the wrong type.
    """
    _author_key(envelope, domain)


def author_public_key(envelope: Envelope, domain: Domain) -> bytes:
    """The author's secp256k1 public key (65 bytes, uncompressed), recovered from the
    envelope's signature, which must verify as ``verify_envelope`` checks it (the key of
    a participant's DID document)."""
    return _author_key(envelope, domain).format(compressed=False)


def _author_key(envelope: Envelope, domain: Domain) -> coincurve.PublicKey:
    if not isinstance(envelope, Envelope):
        raise TypeError(f"expected an Envelope, got {type(envelope).__name__}")
    if envelope.author == ZERO_ADDRESS:
        raise InvalidSignature("author is the zero address")
    sig = bytes.fromhex(envelope.sig[2:])
    if len(sig) != 65:
        raise InvalidSignature(f"signature must be 65 bytes, got {len(sig)}")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    v = sig[64]
    if v != 27 and v != 28:
        raise InvalidSignature(f"signature v must be 27 or 28, got {v}")
    if not 0 < r < _N:
        raise InvalidSignature("signature r is not in [1, n)")
    if not 0 < s < _N:
        raise InvalidSignature("signature s is not in [1, n)")
    if s > _HALF_N:
        raise InvalidSignature("signature s is high (s > n/2): not canonical (EIP-2)")
    digest = envelope.signing_digest(domain)
    try:
        recoverable = sig[:64] + bytes((v - 27,))
        public_key = coincurve.PublicKey.from_signature_and_message(recoverable, digest, hasher=None)
    except ValueError as exc:
        raise InvalidSignature("signature does not recover to any public key") from exc
    recovered = _address_bytes(public_key)
    if recovered != bytes.fromhex(envelope.author[2:]):
        raise InvalidSignature(
            f"signature is by {to_checksum_address(recovered)}, not by the author {envelope.author}"
        )
    return public_key


# -- payload commitments ----------------------------------------------------------------


def new_salt() -> bytes:
    """32 random bytes from ``secrets``: the per-record salt of a payload commitment."""
    return secrets.token_bytes(32)


def make_commitment(payload: object, salt: bytes) -> str:
    """``"sha256:" + hex(SHA-256(salt ‖ JCS(payload)))``; salt must be 32 bytes.

    Raises MalformedJSON for a payload JCS cannot encode.
    """
    if not isinstance(salt, bytes):
        raise TypeError(f"salt: expected bytes, got {type(salt).__name__}")
    return commitment_of(canonicalize(payload), salt)


def commitment_of(canonical_payload: bytes, salt: bytes) -> str:
    """``make_commitment`` for a payload already in canonical (JCS) bytes."""
    if not isinstance(salt, bytes):
        raise TypeError(f"salt: expected bytes, got {type(salt).__name__}")
    if len(salt) != 32:
        raise MalformedInput(f"salt: expected 32 bytes, got {len(salt)}")
    return "sha256:" + hashlib.sha256(salt + canonical_payload).hexdigest()


def verify_commitment(commitment: str, payload: object, salt: bytes) -> None:
    """Check that ``payload`` and ``salt`` open ``commitment``; None or VerificationError."""
    calculated = make_commitment(payload, salt)
    if calculated != commitment:
        raise VerificationError(
            f"payload does not match its commitment: expected {commitment}, calculated {calculated}"
        )
