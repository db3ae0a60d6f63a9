"""W3C Bitstring Status List v1.0: the passport revocation list (DESIGN §12).

A passport's ``credentialStatus`` is a ``BitstringStatusListEntry`` (``status_entry``,
read back by ``parse_status_entry``); the ledger serves its issuer's
``BitstringStatusListCredential`` (``status_list_credential``), whose bits are derived
from ``passport_revocation`` records. Pure: values in, values out, no I/O.

Choices, each one the strict reading of the spec:

- **Bit order.** Index 0 is the left-most, most significant bit of the first byte; a set
  bit (1) means revoked.
- **Indexes** are assigned by the caller (the ledger, e.g. from the passport's position),
  never here. WARNING: an index must be unique within its list, or revoking one passport
  revokes the other.
- **Length.** At least ``MIN_LENGTH`` bits (16 KB, the spec's minimum for herd privacy),
  a whole number of bytes, and at most ``MAX_LIST_BYTES`` (16 MiB) decompressed: the cap
  that keeps a GZIP bomb from being inflated. ``encode_list`` refuses what
  ``decode_list`` would.
- **Deterministic encoding.** One GZIP member with a fixed header (no name, MTIME 0,
  XFL 0, OS 3: the header zlib itself writes on Unix) around raw DEFLATE at zlib's default
  level 6, so the same revocations give the same ``encodedList`` on every Python version
  and platform, and the empty list is the spec's example byte for byte. The DEFLATE bytes
  come from the zlib the interpreter links (zlib-ng deflates differently): an audit that
  may run on another zlib build compares decoded bits, not the string.
- **Decoding** accepts exactly multibase ``u`` + unpadded base64url in canonical form
  (no stray characters, no non-zero trailing bits), one GZIP member and nothing after it.
- **Entries.** ``type`` is the string ``BitstringStatusListEntry``; ``statusListIndex`` is
  a base-10 string without leading zeros (one spelling per index), at most 20 digits;
  ``id``, if present, is one URL and not the list's own; only ``statusSize`` 1 is supported
  (the spec allows that); members the spec does not define are refused.

Every refusal is ``MalformedInput`` with a one-line "expected X, got Y" message.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.errors import MalformedInput
from ledger import formats
from ledger.formats import ISSUED_AT, matches
from ledger.pact.formats import URI, describe

__all__ = [
    "MAX_LIST_BYTES", "MIN_LENGTH", "StatusEntry", "decode_list", "encode_list", "is_set", "parse_status_entry",
    "status_entry", "status_list_credential",
]  # fmt: skip

#: The spec's minimum list length in bits: 131,072 entries, 16 KB.
MIN_LENGTH = 131072
#: The largest decompressed list accepted: 16 MiB (134,217,728 entries), the GZIP-bomb cap.
MAX_LIST_BYTES = 16 * 1024 * 1024

_ENTRY_TYPE = "BitstringStatusListEntry"
_ENTRY_KEYS = {"id", "type", "statusPurpose", "statusListIndex", "statusListCredential",
               "statusSize", "statusMessage", "statusReference"}  # fmt: skip
_INDEX = formats.CHECKPOINT_SIZE  # a decimal without leading zeros, at most 20 digits
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_STATUS_HEX = re.compile(r"0x[0-9a-fA-F]+")
# RFC 1952 member header: ID1 ID2, CM 8 (deflate), FLG 0, MTIME 0, XFL 0, OS 3 (Unix).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
_LEVEL = 6
# The longest encodedList a list within the cap can need: incompressible bits cost DEFLATE
# 5 bytes per 64 KiB stored block, GZIP 18 bytes; 4096 bytes covers both, then base64.
_MAX_ENCODED = 1 + 4 * -(-(MAX_LIST_BYTES + 4096) // 3)


@dataclass(frozen=True)
class StatusEntry:
    """A parsed ``BitstringStatusListEntry``: which list, which bit, for what purpose."""

    list_url: str  # statusListCredential
    index: int  # statusListIndex, >= 0
    purpose: str  # statusPurpose, e.g. "revocation"


def _index(value: object, length: int, what: str) -> int:
    if type(value) is not int:
        raise MalformedInput(f"{what}: expected an int, got {describe(value)}")
    if not 0 <= value < length:
        raise MalformedInput(f"{what}: expected 0 <= index < {length}, got {value}")
    return value


def _url(value: object, what: str, *, fragment: bool = True) -> str:
    if type(value) is str and URI.fullmatch(value) and (fragment or "#" not in value):
        return value
    raise MalformedInput(f"{what}: expected a URL{'' if fragment else ' without a fragment'}, got {describe(value)}")


def _text(value: object, what: str) -> str:
    if type(value) is not str or not value:
        raise MalformedInput(f"{what}: expected a non-empty string, got {describe(value)}")
    return value


def encode_list(revoked: Iterable[int], length: int = MIN_LENGTH) -> str:
    """The ``encodedList`` of a ``length``-bit list with the bits at ``revoked`` set.

    Requires ``MIN_LENGTH <= length <= 8 * MAX_LIST_BYTES``, ``length % 8 == 0`` and every
    index in ``[0, length)``; a repeated index is the same bit. Deterministic (module
    docstring)."""
    if type(length) is not int or length % 8 or not MIN_LENGTH <= length <= 8 * MAX_LIST_BYTES:
        raise MalformedInput(f"list length: expected a multiple of 8 in {MIN_LENGTH}..{8 * MAX_LIST_BYTES}, got {length!r}")
    bits = bytearray(length // 8)
    for i in revoked:
        i = _index(i, length, "revoked index")
        bits[i >> 3] |= 0x80 >> (i & 7)
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(bytes(bits)) + deflate.flush()
    member = _GZIP_HEADER + body + struct.pack("<II", zlib.crc32(bits), len(bits) & 0xFFFFFFFF)
    return "u" + base64.urlsafe_b64encode(member).rstrip(b"=").decode("ascii")


def decode_list(encoded: str) -> bytes:
    """The bitstring an ``encodedList`` holds, as bytes (read bits with ``is_set``).

    Refuses: no ``u`` prefix, bad or non-canonical base64url, a GZIP stream that is bad,
    truncated or followed by more bytes, and a list under 16 KB or over ``MAX_LIST_BYTES``
    (inflation stops one byte past the cap, so a bomb never allocates more). The text
    itself is capped at what an incompressible list under the cap needs."""
    if type(encoded) is not str or not encoded.startswith("u"):
        raise MalformedInput(f"encodedList: expected multibase base64url ('u' prefix), got {describe(encoded)}")
    if len(encoded) > _MAX_ENCODED:
        raise MalformedInput(f"encodedList: expected at most {_MAX_ENCODED} characters, got {len(encoded)}")
    text = encoded[1:]
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedInput("encodedList: expected base64url without padding, got other characters or a bad length")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise MalformedInput("encodedList: expected canonical base64url, got non-zero trailing bits")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # GZIP only: no zlib header, no raw deflate
    try:
        bits = inflate.decompress(raw, MAX_LIST_BYTES + 1)
    except zlib.error as e:
        raise MalformedInput(f"encodedList: expected a GZIP stream, got one zlib refuses ({e})") from e
    if len(bits) > MAX_LIST_BYTES:
        raise MalformedInput(f"encodedList: expected at most {MAX_LIST_BYTES} bytes decompressed, got more (refused)")
    if not inflate.eof:
        raise MalformedInput("encodedList: expected a complete GZIP stream, got a truncated one")
    if inflate.unused_data:
        raise MalformedInput(f"encodedList: expected one GZIP member, got {len(inflate.unused_data)} bytes after it")
    if len(bits) < MIN_LENGTH // 8:
        raise MalformedInput(f"encodedList: expected at least {MIN_LENGTH // 8} bytes (herd privacy), got {len(bits)}")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    """Whether bit ``index`` (0 = the MSB of ``bits[0]``) is 1; refuses an index outside
    the list (the spec's RANGE_ERROR)."""
    i = _index(index, 8 * len(bits), "statusListIndex")
    return bool(bits[i >> 3] & (0x80 >> (i & 7)))


def status_entry(list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The ``credentialStatus`` entry for bit ``index`` of the list at ``list_url``
    (a URL without a fragment); ``id`` is ``<list_url>#<index>``, as in the spec."""
    _url(list_url, "statusListCredential", fragment=False)
    _index(index, 10**20, "statusListIndex")
    return {"id": f"{list_url}#{index}", "type": _ENTRY_TYPE, "statusPurpose": _text(purpose, "statusPurpose"),
            "statusListIndex": str(index), "statusListCredential": list_url}  # fmt: skip


def parse_status_entry(obj: object) -> StatusEntry:
    """A ``BitstringStatusListEntry`` read strictly (module docstring); what the list says
    about it is ``is_set(decode_list(...), entry.index)``."""
    if type(obj) is not dict:
        raise MalformedInput(f"credentialStatus: expected an object, got {describe(obj)}")
    if extra := sorted(set(obj) - _ENTRY_KEYS):
        raise MalformedInput(f"credentialStatus: expected only the spec's members, got {', '.join(map(repr, extra))}")
    if "id" in obj:
        _url(obj["id"], "credentialStatus.id")
    if obj.get("type") != _ENTRY_TYPE:
        raise MalformedInput(f"credentialStatus.type: expected {_ENTRY_TYPE!r}, got {describe(obj.get('type'))}")
    purpose = _text(obj.get("statusPurpose"), "credentialStatus.statusPurpose")
    index = obj.get("statusListIndex")
    if type(index) is not str or not _INDEX.fullmatch(index):
        raise MalformedInput(f"credentialStatus.statusListIndex: expected a base-10 string like '94567', got {describe(index)}")
    list_url = _url(obj.get("statusListCredential"), "credentialStatus.statusListCredential")
    if obj.get("id") == list_url:
        raise MalformedInput("credentialStatus.id: expected the entry's own URL, got the status list's")
    if "statusSize" in obj and (type(obj["statusSize"]) is not int or obj["statusSize"] != 1):
        raise MalformedInput(f"credentialStatus.statusSize: expected 1 (the only size supported), got {describe(obj['statusSize'])}")
    if "statusMessage" in obj:
        msgs = obj["statusMessage"]
        if type(msgs) is not list or len(msgs) != 2 or not all(
            type(m) is dict and matches(_STATUS_HEX, m.get("status")) and type(m.get("message")) is str for m in msgs
        ):
            raise MalformedInput("credentialStatus.statusMessage: expected 2 objects with 'status' (0x…) and 'message' strings")
    if "statusReference" in obj:
        ref = obj["statusReference"]
        for r in ref if type(ref) is list and ref else [ref]:
            _url(r, "credentialStatus.statusReference")
    return StatusEntry(list_url, int(index), purpose)


def status_list_credential(
    list_url: str, issuer: str, revoked: Iterable[int], *, valid_from: str, length: int = MIN_LENGTH,
    purpose: str = "revocation",
) -> dict[str, Any]:  # fmt: skip
    """The unsigned VC 2.0 ``BitstringStatusListCredential`` at ``list_url`` (a URL without
    a fragment) with the bits at ``revoked`` set; its subject is ``<list_url>#list``.
    ``valid_from`` is RFC 3339 UTC with ``Z``; securing it is the caller's business."""
    _url(list_url, "list URL", fragment=False)
    if not matches(ISSUED_AT, valid_from):
        raise MalformedInput(f"validFrom: expected an RFC 3339 UTC time like 2021-04-05T14:27:40Z, got {describe(valid_from)}")
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": _url(issuer, "issuer"),
        "validFrom": valid_from,
        "credentialSubject": {"id": f"{list_url}#list", "type": "BitstringStatusList",
                              "statusPurpose": _text(purpose, "statusPurpose"),
                              "encodedList": encode_list(revoked, length)},  # fmt: skip
    }
