"""C2SP ``tlog-checkpoint`` text, signed as a C2SP ``signed-note`` with an Ed25519 note key.

A checkpoint is three or more lines, each ending in a newline::

    <origin>
    <tree size: ASCII decimal, no leading zeros>
    <root hash: standard padded base64 of 32 bytes>
    <extension lines, optional, non-empty>

A signed note is that text, a blank line, then one or more signature lines
``— <key name> <base64(key id ‖ signature)>``. The key id of an Ed25519 key is the first
four bytes (a big-endian uint32) of ``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)``.
Keys are written as golang.org/x/mod/sumdb/note writes them: a verifier key
``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``, a signer key
``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte seed)>``.

Key names are non-empty, without '+' or Unicode White_Space. Key ids in key text are read
in either hex case, as Go reads them; key text is not trimmed (strip a file's newline).

Limits (the spec asks verifiers for one and to accept at least 16 signatures):

- ``MAX_NOTE_SIZE``: a note or checkpoint text of at most 1 MiB of UTF-8, room for
  100 post-quantum signatures of ~5 kB;
- ``MAX_SIGNATURES``: at most 100 signature lines, as the Go reference.

Parsing is strict where the spec leaves room, and says so: base64 must be canonical
(padded, zero unused bits); every signature from a known key is verified, repeats too
(the Go reference skips repeats); signatures from unknown keys are ignored, but a
signature line that is malformed rejects the whole note, whoever it claims to be from.

Errors: ``MalformedCheckpoint`` (a ``ValueError``) for text or keys that do not parse,
``InvalidSignature`` when no given key signed the note or one of its signatures fails,
``VerificationError`` for a checkpoint of another origin, ``ConfigError`` for two
different verifier keys with one name and key id, ``TypeError`` for a wrong type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger import formats
from ledger.errors import (
    ConfigError,
    InvalidSignature,
    MalformedCheckpoint,
    VerificationError,
)

__all__ = [
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "NoteSignature",
    "OpenedNote",
    "sign_note",
    "open_note",
    "sign_checkpoint",
    "verify_checkpoint",
]

MAX_NOTE_SIZE = 1 << 20
MAX_SIGNATURES = 100
HASH_SIZE = 32  # as ledger.merkle
MAX_TREE_SIZE = 2**64 - 1

_ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "  # em dash, space
_B64 = formats.BASE64
_SIZE = formats.CHECKPOINT_SIZE
_HEX8 = formats.HEX8
# ASCII controls (but newline, in a note's text) and lone surrogates, which are not UTF-8.
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")
_FORBIDDEN_IN_LINE = re.compile("[\x00-\x1f\ud800-\udfff]")
# Not in a key name: '+', Unicode White_Space (what Go's unicode.IsSpace tests), controls.
_NOT_IN_NAME = re.compile(
    "[+\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ud800-\udfff]"
)


# -- text helpers ---------------------------------------------------------------------


def _check_str(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _check_note_chars(what: str, text: str, *, newlines: bool) -> None:
    """Valid UTF-8 with no ASCII control character but (if allowed) newline."""
    if len(text) > MAX_NOTE_SIZE or len(text.encode("utf-8", "surrogatepass")) > MAX_NOTE_SIZE:
        raise MalformedCheckpoint(f"{what} is over the limit of {MAX_NOTE_SIZE} bytes")
    bad = (_FORBIDDEN_IN_TEXT if newlines else _FORBIDDEN_IN_LINE).search(text)
    if bad:
        raise MalformedCheckpoint(f"{what} contains the forbidden character U+{ord(bad.group()):04X}")


def _is_valid_name(name: str) -> bool:
    """Non-empty, no Unicode space, no ``+`` and no control character (signed-note)."""
    return bool(name) and not _NOT_IN_NAME.search(name)


def _check_name(name: object) -> str:
    if not _is_valid_name(_check_str("key name", name)):
        raise MalformedCheckpoint(f"key name must be non-empty without spaces or '+', got {name!r}")
    return name  # type: ignore[return-value]


def _b64decode(what: str, text: str) -> bytes:
    """Standard base64 (RFC 4648 §4), padded and canonical; anything else is malformed."""
    if len(text) % 4 or not _B64.fullmatch(text):
        raise MalformedCheckpoint(f"{what} is not standard padded base64: {text[:80]!r}")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise MalformedCheckpoint(f"{what} is not standard padded base64: {text[:80]!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedCheckpoint(f"{what} is not canonical base64: {text[:80]!r}")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([_ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


# -- checkpoint -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head as C2SP tlog-checkpoint text (unsigned; see ``sign_checkpoint``).

    ``origin`` is non-empty; the spec only recommends a schema-less URL without spaces or
    ``+``, so other origins parse too. ``tree_size`` is in ``[0, 2**64)``, ``root_hash`` is
    32 bytes, ``extensions`` are opaque non-empty lines (NOT RECOMMENDED by the spec).
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_str("origin", self.origin)
        if not self.origin:
            raise MalformedCheckpoint("checkpoint origin must be non-empty")
        _check_note_chars("checkpoint origin", self.origin, newlines=False)
        if not isinstance(self.tree_size, int) or isinstance(self.tree_size, bool):
            raise TypeError(f"tree_size must be an int, got {type(self.tree_size).__name__}")
        if not 0 <= self.tree_size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree_size must be in [0, 2**64), got {self.tree_size}")
        if not isinstance(self.root_hash, bytes):
            raise TypeError(f"root_hash must be bytes, got {type(self.root_hash).__name__}")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"root_hash must be {HASH_SIZE} bytes, got {len(self.root_hash)}")
        if not isinstance(self.extensions, tuple):
            raise TypeError(f"extensions must be a tuple of str, got {type(self.extensions).__name__}")
        for line in self.extensions:
            _check_str("extension line", line)
            if not line:
                raise MalformedCheckpoint("checkpoint extension lines must be non-empty")
            _check_note_chars("checkpoint extension line", line, newlines=False)

    def to_text(self) -> str:
        """The checkpoint text: every line, the last one included, ends in a newline."""
        lines = (self.origin, str(self.tree_size), _b64encode(self.root_hash), *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint text (the note text, without the blank line and signatures).

        Strict: a final newline, no CR or other control character, at least three lines,
        a size of ASCII digits without leading zeros below 2**64, a root of exactly 32
        bytes in canonical padded base64, no empty extension line.
        """
        _check_str("checkpoint text", text)
        _check_note_chars("checkpoint text", text, newlines=True)
        if not text.endswith("\n"):
            raise MalformedCheckpoint("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint(f"checkpoint needs origin, size and root lines, got {len(lines)}")
        origin, size, root, *extensions = lines
        if not origin:
            raise MalformedCheckpoint("checkpoint origin line is empty")
        if not _SIZE.fullmatch(size) or int(size) > MAX_TREE_SIZE:
            raise MalformedCheckpoint(
                f"checkpoint size must be decimal in [0, 2**64) without leading zeros, got {size[:40]!r}"
            )
        root_hash = _b64decode("checkpoint root hash", root)
        if len(root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"checkpoint root hash must be {HASH_SIZE} bytes, got {len(root_hash)}")
        if any(not line for line in extensions):
            raise MalformedCheckpoint("checkpoint extension lines must be non-empty")
        return cls(origin, int(size), root_hash, tuple(extensions))


# -- note keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """An Ed25519 note verifier key: ``name``, raw 32-byte ``public_key`` and its ``key_id``."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.public_key, bytes):
            raise TypeError(f"public_key must be bytes, got {type(self.public_key).__name__}")
        if len(self.public_key) != 32:
            raise MalformedCheckpoint(f"Ed25519 public key must be 32 bytes, got {len(self.public_key)}")
        object.__setattr__(self, "key_id", _key_id(self.name, self.public_key))
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @classmethod
    def from_text(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<8 hex key id>+<base64(0x01 ‖ public key)>``; the id must match."""
        _check_str("verifier key", vkey)
        parts = vkey.split("+", 2)
        if vkey.startswith("PRIVATE+KEY+"):  # never echo a secret in an error
            raise MalformedCheckpoint("got a signer (private) key where a verifier key was expected")
        if len(parts) != 3 or not _HEX8.fullmatch(parts[1]):
            raise MalformedCheckpoint(f"verifier key must be <name>+<8 hex>+<base64 key>, got {vkey[:80]!r}")
        name, key_id, key = parts[0], int(parts[1], 16), _b64decode("verifier key", parts[2])
        if len(key) != 33 or key[0] != _ALG_ED25519:
            raise MalformedCheckpoint("verifier key must be 0x01 followed by a 32-byte Ed25519 public key")
        verifier = cls(_check_name(name), key[1:])
        if verifier.key_id != key_id:
            raise MalformedCheckpoint(f"verifier key id is {key_id:08x}, key hashes to {verifier.key_id:08x}")
        return verifier

    def to_text(self) -> str:
        """The verifier key text, as ``from_text`` reads it."""
        return f"{self.name}+{self.key_id:08x}+{_b64encode(bytes([_ALG_ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 ``signature`` (64 bytes, without key id) of ``message``.

        Returns None or raises ``InvalidSignature``.
        """
        if not isinstance(message, bytes) or not isinstance(signature, bytes):
            raise TypeError("message and signature must be bytes")
        if len(signature) != 64:
            raise InvalidSignature(f"signature by {self._label} is {len(signature)} bytes, not 64")
        try:
            self._key.verify(signature, message)
        except _CryptoInvalidSignature:
            raise InvalidSignature(f"signature by {self._label} does not verify") from None

    @property
    def _label(self) -> str:
        return f"{self.name}+{self.key_id:08x}"


@dataclass(frozen=True, slots=True, eq=False)
class NoteSigner:
    """An Ed25519 note signer key: ``name``, ``private_key`` and its ``key_id``.

    WARNING: ``to_private_key_text`` returns the secret key; keep it out of logs and repos.
    """

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise TypeError(f"private_key must be Ed25519PrivateKey, got {type(self.private_key).__name__}")
        object.__setattr__(self, "key_id", self.verifier.key_id)

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        """A new random key for ``name``."""
        return cls(_check_name(name), Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key_text(cls, skey: str) -> NoteSigner:
        """Parse ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ seed)>``; the id must match."""
        _check_str("signer key", skey)
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX8.fullmatch(parts[3]):
            raise MalformedCheckpoint("signer key must be PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        try:
            key = _b64decode("signer key", parts[4])
        except MalformedCheckpoint:
            raise MalformedCheckpoint("signer key is not canonical padded base64") from None  # hide the key
        if len(key) != 33 or key[0] != _ALG_ED25519:
            raise MalformedCheckpoint("signer key must be 0x01 followed by a 32-byte Ed25519 seed")
        signer = cls(_check_name(parts[2]), Ed25519PrivateKey.from_private_bytes(key[1:]))
        if signer.key_id != int(parts[3], 16):
            raise MalformedCheckpoint(f"signer key id is {parts[3]}, the key hashes to {signer.key_id:08x}")
        return signer

    def to_private_key_text(self) -> str:
        """The secret signer key text, as ``from_private_key_text`` reads it."""
        seed = self.private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64encode(bytes([_ALG_ED25519]) + seed)}"

    @property
    def verifier(self) -> NoteVerifier:
        """The matching verifier key."""
        return NoteVerifier(self.name, self.private_key.public_key().public_bytes_raw())

    @property
    def verifier_key_text(self) -> str:
        """The verifier key text to publish: ``<name>+<8 hex key id>+<base64(0x01 ‖ pubkey)>``."""
        return self.verifier.to_text()

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


# -- signed notes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """A signature line of a note: key ``name``, ``key_id`` and the ``signature`` after the id."""

    name: str
    key_id: int
    signature: bytes

    def to_line(self) -> str:
        """The signature line, newline included."""
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_id.to_bytes(4, 'big') + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A verified note: its ``text``, the given verifiers that signed it, the other lines.

    ``unknown_signatures`` are from keys not given (witness cosignatures, rotated keys):
    kept in order, exact repeats dropped, not verified.
    """

    text: str
    signed_by: tuple[NoteVerifier, ...]
    unknown_signatures: tuple[NoteSignature, ...]


def sign_note(text: str, signer: NoteSigner) -> str:
    """Sign ``text`` (ending in a newline): text, a blank line, one signature line."""
    _check_str("note text", text)
    if not isinstance(signer, NoteSigner):
        raise TypeError(f"signer must be a NoteSigner, got {type(signer).__name__}")
    if not text.endswith("\n"):
        raise MalformedCheckpoint("note text must end in a newline")
    _check_note_chars("note text", text, newlines=True)
    line = NoteSignature(signer.name, signer.key_id, signer.sign(text.encode("utf-8"))).to_line()
    note = text + "\n" + line
    _check_note_chars("signed note", note, newlines=True)
    return note


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedCheckpoint(f"signature line must start with an em dash and a space, got {line[:80]!r}")
    name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not _is_valid_name(name):
        raise MalformedCheckpoint(f"signature line has an invalid key name: {line[:80]!r}")
    raw = _b64decode("signature", b64)
    if len(raw) < 5:
        raise MalformedCheckpoint(f"signature must be a 4-byte key id and a signature, got {len(raw)} bytes")
    return NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def open_note(note: str, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Parse a signed note and verify it against the verifiers the caller trusts.

    A signature line whose key name and id match a given verifier must verify, else
    ``InvalidSignature``; lines from other keys are returned unverified. At least one
    given verifier must have signed, else ``InvalidSignature``. ``MalformedCheckpoint``
    for a note that does not parse (see the module docstring for the limits);
    ``ConfigError`` if two different verifiers share a key name and id.
    """
    _check_str("signed note", note)
    if isinstance(verifiers, NoteVerifier):
        raise TypeError("verifiers must be an iterable of NoteVerifier, got a single NoteVerifier")
    known: dict[tuple[str, int], NoteVerifier] = {}
    for v in verifiers:
        if not isinstance(v, NoteVerifier):
            raise TypeError(f"verifiers must hold NoteVerifier, got {type(v).__name__}")
        if known.setdefault((v.name, v.key_id), v) != v:
            raise ConfigError(f"two different verifier keys are named {v.name}+{v.key_id:08x}")

    _check_note_chars("signed note", note, newlines=True)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedCheckpoint("signed note has no blank line before its signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        raise MalformedCheckpoint("signed note must end in a newline after its signature lines")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedCheckpoint(f"signed note has {len(lines)} signatures, limit is {MAX_SIGNATURES}")

    signatures = [_parse_signature_line(line) for line in lines]  # all well-formed first

    message = text.encode("utf-8")
    signed_by: dict[NoteVerifier, None] = {}  # dicts: ordered sets
    unknown: dict[NoteSignature, None] = {}
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unknown.setdefault(sig)
            continue
        verifier.verify(message, sig.signature)
        signed_by.setdefault(verifier)
    if not signed_by:
        names = ", ".join(f"{k[0]}+{k[1]:08x}" for k in known) or "none given"
        raise InvalidSignature(f"signed note has no signature from a known key (known: {names})")
    return OpenedNote(text, tuple(signed_by), tuple(unknown))


# -- signed checkpoints ---------------------------------------------------------------


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The checkpoint as a signed note. The signer's name SHOULD be the origin (spec)."""
    if not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"checkpoint must be a Checkpoint, got {type(checkpoint).__name__}")
    return sign_note(checkpoint.to_text(), signer)


def verify_checkpoint(note: str, verifier: NoteVerifier, *, origin: str) -> Checkpoint:
    """Verify a signed checkpoint of the log ``origin`` and return it.

    ``verifier`` and ``origin`` identify the log and MUST come from the caller's own
    configuration, never from the note or the receipt being checked. Other signatures
    (witness cosignatures) are ignored. Raises ``MalformedCheckpoint``,
    ``InvalidSignature``, or ``VerificationError`` if the checkpoint's origin is not
    ``origin``.
    """
    if not isinstance(verifier, NoteVerifier):
        raise TypeError(f"verifier must be a NoteVerifier, got {type(verifier).__name__}")
    _check_str("origin", origin)
    checkpoint = Checkpoint.from_text(open_note(note, [verifier]).text)
    if checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin is {checkpoint.origin[:200]!r}, expected {origin!r}")
    return checkpoint
