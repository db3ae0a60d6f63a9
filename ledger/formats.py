"""Wire formats: the pattern of every string field the ledger parses, in one place.

Every parser (envelopes, receipts, checkpoints, tile paths, participant records, API
query parameters and headers) takes its patterns from here and matches them with
``matches``, which is ``fullmatch`` on a ``str``. ``re.match`` with ``^…$`` accepted a
trailing newline, so ``tile/0/000.p/9%0A`` served the canonical tile and a receipt's
hash could end in ``\\n`` (issue 8). Every class here is spelled out in ASCII
(``[0-9]``, never ``\\d`` or ``\\w``, which also match other scripts' digits and letters),
so a field with a trailing ``\\n``, ``\\r``, NUL or a non-ASCII digit never matches.
``tests/test_formats.py`` feeds each field of each parser with those and expects a
refusal.

Domain formats of the PACT data model (decimals, URNs, dates) are in
``ledger.pact.formats``, under the same rules.
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS", "BASE64", "CHECKPOINT_SIZE", "COMMITMENT", "CONTROL_CHARACTER", "DATE", "DECIMAL_COUNT", "HEX32", "HEX8",
    "ISSUED_AT",
    "KIND", "ORIGIN", "RECORD_ID", "SIGNATURE", "TILE_PATH", "TX_HASH", "anchored", "matches",
]  # fmt: skip

#: 32 bytes as 64 lowercase hex digits: leaf hashes, roots, salts, block hashes (receipts).
HEX32 = re.compile(r"[0-9a-f]{64}")
#: An EVM transaction hash: ``0x`` + 64 lowercase hex digits.
TX_HASH = re.compile(r"0x[0-9a-f]{64}")
#: An EVM address: ``0x`` + 40 hex digits (EIP-55 case is checked where it is required).
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: A secp256k1 signature r ‖ s ‖ v: ``0x`` + 130 lowercase hex digits.
SIGNATURE = re.compile(r"0x[0-9a-f]{130}")
#: A payload commitment: ``sha256:`` + 64 lowercase hex digits.
COMMITMENT = re.compile(r"sha256:[0-9a-f]{64}")
#: A log's origin (C2SP checkpoint origin and note key name): printable ASCII without
#: space or ``+``, 1..255 characters.
ORIGIN = re.compile(r"[!-*,-~]{1,255}")
#: A record kind: lowercase, starting with a letter.
KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
#: A record id.
RECORD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: ``issued_at``: RFC 3339 in UTC with ``Z``, up to 9 fraction digits (groups: the fields).
ISSUED_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z")
#: A calendar date ``YYYY-MM-DD`` (API period bounds; groups: year, month, day).
DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
#: A C2SP tile or entry-bundle path. At most 7 groups of 3 digits (an index below 2**63
#: has at most 19 digits): a bounded length keeps ``int()`` cheap (a 4,300-digit index once
#: hit Python's int-conversion limit, a 500). Groups: level or ``entries``, index, width.
TILE_PATH = re.compile(r"tile/(entries|[0-9]{1,2})/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([0-9]{1,3}))?")
#: A checkpoint's tree size: a decimal without leading zeros, at most 20 digits.
CHECKPOINT_SIZE = re.compile(r"0|[1-9][0-9]{0,19}")
#: Standard base64 with padding (checkpoint root hashes, note signatures).
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
#: 4 bytes as 8 hex digits (a note signature's key hash).
HEX8 = re.compile(r"[0-9a-fA-F]{8}")
#: A decimal count of up to 19 digits (``Content-Length``).
DECIMAL_COUNT = re.compile(r"[0-9]{1,19}")

#: A C0 control character or DEL: refused anywhere in a request's path and query values
#: (``search``, not ``fullmatch``: one anywhere is one too many).
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def anchored(pattern: re.Pattern[str]) -> str:
    """``pattern`` as a JSON Schema / OpenAPI ``pattern`` (ECMA 262 regexes search, so it
    is anchored at both ends): what the API documents and pydantic checks (its Rust regex
    engine, where ``$`` is the end of the text). Not for Python's ``re``, whose ``$`` also
    matches before a trailing newline: there, ``matches``."""
    return f"^(?:{pattern.pattern})$"


def matches(pattern: re.Pattern[str], value: object) -> bool:
    """``value`` is a ``str`` and ``pattern`` matches all of it."""
    return type(value) is str and pattern.fullmatch(value) is not None
