"""The regulator's audit bundle, ``tds-ledger/audit-bundle@1`` (DESIGN §11): its lines.

Pure: typed values, their JSON, a writer onto and a streaming reader from a binary file
object the caller opened. ``docs/audit-bundle.md`` is the format's reference for
third-party verifiers; this module is what it describes.

A bundle is UTF-8 JSON Lines (one JSON object per line, each ending in ``\\n``; we write
each object as its RFC 8785 JCS bytes), optionally gzip-compressed (read by its magic
bytes). Lines, in order:

1. the header (``BundleHeader``): format, the log's identity as the exporter states it,
   the period and scope, the range ``[start, end)``, the frontier of ``start``, and how
   many lines of each kind follow;
2. ``heads`` head lines (``HeadLine``): every anchored checkpoint from ``start`` to
   ``end`` inclusive, ascending; the first is of size ``start`` (no note when 0), the
   last of size ``end``;
3. ``context`` context lines (``ContextLine``): records before ``start`` that records in
   scope depend on, ascending by leaf index, each with its inclusion proof against the
   end checkpoint;
4. ``end - start`` entry lines (``EntryLine``): every leaf of the range, in order, with
   payload and salt for the records in scope and those others in scope depend on;
5. the trailer (``Trailer``): the number of lines before it and the SHA-256 of their bytes.

Signed things are carried byte-exact as JSON strings: the envelope (leaf input), the
payload (the JCS bytes its commitment covers), the checkpoint note. Everything else is a
claim the verifier checks (frontier, anchors) or compares with its recomputation
(derived state); nothing is informational only.

Reading is strict: exact key sets, types and formats per line, lines in order, counts as
the header says, a trailer whose digest matches, at most ``MAX_LINE`` bytes a line (so a
gzip bomb stops at the first oversized line). Any departure raises ``MalformedBundle``
naming the line.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from ledger import formats
from ledger.canonical import canonicalize, parse_json
from ledger.effects import DerivedState
from ledger.envelope import parse_issued_at
from ledger.errors import MalformedInput

BUNDLE_TYPE = "tds-ledger/audit-bundle@1"
FORMAT_NAME, FORMAT_VERSION = "tds-ledger/audit-bundle", 1
MAX_LINE = 16 << 20  # bytes of one line, newline excluded
MAX_PROOF_HASHES = 64
SCOPE_FILTERS = ("participant", "agreement", "product", "kind")
_GZIP_MAGIC = b"\x1f\x8b"
_OTHER_MAGIC = {b"PK\x03\x04": "a ZIP archive", b"BZh": "a bzip2 file", b"\xfd7zXZ": "an xz file",
                b"7z\xbc\xaf": "a 7-Zip archive"}  # fmt: skip


class MalformedBundle(MalformedInput):
    """The file is not a well-formed audit bundle of a version this verifier reads."""


# -- values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnchorClaim:
    """Where the exporter says a checkpoint is anchored; the verifier reads the chain itself."""

    block_number: int
    block_hash: str  # 0x-hex, 32 bytes

    def to_json(self) -> dict[str, Any]:
        return {"block_number": self.block_number, "block_hash": self.block_hash}


@dataclass(frozen=True, slots=True)
class Scope:
    """The filters of the bundle; all given ones must hold (None: not filtered)."""

    participant: str | None = None  # an address, lowercased
    agreement: str | None = None  # an agreement's record id
    product: str | None = None  # a product URN, lowercased (index terms fold it)
    kind: str | None = None

    def to_json(self) -> dict[str, str]:
        return {k: v for k in SCOPE_FILTERS if (v := getattr(self, k)) is not None}

    @property
    def whole(self) -> bool:
        return not self.to_json()


@dataclass(frozen=True, slots=True)
class BundleHeader:
    origin: str
    chain_id: int
    contract: str
    since: datetime
    until: datetime
    scope: Scope
    start: int
    end: int
    frontier: tuple[bytes, ...]
    heads: int  # head lines that follow
    context: int  # context lines that follow them

    @property
    def entries(self) -> int:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "type": BUNDLE_TYPE, "origin": self.origin, "chain_id": self.chain_id, "contract": self.contract,
            "period": {"since": z_time(self.since), "until": z_time(self.until)}, "scope": self.scope.to_json(),
            "start": self.start, "end": self.end, "frontier": [h.hex() for h in self.frontier],
            "heads": self.heads, "context": self.context, "entries": self.entries,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class HeadLine:
    tree_size: int
    checkpoint: str | None  # the signed note; None only for size 0
    anchor: AnchorClaim | None  # None only for size 0

    def to_json(self) -> dict[str, Any]:
        return {"head": self.tree_size, "checkpoint": self.checkpoint,
                "anchor": None if self.anchor is None else self.anchor.to_json()}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Record:
    """One log entry as the bundle carries it: the envelope, and payload and salt if carried."""

    leaf_index: int
    envelope: bytes  # the leaf input, exactly as stored
    payload: bytes | None = None  # the JCS bytes the commitment covers
    salt: bytes | None = None
    erased: bool = False  # the ledger erased the payload (crypto-shredding)
    state: DerivedState | None = None  # the ledger's derived state of this record, if it has one

    def _json(self, key: str) -> dict[str, Any]:
        out: dict[str, Any] = {key: self.leaf_index, "envelope": self.envelope.decode("utf-8")}
        if self.payload is not None:
            out["payload"] = self.payload.decode("utf-8")
            out["salt"] = (self.salt or b"").hex()
        if self.erased:
            out["erased"] = True
        if self.state is not None:
            out["state"] = state_json(self.state)
        return out


@dataclass(frozen=True, slots=True)
class ContextLine:
    record: Record
    proof: tuple[bytes, ...]  # inclusion of the record's leaf in the end checkpoint's tree

    def to_json(self) -> dict[str, Any]:
        return self.record._json("context") | {"proof": [h.hex() for h in self.proof]}


@dataclass(frozen=True, slots=True)
class EntryLine:
    record: Record

    def to_json(self) -> dict[str, Any]:
        return self.record._json("leaf")


@dataclass(frozen=True, slots=True)
class Trailer:
    lines: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"trailer": BUNDLE_TYPE, "lines": self.lines, "sha256": self.sha256}


Line = BundleHeader | HeadLine | ContextLine | EntryLine | Trailer


def z_time(value: datetime) -> str:
    """RFC 3339 UTC with 'Z', microseconds only when non-zero."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S") + (f".{value.microsecond:06d}" if value.microsecond else "") + "Z"


def state_json(s: DerivedState) -> dict[str, Any]:
    return {"status": s.status, "reason": s.reason, "by": s.by, "facts": dict(s.facts)}


# -- writing -----------------------------------------------------------------------------


class BundleWriter:
    """Writes the lines of one bundle, in order, onto a binary file object; ``close`` adds the trailer."""

    def __init__(self, out: IO[bytes]):
        self._out, self._digest, self.lines = out, hashlib.sha256(), 0

    def write(self, line: BundleHeader | HeadLine | ContextLine | EntryLine) -> None:
        data = canonicalize(line.to_json()) + b"\n"
        self._digest.update(data)
        self._out.write(data)
        self.lines += 1

    def close(self) -> Trailer:
        trailer = Trailer(self.lines, self._digest.hexdigest())
        self._out.write(canonicalize(trailer.to_json()) + b"\n")
        return trailer


# -- reading -----------------------------------------------------------------------------


def open_bundle(raw: IO[bytes]) -> IO[bytes]:
    """The bundle's bytes from a binary file: decompressed when gzip, refused when another archive."""
    head = raw.peek(8)[:8] if hasattr(raw, "peek") else b""
    if not head:
        head = raw.read(8)
        raw.seek(0)
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    for magic, what in _OTHER_MAGIC.items():
        if head.startswith(magic):
            raise MalformedBundle(f"this is {what}, not an audit bundle (JSON Lines, optionally gzip-compressed)")
    if head[:1] != b"{":
        raise MalformedBundle("this is not an audit bundle: it does not start with a JSON object line")
    return raw


def read_bundle(data: IO[bytes]) -> Iterator[Line]:
    """The lines of a bundle, checked for form as they stream (see the module docstring).

    ``data`` is what ``open_bundle`` returned. Yields the header, heads, context lines,
    entry lines and the trailer; raises ``MalformedBundle`` at the first departure,
    including a file that ends before its trailer (truncated) or goes on after it.
    """
    digest = hashlib.sha256()
    number = 0

    def next_line(what: str) -> dict[str, Any]:
        nonlocal number
        try:
            raw = data.readline(MAX_LINE + 2)
        except (OSError, EOFError, gzip.BadGzipFile) as e:  # a corrupt or truncated gzip stream
            raise MalformedBundle(f"line {number + 1}: the compressed stream is damaged or truncated: {e}") from e
        number += 1
        if not raw:
            raise MalformedBundle(f"the bundle is truncated: it ends at line {number} where {what} should be")
        if not raw.endswith(b"\n"):
            if len(raw) > MAX_LINE:
                raise MalformedBundle(f"line {number} is longer than {MAX_LINE} bytes")
            raise MalformedBundle(f"the bundle is truncated: line {number} ({what}) has no newline")
        if what != "the trailer":
            digest.update(raw)
        try:
            value = parse_json(raw[:-1])
        except MalformedInput as e:
            raise MalformedBundle(f"line {number} ({what}) is not JSON: {e}") from e
        if not isinstance(value, dict):
            raise MalformedBundle(f"line {number} ({what}) is not a JSON object")
        return value

    first = next_line("the header")
    header = _header(first)
    yield header
    previous = -1
    for k in range(header.heads):
        head = _head(next_line("a head line"), number)
        if head.tree_size <= previous or not header.start <= head.tree_size <= header.end:
            raise MalformedBundle(f"line {number}: head {head.tree_size} is out of order or outside [start, end]")
        if (k == 0) != (head.tree_size == header.start) or (k == header.heads - 1) != (head.tree_size == header.end):
            raise MalformedBundle(f"line {number}: the heads must begin at start {header.start} and end at end {header.end}")
        previous = head.tree_size
        yield head
    previous = -1
    for _ in range(header.context):
        ctx = _context(next_line("a context line"), number)
        if not previous < ctx.record.leaf_index < header.start:
            raise MalformedBundle(f"line {number}: context record {ctx.record.leaf_index} is out of order or not before start")
        previous = ctx.record.leaf_index
        yield ctx
    for i in range(header.start, header.end):
        entry = EntryLine(_record(next_line(f"entry {i}"), "leaf", number))
        if entry.record.leaf_index != i:
            raise MalformedBundle(f"line {number}: expected entry {i}, found entry {entry.record.leaf_index}")
        yield entry
    trailer_at = number
    trailer = _trailer(next_line("the trailer"), number)
    if trailer.lines != trailer_at or trailer.sha256 != digest.hexdigest():
        raise MalformedBundle(
            f"line {number}: the trailer says {trailer.lines} lines with SHA-256 {trailer.sha256}; the bundle has "
            f"{trailer_at} lines with SHA-256 {digest.hexdigest()} (altered or damaged after export)"
        )
    if data.read(1):
        raise MalformedBundle(f"the bundle goes on after its trailer (line {number})")
    yield trailer


def _keys(value: dict[str, Any], required: set[str], optional: set[str], where: str) -> None:
    keys = set(value)
    if not required <= keys or not keys <= required | optional:
        raise MalformedBundle(
            f"{where}: keys must be {sorted(required)}" + (f" plus optionally {sorted(optional)}" if optional else "")
            + f", got {sorted(keys)}"
        )


def _int(value: Any, where: str, *, high: int = 2**64 - 1) -> int:
    if type(value) is not int or not 0 <= value <= high:
        raise MalformedBundle(f"{where} must be an integer in [0, {high}], got {value!r}")
    return value


def _hex32(value: Any, where: str) -> bytes:
    if not formats.matches(formats.HEX32, value):
        raise MalformedBundle(f"{where} must be 64 lowercase hex digits, got {value!r}")
    return bytes.fromhex(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedBundle(f"{where} must be a non-empty string")
    return value


def _header(v: dict[str, Any]) -> BundleHeader:
    where = "line 1 (the header)"
    t = v.get("type")
    if isinstance(t, str) and t.startswith(FORMAT_NAME + "@") and t != BUNDLE_TYPE:
        raise MalformedBundle(f"this bundle is format {t}; this verifier reads {BUNDLE_TYPE} (upgrade tds-ledger)")
    if t != BUNDLE_TYPE:
        raise MalformedBundle(f"this is not an audit bundle: the first line's type is {t!r}, not {BUNDLE_TYPE!r}")
    _keys(v, {"type", "origin", "chain_id", "contract", "period", "scope", "start", "end", "frontier", "heads", "context",
              "entries"}, set(), where)  # fmt: skip
    period = v["period"]
    if not isinstance(period, dict):
        raise MalformedBundle(f"{where}: period must be an object")
    _keys(period, {"since", "until"}, set(), f"{where} period")
    since, until = (_time(period[k], f"{where} period.{k}") for k in ("since", "until"))
    if since > until:
        raise MalformedBundle(f"{where}: the period's since ({period['since']}) is after its until ({period['until']})")
    scope = v["scope"]
    if not isinstance(scope, dict) or not set(scope) <= set(SCOPE_FILTERS):
        raise MalformedBundle(f"{where}: scope must be an object with keys among {list(SCOPE_FILTERS)}")
    for k, s in scope.items():
        _text(s, f"{where} scope.{k}")
    start, end = _int(v["start"], f"{where} start"), _int(v["end"], f"{where} end")
    if end < start:
        raise MalformedBundle(f"{where}: end {end} is before start {start}")
    frontier = v["frontier"]
    if not isinstance(frontier, list) or len(frontier) != start.bit_count():
        raise MalformedBundle(f"{where}: frontier must list {start.bit_count()} hashes for a tree of size {start}")
    heads = _int(v["heads"], f"{where} heads")
    if heads < (1 if start == end else 2):
        raise MalformedBundle(f"{where}: a bundle has a head line for start and one for end, got heads {heads}")
    if _int(v["entries"], f"{where} entries") != end - start:
        raise MalformedBundle(f"{where}: entries {v['entries']} is not end - start = {end - start}")
    return BundleHeader(
        origin=_text(v["origin"], f"{where} origin"), chain_id=_int(v["chain_id"], f"{where} chain_id"),
        contract=_text(v["contract"], f"{where} contract"), since=since, until=until,
        scope=Scope(**scope), start=start, end=end,
        frontier=tuple(_hex32(h, f"{where} frontier[{i}]") for i, h in enumerate(frontier)),
        heads=heads, context=_int(v["context"], f"{where} context"),
    )  # fmt: skip


def _time(value: Any, where: str) -> datetime:
    try:
        return parse_issued_at(value)
    except MalformedInput as e:
        raise MalformedBundle(f"{where}: {e}") from e


def _head(v: dict[str, Any], number: int) -> HeadLine:
    where = f"line {number} (a head line)"
    _keys(v, {"head", "checkpoint", "anchor"}, set(), where)
    size = _int(v["head"], f"{where} head")
    if size == 0:
        if v["checkpoint"] is not None or v["anchor"] is not None:
            raise MalformedBundle(f"{where}: the head of size 0 has no checkpoint and no anchor")
        return HeadLine(0, None, None)
    a = v["anchor"]
    if not isinstance(a, dict):
        raise MalformedBundle(f"{where}: anchor must be an object")
    _keys(a, {"block_number", "block_hash"}, set(), f"{where} anchor")
    if not formats.matches(formats.TX_HASH, a["block_hash"]):
        raise MalformedBundle(f"{where}: anchor.block_hash must be 0x and 64 hex digits")
    claim = AnchorClaim(_int(a["block_number"], f"{where} anchor.block_number"), a["block_hash"])
    return HeadLine(size, _text(v["checkpoint"], f"{where} checkpoint"), claim)


def _record(v: dict[str, Any], key: str, number: int) -> Record:
    where = f"line {number}"
    optional = {"payload", "salt", "erased", "state"} | ({"proof"} if key == "context" else set())
    _keys(v, {key, "envelope"}, optional, where)
    if ("payload" in v) != ("salt" in v):
        raise MalformedBundle(f"{where}: payload and salt come together or not at all")
    if "erased" in v and (v["erased"] is not True or "payload" in v):
        raise MalformedBundle(f"{where}: erased is true, and only on a record without payload")
    payload = None if "payload" not in v else _text(v["payload"], f"{where} payload").encode("utf-8")
    salt = None if "salt" not in v else _hex32(v["salt"], f"{where} salt")
    state = None if "state" not in v else _state(v["state"], f"{where} state")
    return Record(_int(v[key], f"{where} {key}"), _text(v["envelope"], f"{where} envelope").encode("utf-8"),
                  payload, salt, "erased" in v, state)  # fmt: skip


def _context(v: dict[str, Any], number: int) -> ContextLine:
    if "proof" not in v:
        raise MalformedBundle(f"line {number}: a context line carries its inclusion proof")
    proof = v["proof"]
    if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
        raise MalformedBundle(f"line {number}: proof must be a list of at most {MAX_PROOF_HASHES} hashes")
    return ContextLine(_record(v, "context", number), tuple(_hex32(h, f"line {number} proof") for h in proof))


def _state(v: Any, where: str) -> DerivedState:
    if not isinstance(v, dict):
        raise MalformedBundle(f"{where} must be an object")
    _keys(v, {"status", "reason", "by", "facts"}, set(), where)
    facts = v["facts"]
    if not isinstance(v["status"], str) or not isinstance(v["reason"], str) or not isinstance(facts, dict) \
            or (v["by"] is not None and not isinstance(v["by"], str)):  # fmt: skip
        raise MalformedBundle(f"{where}: status and reason are strings, by a string or null, facts an object")
    try:
        return DerivedState(v["status"], v["reason"], v["by"], tuple(facts.items()))
    except ValueError as e:
        raise MalformedBundle(f"{where}: {e}") from e


def _trailer(v: dict[str, Any], number: int) -> Trailer:
    where = f"line {number} (the trailer)"
    if v.get("trailer") != BUNDLE_TYPE:
        raise MalformedBundle(f"{where}: expected the trailer after the last entry, found another line")
    _keys(v, {"trailer", "lines", "sha256"}, set(), where)
    sha = v["sha256"]
    if not formats.matches(formats.HEX32, sha):
        raise MalformedBundle(f"{where}: sha256 must be 64 lowercase hex digits")
    return Trailer(_int(v["lines"], f"{where} lines"), sha)
