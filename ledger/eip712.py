"""EIP-712 typed structured data hashing, and EIP-55 addresses.

A small, generic encoder written from the EIP (https://eips.ethereum.org/EIPS/eip-712):

- ``encode_type``   ``Mail(Person from,Person to,string contents)Person(string name,...)``
  — the primary type, then every struct type it references, sorted by name;
- ``type_hash``     ``keccak256(encode_type(...))``;
- ``encode_data``   ``type_hash ‖ enc(field_1) ‖ … ‖ enc(field_n)``, 32 bytes per field;
- ``hash_struct``   ``keccak256(encode_data(...))``;
- ``signing_digest`` ``keccak256(0x19 ‖ 0x01 ‖ domain_separator ‖ hash_struct(message))``.

Field encodings: ``string`` and ``bytes`` are hashed; ``bytes1``..``bytes32`` are
right-padded; ``address``, ``uintN``, ``intN`` (two's complement) and ``bool`` are
left-padded to 32 bytes; an array is the hash of its elements' encodings concatenated;
a struct is its ``hash_struct``.

``ledger.envelope`` has its own fast path for its one ``Record`` type; tests check that
it agrees with this encoder and with eth-account. Types are given as in the JSON of
``eth_signTypedData_v4``: ``{"Mail": [{"name": "from", "type": "Person"}, ...]}``.

Values must have the right Python type (``str`` for string/address, ``int`` for
integers, ``bool``, ``bytes`` or ``0x`` hex for bytes, a list or tuple for arrays, a
mapping with exactly the declared fields for structs), else ``TypeError``; a value of
the right type that does not fit (range, length, unknown type) raises
``ledger.errors.MalformedInput`` (a ``ValueError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from sha3 import keccak_256 as _keccak_256

from ledger import formats
from ledger.errors import MalformedInput

__all__ = [
    "Types",
    "keccak256",
    "to_checksum_address",
    "is_checksum_address",
    "encode_type",
    "type_hash",
    "encode_data",
    "hash_struct",
    "hash_domain",
    "signing_digest",
    "hash_typed_data",
]

Types = Mapping[str, Sequence[Mapping[str, str]]]
"""Struct definitions: type name → ordered fields ``{"name": ..., "type": ...}``."""

#: The domain fields EIP-712 defines, in the order they are encoded when present.
_DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)

_ARRAY = re.compile(r"(.+)\[([0-9]*)\]", re.ASCII)
_INT_TYPE = re.compile(r"(u?)int([0-9]{1,3})", re.ASCII)
_BYTES_N = re.compile(r"bytes([0-9]{1,2})", re.ASCII)
_ADDRESS_HEX = formats.ADDRESS
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*", re.ASCII)


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's pre-standard SHA-3), via safe-pysha3 (C)."""
    return _keccak_256(data).digest()


# -- EIP-55 addresses ---------------------------------------------------------------


def to_checksum_address(address: bytes | str) -> str:
    """EIP-55 mixed-case form of an address given as 20 raw bytes or ``0x`` + 40 hex.

    Raises TypeError for another type, MalformedInput for a wrong length.
    """
    if isinstance(address, str):
        if not _ADDRESS_HEX.fullmatch(address):
            raise MalformedInput(f"address: expected 0x + 40 hex digits, got {address[:50]!r}")
        lower = address[2:].lower()
    elif isinstance(address, bytes):
        if len(address) != 20:
            raise MalformedInput(f"address: expected 20 bytes, got {len(address)}")
        lower = address.hex()
    else:
        raise TypeError(f"address: expected bytes or str, got {type(address).__name__}")
    return _checksummed(lower)


@lru_cache(maxsize=16384)
def _checksummed(lower: str) -> str:
    """EIP-55 of 40 lower-case hex digits; cached, as a log sees the same authors again and
    again (a keccak and a 40-character join per record otherwise)."""
    nibbles = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if n >= "8" else c for c, n in zip(lower, nibbles))


def is_checksum_address(text: object) -> bool:
    """True if ``text`` is ``0x`` + 40 hex digits in its exact EIP-55 mixed case."""
    return isinstance(text, str) and bool(_ADDRESS_HEX.fullmatch(text)) and to_checksum_address(text) == text


# -- types ----------------------------------------------------------------------------


def _base_type(type_name: str) -> str:
    """``Person[][2]`` → ``Person``."""
    while (m := _ARRAY.fullmatch(type_name)) is not None:
        type_name = m.group(1)
    return type_name


def _dependencies(primary_type: str, types: Types) -> list[str]:
    """Struct types reachable from ``primary_type`` (itself included), found iteratively."""
    if primary_type not in types:
        raise MalformedInput(f"unknown struct type {primary_type!r}")
    found: list[str] = []
    todo = [primary_type]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.append(name)
        for member in types[name]:
            base = _base_type(member["type"])
            if base in types and base not in found:
                todo.append(base)
            elif base not in types and not _is_atomic(base):
                raise MalformedInput(f"{name}.{member['name']}: unknown type {member['type']!r}")
    return found


def _is_atomic(type_name: str) -> bool:
    if type_name in ("address", "bool", "string", "bytes"):
        return True
    if (m := _INT_TYPE.fullmatch(type_name)) is not None:
        bits = int(m.group(2))
        return 8 <= bits <= 256 and bits % 8 == 0
    if (m := _BYTES_N.fullmatch(type_name)) is not None:
        return 1 <= int(m.group(1)) <= 32
    return False


def encode_type(primary_type: str, types: Types) -> str:
    """``Name(type1 name1,...)`` for the primary type, then its dependencies by name."""
    deps = _dependencies(primary_type, types)
    ordered = [primary_type] + sorted(d for d in deps if d != primary_type)
    return "".join(
        f"{name}(" + ",".join(f"{m['type']} {m['name']}" for m in types[name]) + ")" for name in ordered
    )


def type_hash(primary_type: str, types: Types) -> bytes:
    """``keccak256(encode_type(primary_type, types))``."""
    return keccak256(encode_type(primary_type, types).encode("utf-8"))


# -- values ---------------------------------------------------------------------------


def _bytes_value(type_name: str, value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        if not _HEX.fullmatch(value):
            raise MalformedInput(f"{type_name}: expected 0x-prefixed hex, got {value[:80]!r}")
        return bytes.fromhex(value[2:])
    raise TypeError(f"{type_name}: expected bytes or 0x hex str, got {type(value).__name__}")


def _int_value(type_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{type_name}: expected int, got {type(value).__name__}")
    return value


def _encode_value(type_name: str, value: object, types: Types) -> bytes:
    """The 32-byte encoding of one field value (EIP-712 ``encodeData`` rules)."""
    if (m := _ARRAY.fullmatch(type_name)) is not None:
        element_type, length = m.group(1), m.group(2)
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{type_name}: expected list or tuple, got {type(value).__name__}")
        if length and len(value) != int(length):
            raise MalformedInput(f"{type_name}: expected {int(length)} elements, got {len(value)}")
        return keccak256(b"".join(_encode_value(element_type, item, types) for item in value))
    if type_name in types:
        if not isinstance(value, Mapping):
            raise TypeError(f"{type_name}: expected a mapping, got {type(value).__name__}")
        return hash_struct(type_name, value, types)
    if type_name == "string":
        if not isinstance(value, str):
            raise TypeError(f"string: expected str, got {type(value).__name__}")
        try:
            return keccak256(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise MalformedInput("string: contains a lone surrogate") from exc
    if type_name == "bytes":
        return keccak256(_bytes_value(type_name, value))
    if type_name == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"bool: expected bool, got {type(value).__name__}")
        return int(value).to_bytes(32, "big")
    if type_name == "address":
        if isinstance(value, bytes) and len(value) == 20:
            return b"\x00" * 12 + value
        if not isinstance(value, str):
            raise TypeError(f"address: expected str or 20 bytes, got {type(value).__name__}")
        if not _ADDRESS_HEX.fullmatch(value):
            raise MalformedInput(f"address: expected 0x + 40 hex digits, got {value[:50]!r}")
        return b"\x00" * 12 + bytes.fromhex(value[2:])
    if (m := _BYTES_N.fullmatch(type_name)) is not None and _is_atomic(type_name):
        raw = _bytes_value(type_name, value)
        if len(raw) != int(m.group(1)):
            raise MalformedInput(f"{type_name}: expected {int(m.group(1))} bytes, got {len(raw)}")
        return raw.ljust(32, b"\x00")
    if (m := _INT_TYPE.fullmatch(type_name)) is not None and _is_atomic(type_name):
        number, bits = _int_value(type_name, value), int(m.group(2))
        low, high = (0, 2**bits) if m.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1))
        if not low <= number < high:
            raise MalformedInput(f"{type_name}: {number} out of range [{low}, {high})")
        return (number % 2**256).to_bytes(32, "big")
    raise MalformedInput(f"unknown type {type_name!r}")


def encode_data(primary_type: str, data: Mapping[str, object], types: Types) -> bytes:
    """``type_hash ‖ enc(value_1) ‖ … ‖ enc(value_n)``.

    Requires ``data`` to have exactly the fields ``types[primary_type]`` declares.
    """
    members = types.get(primary_type)
    if members is None:
        raise MalformedInput(f"unknown struct type {primary_type!r}")
    names = [m["name"] for m in members]
    if set(data) != set(names):
        missing = sorted(set(names) - set(data))
        extra = sorted(str(k) for k in set(data) - set(names))
        raise MalformedInput(f"{primary_type}: fields do not match (missing {missing}, extra {extra})")
    parts = [type_hash(primary_type, types)]
    parts.extend(_encode_value(m["type"], data[m["name"]], types) for m in members)
    return b"".join(parts)


def hash_struct(primary_type: str, data: Mapping[str, object], types: Types) -> bytes:
    """``keccak256(encode_data(primary_type, data, types))``."""
    return keccak256(encode_data(primary_type, data, types))


def hash_domain(domain: Mapping[str, object], types: Types | None = None) -> bytes:
    """The domain separator ``hash_struct("EIP712Domain", domain)``.

    Uses ``types["EIP712Domain"]`` when given, else the standard fields present in
    ``domain``, in EIP order (name, version, chainId, verifyingContract, salt).
    """
    if types is not None and "EIP712Domain" in types:
        domain_types = types
    else:
        unknown = set(domain) - {name for name, _ in _DOMAIN_FIELDS}
        if unknown:
            raise MalformedInput(f"EIP712Domain: unknown fields {sorted(map(str, unknown))}")
        fields = [{"name": n, "type": t} for n, t in _DOMAIN_FIELDS if n in domain]
        domain_types = {"EIP712Domain": fields}
    return hash_struct("EIP712Domain", domain, domain_types)


def signing_digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """``keccak256(0x19 0x01 ‖ domain_separator ‖ struct_hash)``; both must be 32 bytes."""
    if len(domain_separator) != 32 or len(struct_hash) != 32:
        raise MalformedInput("domain separator and struct hash must be 32 bytes each")
    return keccak256(b"\x19\x01" + domain_separator + struct_hash)


def hash_typed_data(typed_data: Mapping[str, object]) -> bytes:
    """The digest a wallet signs for an ``eth_signTypedData_v4`` document.

    Requires the keys ``types``, ``primaryType``, ``domain`` and ``message``.
    """
    try:
        types = typed_data["types"]
        primary_type = typed_data["primaryType"]
        domain = typed_data["domain"]
        message = typed_data["message"]
    except KeyError as exc:
        raise MalformedInput(f"typed data: missing key {exc.args[0]!r}") from exc
    if not isinstance(types, Mapping) or not isinstance(domain, Mapping) or not isinstance(message, Mapping):
        raise TypeError("typed data: types, domain and message must be mappings")
    if not isinstance(primary_type, str):
        raise TypeError("typed data: primaryType must be a str")
    return signing_digest(hash_domain(domain, types), hash_struct(primary_type, message, types))
