"""C2SP tlog-checkpoint and signed-note: public vectors, round trips, and rejections.

Rejection cases are tables named after the mutation they apply to a valid input, so a
failure reports which rule broke.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.checkpoint import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Checkpoint,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    open_note,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
)
from ledger.errors import (
    ConfigError,
    InvalidSignature,
    MalformedCheckpoint,
    VerificationError,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "c2sp"

ORIGIN = "example.com/log"
ROOT = hashlib.sha256(b"root").digest()


def _fixed_signer(name: str, seed_label: bytes) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed_label).digest()))


SIGNER = _fixed_signer(ORIGIN, b"test log key")
VERIFIER = SIGNER.verifier
OTHER = _fixed_signer(ORIGIN, b"other key")  # same name, another key
WITNESS = _fixed_signer("witness.example/w1", b"witness")

# golang.org/x/mod sumdb/note example_test.go (ExampleSign / ExampleOpen): a signer key,
# its verifier key, a text, and the note Go's Sign produces for it.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _collision_seed(i: int) -> bytes:
    return hashlib.sha256(b"tds-ledger key-id collision %d" % i).digest()


# Two different keys whose key ids collide under one name: a birthday search over the
# seeds above (about 2**16 tries) found indexes 21879 and 44642, key id c29a64c8.
COLLIDING_NAME = "example.com/collision"
COLLIDING_A = NoteSigner(COLLIDING_NAME, Ed25519PrivateKey.from_private_bytes(_collision_seed(21879)))
COLLIDING_B = NoteSigner(COLLIDING_NAME, Ed25519PrivateKey.from_private_bytes(_collision_seed(44642)))


def _checkpoint_text(
    size: str = "5", root: str = _b64(ROOT), *, origin: str = ORIGIN, extra: str = ""
) -> str:
    return f"{origin}\n{size}\n{root}\n{extra}"


def _relabel(note: str, name: str, key_id: int) -> str:
    """The note with its last signature line claiming another key name and id."""
    text, line = note[: note.rfind("\n\n") + 2], note[note.rfind("\n\n") + 2 :]
    raw = base64.b64decode(line.split(" ")[2])
    return text + NoteSignature(name, key_id, raw[4:]).to_line()


def _with_signature_bytes(note: str, edit: Callable[[bytes], bytes]) -> str:
    head, _, b64 = note[:-1].rpartition(" ")
    return f"{head} {_b64(edit(base64.b64decode(b64)))}\n"


def _unknown_lines(n: int) -> str:
    return "".join(NoteSignature(f"witness.example/w{i}", i, bytes(64)).to_line() for i in range(n))


# -- public vectors ---------------------------------------------------------------------


def test_signed_note_example_verifies_under_its_vkey():
    vkey = (VECTORS / "signed-note-example.vkey").read_text().strip()
    verifier = NoteVerifier.from_text(vkey)
    assert (verifier.name, verifier.key_id) == ("example.com/foo", 0x530D903A)
    assert verifier.to_text() == vkey
    opened = open_note((VECTORS / "signed-note-example.note").read_text(), [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.signed_by == (verifier,)
    assert opened.unknown_signatures == ()


def test_signed_note_example_fails_once_tampered():
    verifier = NoteVerifier.from_text((VECTORS / "signed-note-example.vkey").read_text().strip())
    note = (VECTORS / "signed-note-example.note").read_text()
    with pytest.raises(InvalidSignature):
        open_note(note.replace("example message", "example massage"), [verifier])


def test_go_reference_keys_and_signature_are_reproduced():
    signer = NoteSigner.from_private_key_text(GO_SKEY)
    assert signer.key_id == 0xC74F20A3
    assert signer.to_private_key_text() == GO_SKEY
    assert signer.verifier_key_text == GO_VKEY
    assert sign_note(GO_TEXT, signer) == GO_NOTE  # Ed25519 is deterministic
    assert open_note(GO_NOTE, [NoteVerifier.from_text(GO_VKEY)]).text == GO_TEXT


def test_checkpoint_with_cosignature_example_parses():
    # The log's and the witness's public keys are not published (see .source.txt): parse,
    # and show both lines are ignored as unknown, kept, and not enough on their own.
    note = (VECTORS / "checkpoint-with-cosignature-example.txt").read_text()
    text, vector_sigs = note[: note.rfind("\n\n") + 1], note[note.rfind("\n\n") + 2 :]
    checkpoint = Checkpoint.from_text(text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.tree_size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.to_text() == text

    own = NoteSigner.generate("example.com/behind-the-sofa")
    with pytest.raises(InvalidSignature, match="no signature from a known key"):
        open_note(note, [own.verifier])

    cosigned = sign_note(text, own) + vector_sigs
    opened = open_note(cosigned, [own.verifier])
    assert opened.signed_by == (own.verifier,)
    log_sig, witness_sig = opened.unknown_signatures
    assert log_sig.name == "example.com/behind-the-sofa" and len(log_sig.signature) == 64
    assert log_sig.key_id != own.key_id
    assert witness_sig.name == "witness.example.com/w1"
    assert len(witness_sig.signature) == 8 + 64  # tlog-cosignature: timestamp ‖ signature
    assert "".join(s.to_line() for s in opened.unknown_signatures) == vector_sigs
    assert verify_checkpoint(cosigned, own.verifier, origin="example.com/behind-the-sofa") == checkpoint


# -- round trips ------------------------------------------------------------------------

_chars = st.characters(min_codepoint=0x20, exclude_categories=("Cs",))  # no ASCII control, valid UTF-8
_line = st.text(_chars, min_size=1, max_size=30)
_name = st.text(
    # no ASCII control or space, no '+', none of Unicode White_Space (Zs, Zl, Zp, U+0085)
    st.characters(
        min_codepoint=0x21, exclude_categories=("Cs", "Zs", "Zl", "Zp"), exclude_characters="+\x85"
    ),
    min_size=1,
    max_size=30,
)
_checkpoints = st.builds(
    Checkpoint,
    origin=_line,
    tree_size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3).map(tuple),
)
_note_texts = st.lists(st.text(_chars, max_size=30), max_size=6).map(
    lambda lines: "".join(line + "\n" for line in lines) or "\n"
)


@given(_checkpoints)
def test_checkpoint_text_round_trips(checkpoint: Checkpoint):
    text = checkpoint.to_text()
    assert Checkpoint.from_text(text) == checkpoint
    assert Checkpoint.from_text(text).to_text() == text


@given(_checkpoints)
def test_signed_checkpoint_round_trips(checkpoint: Checkpoint):
    note = sign_checkpoint(checkpoint, SIGNER)
    assert verify_checkpoint(note, VERIFIER, origin=checkpoint.origin) == checkpoint


@given(_note_texts, _name)
def test_signed_note_round_trips(text: str, name: str):
    signer = NoteSigner.generate(name)
    assert NoteVerifier.from_text(signer.verifier_key_text) == signer.verifier
    assert NoteSigner.from_private_key_text(signer.to_private_key_text()).verifier == signer.verifier
    opened = open_note(sign_note(text, signer), [signer.verifier, VERIFIER])
    assert opened.text == text
    assert opened.signed_by == (signer.verifier,)


def test_cosigned_note_records_every_known_signer_once():
    note = sign_note("hello\n", SIGNER)
    note += sign_note("hello\n", WITNESS).split("\n\n")[1]
    note += note.split("\n\n")[1]  # every line repeated
    opened = open_note(note, [VERIFIER, WITNESS.verifier])
    assert opened.signed_by == (VERIFIER, WITNESS.verifier)
    assert open_note(note, [VERIFIER]).unknown_signatures == (
        NoteSignature(WITNESS.name, WITNESS.key_id, WITNESS.sign(b"hello\n")),
    )


def test_checkpoint_edge_values_parse():
    assert Checkpoint.from_text(_checkpoint_text("0")).tree_size == 0
    assert Checkpoint.from_text(_checkpoint_text(str(2**64 - 1))).tree_size == 2**64 - 1
    # The spec only recommends a URL without spaces or '+'; clients must not assume it.
    odd = Checkpoint.from_text(_checkpoint_text(origin="my log + friends", extra="ext a\next b\n"))
    assert (odd.origin, odd.extensions) == ("my log + friends", ("ext a", "ext b"))


def test_signature_limit_is_inclusive():
    note = sign_note("hello\n", SIGNER)
    for unknown in (15, MAX_SIGNATURES - 1):
        opened = open_note(note + _unknown_lines(unknown), [VERIFIER])
        assert len(opened.unknown_signatures) == unknown


# -- rejections: checkpoint text --------------------------------------------------------

_root_hex31, _root_hex33 = _b64(ROOT[:31]), _b64(ROOT + b"\x00")
_zero_root = _b64(bytes(32))

CHECKPOINT_TEXT_REJECTIONS = {
    "missing-final-newline": _checkpoint_text()[:-1],
    "two-lines": f"{ORIGIN}\n5\n",
    "empty": "",
    "empty-origin": _checkpoint_text(origin=""),
    "tab-in-origin": _checkpoint_text(origin="a\tb"),
    "lone-surrogate-in-origin": _checkpoint_text(origin="a\ud800"),
    "crlf-line-endings": _checkpoint_text().replace("\n", "\r\n"),
    "size-leading-zero": _checkpoint_text("05"),
    "size-double-zero": _checkpoint_text("00"),
    "size-negative": _checkpoint_text("-1"),
    "size-plus-sign": _checkpoint_text("+1"),
    "size-2**64": _checkpoint_text(str(2**64)),
    "size-huge": _checkpoint_text("9" * 5000),
    "size-leading-space": _checkpoint_text(" 1"),
    "size-underscore": _checkpoint_text("1_000"),
    "size-arabic-digit": _checkpoint_text("\u0661"),
    "size-hex": _checkpoint_text("0x5"),
    "size-empty": _checkpoint_text(""),
    "root-31-bytes": _checkpoint_text(root=_root_hex31),
    "root-33-bytes": _checkpoint_text(root=_root_hex33),
    "root-empty": _checkpoint_text(root=""),
    "root-not-base64": _checkpoint_text(root="!" * 44),
    "root-hex": _checkpoint_text(root=ROOT.hex()),
    "root-unpadded": _checkpoint_text(root=_b64(ROOT).rstrip("=")),
    "root-url-safe-alphabet": _checkpoint_text(root=base64.urlsafe_b64encode(b"\xfb" * 32).decode()),
    "root-non-canonical-bits": _checkpoint_text(root=_zero_root[:42] + "B="),
    "root-with-space": _checkpoint_text(root=" " + _b64(ROOT)),
    "empty-extension-line": _checkpoint_text(extra="\n"),
    "empty-line-between-extensions": _checkpoint_text(extra="a\n\nb\n"),
    "over-size-limit": _checkpoint_text(extra="x" * MAX_NOTE_SIZE + "\n"),
}


@pytest.mark.parametrize("text", CHECKPOINT_TEXT_REJECTIONS.values(), ids=CHECKPOINT_TEXT_REJECTIONS.keys())
def test_checkpoint_text_is_rejected(text: str):
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.from_text(text)


CHECKPOINT_VALUE_REJECTIONS = {
    "empty-origin": (dict(origin=""), MalformedCheckpoint),
    "newline-in-origin": (dict(origin="a\nb"), MalformedCheckpoint),
    "negative-size": (dict(tree_size=-1), MalformedCheckpoint),
    "size-2**64": (dict(tree_size=2**64), MalformedCheckpoint),
    "root-31-bytes": (dict(root_hash=ROOT[:31]), MalformedCheckpoint),
    "root-33-bytes": (dict(root_hash=ROOT + b"\x00"), MalformedCheckpoint),
    "empty-extension": (dict(extensions=("",)), MalformedCheckpoint),
    "newline-in-extension": (dict(extensions=("a\nb",)), MalformedCheckpoint),
    "size-as-str": (dict(tree_size="5"), TypeError),
    "size-as-bool": (dict(tree_size=True), TypeError),
    "root-as-str": (dict(root_hash=_b64(ROOT)), TypeError),
    "root-as-bytearray": (dict(root_hash=bytearray(ROOT)), TypeError),
    "extensions-as-list": (dict(extensions=["a"]), TypeError),
    "origin-as-bytes": (dict(origin=b"example.com/log"), TypeError),
}


@pytest.mark.parametrize(
    "change,error", CHECKPOINT_VALUE_REJECTIONS.values(), ids=CHECKPOINT_VALUE_REJECTIONS.keys()
)
def test_checkpoint_value_is_rejected(change: dict, error: type[Exception]):
    fields = dict(origin=ORIGIN, tree_size=5, root_hash=ROOT, extensions=()) | change
    with pytest.raises(error):
        Checkpoint(**fields)


# -- rejections: signed notes -----------------------------------------------------------

_NOTE = sign_note("hello\nworld\n", SIGNER)
_TEXT, _SIG_LINE = _NOTE.split("\n\n")
_BY_OTHER = sign_note("hello\nworld\n", OTHER)


def _flip_last_bit(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 1])


NOTE_REJECTIONS: dict[str, tuple[str, type[Exception]]] = {
    "tampered-text": (_NOTE.replace("world", "wOrld"), InvalidSignature),
    "tampered-signature": (_with_signature_bytes(_NOTE, _flip_last_bit), InvalidSignature),
    "truncated-signature": (_with_signature_bytes(_NOTE, lambda b: b[:-1]), InvalidSignature),
    "extended-signature": (_with_signature_bytes(_NOTE, lambda b: b + b"\x00"), InvalidSignature),
    "signed-by-other-key-same-name": (_BY_OTHER, InvalidSignature),
    "relabeled-other-key-as-known": (_relabel(_BY_OTHER, ORIGIN, SIGNER.key_id), InvalidSignature),
    "known-key-id-other-name": (_relabel(_NOTE, "example.com/other", SIGNER.key_id), InvalidSignature),
    "only-unknown-signatures": (_TEXT + "\n\n" + _unknown_lines(3), InvalidSignature),
    "bad-repeat-of-good-signature": (
        _NOTE + _with_signature_bytes(_SIG_LINE, _flip_last_bit),
        InvalidSignature,
    ),
    "missing-final-newline": (_NOTE[:-1], MalformedCheckpoint),
    "missing-blank-line": (_NOTE.replace("\n\n", "\n"), MalformedCheckpoint),
    "no-signature-lines": (_TEXT + "\n\n", MalformedCheckpoint),
    "blank-line-after-signatures": (_NOTE + "\n", MalformedCheckpoint),
    "crlf-line-endings": (_NOTE.replace("\n", "\r\n"), MalformedCheckpoint),
    "cr-before-blank-line": (_NOTE.replace("\n\n", "\r\n\n"), MalformedCheckpoint),
    "tab-in-text": (_NOTE.replace("hello", "hel\tlo"), MalformedCheckpoint),
    "nul-in-text": (_NOTE.replace("hello", "hel\x00lo"), MalformedCheckpoint),
    "lone-surrogate": (_NOTE.replace("hello", "hel\udc80lo"), MalformedCheckpoint),
    "hyphen-for-em-dash": (_NOTE.replace("\u2014", "-"), MalformedCheckpoint),
    "en-dash-for-em-dash": (_NOTE.replace("\u2014", "\u2013"), MalformedCheckpoint),
    "no-space-after-dash": (_NOTE.replace("\u2014 ", "\u2014"), MalformedCheckpoint),
    "two-spaces-before-signature": (_NOTE.replace(f"{ORIGIN} ", f"{ORIGIN}  "), MalformedCheckpoint),
    "trailing-space": (_NOTE[:-1] + " \n", MalformedCheckpoint),
    "empty-key-name": (_NOTE.replace(f" {ORIGIN} ", "  "), MalformedCheckpoint),
    "plus-in-key-name": (_NOTE.replace(ORIGIN + " ", "example.com/a+b "), MalformedCheckpoint),
    "no-break-space-in-key-name": (_NOTE.replace(ORIGIN + " ", "example.com/a\xa0b "), MalformedCheckpoint),
    "signature-not-base64": (_NOTE[:-5] + "!!!!\n", MalformedCheckpoint),
    "signature-unpadded": (_NOTE[:-2] + "\n", MalformedCheckpoint),
    "signature-non-canonical-bits": (_NOTE + _unknown_lines(1)[:-3] + "B=\n", MalformedCheckpoint),
    "signature-only-key-id": (_NOTE + f"\u2014 w {_b64(bytes(4))}\n", MalformedCheckpoint),
    "signature-empty": (_NOTE + "\u2014 w \n", MalformedCheckpoint),
    "malformed-line-from-unknown-key": (_NOTE + "\u2014 witness.example/w1 %%%%\n", MalformedCheckpoint),
    "over-signature-limit": (_NOTE + _unknown_lines(MAX_SIGNATURES), MalformedCheckpoint),
    "over-size-limit": ("x" * MAX_NOTE_SIZE + _NOTE, MalformedCheckpoint),
    "over-size-limit-in-utf8-bytes": ("\u00e9" * (MAX_NOTE_SIZE // 2) + _NOTE, MalformedCheckpoint),
}


@pytest.mark.parametrize("note,error", NOTE_REJECTIONS.values(), ids=NOTE_REJECTIONS.keys())
def test_signed_note_is_rejected(note: str, error: type[Exception]):
    with pytest.raises(error):
        open_note(note, [VERIFIER])


def test_key_id_collision_with_a_different_key_fails_verification():
    # Same name, same key id, different key: the spec requires the signature to be
    # checked against the configured key, so the note is rejected, not ignored.
    assert COLLIDING_A.key_id == COLLIDING_B.key_id == 0xC29A64C8
    assert COLLIDING_A.verifier != COLLIDING_B.verifier
    note = sign_note("hello\n", COLLIDING_A)
    assert open_note(note, [COLLIDING_A.verifier]).signed_by == (COLLIDING_A.verifier,)
    with pytest.raises(InvalidSignature, match="does not verify"):
        open_note(note, [COLLIDING_B.verifier])
    with pytest.raises(ConfigError, match="two different verifier keys"):
        open_note(note, [COLLIDING_A.verifier, COLLIDING_B.verifier])


def test_open_note_rejects_bad_arguments():
    with pytest.raises(TypeError):
        open_note(_NOTE, VERIFIER)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_note(_NOTE.encode(), [VERIFIER])  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature):
        open_note(_NOTE, [])


@pytest.mark.parametrize(
    "text", ["hello", "", "hello\r\n", "hel\tlo\n"], ids=["no-final-newline", "empty", "cr", "tab"]
)
def test_sign_note_rejects_text(text: str):
    with pytest.raises(MalformedCheckpoint):
        sign_note(text, SIGNER)


# -- rejections: signed checkpoints -----------------------------------------------------

_CHECKPOINT = Checkpoint(ORIGIN, 5, ROOT)
_SIGNED_CHECKPOINT = sign_checkpoint(_CHECKPOINT, SIGNER)


def test_signed_checkpoint_verifies():
    assert _SIGNED_CHECKPOINT.startswith(_CHECKPOINT.to_text() + "\n\u2014 " + ORIGIN + " ")
    assert verify_checkpoint(_SIGNED_CHECKPOINT, VERIFIER, origin=ORIGIN) == _CHECKPOINT


_OTHER_ORIGIN = "example.com/other"

# note, verifier, expected origin, error
SIGNED_CHECKPOINT_REJECTIONS: dict[str, tuple[str, NoteVerifier, str, type[Exception]]] = {
    "wrong-origin": (_SIGNED_CHECKPOINT, VERIFIER, _OTHER_ORIGIN, VerificationError),
    "other-origin-signed-by-the-log-key": (
        sign_checkpoint(Checkpoint(_OTHER_ORIGIN, 5, ROOT), SIGNER),
        VERIFIER,
        ORIGIN,
        VerificationError,
    ),
    "wrong-key": (_SIGNED_CHECKPOINT, OTHER.verifier, ORIGIN, InvalidSignature),
    "only-witness-signature": (sign_checkpoint(_CHECKPOINT, WITNESS), VERIFIER, ORIGIN, InvalidSignature),
    "tampered-size": (_SIGNED_CHECKPOINT.replace("\n5\n", "\n6\n"), VERIFIER, ORIGIN, InvalidSignature),
    "tampered-root": (_SIGNED_CHECKPOINT.replace("\nSBN", "\nSBM"), VERIFIER, ORIGIN, InvalidSignature),
    "signed-text-not-a-checkpoint": (sign_note("hello\n", SIGNER), VERIFIER, ORIGIN, MalformedCheckpoint),
    "signed-size-leading-zero": (
        sign_note(_checkpoint_text("05"), SIGNER),
        VERIFIER,
        ORIGIN,
        MalformedCheckpoint,
    ),
    "missing-final-newline": (_SIGNED_CHECKPOINT[:-1], VERIFIER, ORIGIN, MalformedCheckpoint),
    "missing-blank-line": (_SIGNED_CHECKPOINT.replace("\n\n", "\n"), VERIFIER, ORIGIN, MalformedCheckpoint),
    "crlf-line-endings": (_SIGNED_CHECKPOINT.replace("\n", "\r\n"), VERIFIER, ORIGIN, MalformedCheckpoint),
}


@pytest.mark.parametrize(
    "note,verifier,origin,error",
    SIGNED_CHECKPOINT_REJECTIONS.values(),
    ids=SIGNED_CHECKPOINT_REJECTIONS.keys(),
)
def test_signed_checkpoint_is_rejected(
    note: str, verifier: NoteVerifier, origin: str, error: type[Exception]
):
    with pytest.raises(error) as info:
        verify_checkpoint(note, verifier, origin=origin)
    if error is VerificationError:
        assert not isinstance(info.value, InvalidSignature)  # the signature is fine; the log is not


def test_every_single_bit_change_of_a_signed_checkpoint_is_rejected():
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT, ("ext",)), SIGNER).encode()
    accepted = []
    for bit in range(len(note) * 8):
        changed = bytearray(note)
        changed[bit // 8] ^= 1 << (bit % 8)
        try:
            text = changed.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text at all: no str to pass in
        try:
            verify_checkpoint(text, VERIFIER, origin=ORIGIN)
        except (MalformedCheckpoint, VerificationError):
            continue
        accepted.append(bit)
    assert accepted == []


def test_verify_checkpoint_rejects_bad_arguments():
    with pytest.raises(TypeError):
        verify_checkpoint(_SIGNED_CHECKPOINT, VERIFIER.to_text(), origin=ORIGIN)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_checkpoint(_SIGNED_CHECKPOINT, VERIFIER, origin=None)  # type: ignore[arg-type]


# -- rejections: keys -------------------------------------------------------------------

_VKEY = VERIFIER.to_text()
_vname, _vid, _vkey64 = _VKEY.split("+", 2)
_PUB = base64.b64decode(_vkey64)[1:]


def _vkey(name: str, key: bytes, alg: int = 1, key_id: str | None = None) -> str:
    raw = bytes([alg]) + key
    computed = int.from_bytes(hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4], "big")
    return f"{name}+{key_id or f'{computed:08x}'}+{_b64(raw)}"


VERIFIER_KEY_REJECTIONS = {
    "empty": "",
    "no-plus": _vname,
    "no-key": f"{_vname}+{_vid}",
    "short-key-id": f"{_vname}+{_vid[:7]}+{_vkey64}",
    "long-key-id": f"{_vname}+0{_vid}+{_vkey64}",
    "non-hex-key-id": f"{_vname}+{_vid[:7]}g+{_vkey64}",
    "wrong-key-id": _vkey(_vname, _PUB, key_id=f"{(VERIFIER.key_id ^ 1):08x}"),
    "algorithm-02": _vkey(_vname, _PUB, alg=2),
    "key-31-bytes": _vkey(_vname, _PUB[:31]),
    "key-33-bytes": _vkey(_vname, _PUB + b"\x00"),
    "empty-name": _vkey("", _PUB),
    "space-in-name": _vkey("example.com/a b", _PUB),
    "ideographic-space-in-name": _vkey("example.com/a\u3000b", _PUB),
    "key-extra-padding": _VKEY + "=",
    "key-url-safe-alphabet": _VKEY.replace("+", "-").replace("-", "+", 2),
    "signer-key": SIGNER.to_private_key_text(),
    "key-with-trailing-newline": _VKEY + "\n",
}


@pytest.mark.parametrize("vkey", VERIFIER_KEY_REJECTIONS.values(), ids=VERIFIER_KEY_REJECTIONS.keys())
def test_verifier_key_is_rejected(vkey: str):
    with pytest.raises(MalformedCheckpoint) as info:
        NoteVerifier.from_text(vkey)
    assert _SKEY.split("+", 4)[4] not in str(info.value)  # never echo a secret


def test_verifier_key_id_accepts_upper_case_hex_as_go_does():
    assert NoteVerifier.from_text(f"{_vname}+{_vid.upper()}+{_vkey64}") == VERIFIER


_SKEY = SIGNER.to_private_key_text()
_SEED = base64.b64decode(_SKEY.split("+", 4)[4])[1:]

SIGNER_KEY_REJECTIONS = {
    "verifier-key": _VKEY,
    "lower-case-prefix": _SKEY.replace("PRIVATE+KEY", "private+key"),
    "wrong-key-id": _SKEY.replace(f"+{SIGNER.key_id:08x}+", f"+{SIGNER.key_id ^ 1:08x}+"),
    "other-name": _SKEY.replace(ORIGIN, "example.com/other"),
    "algorithm-02": _SKEY.replace(_SKEY.split("+", 4)[4], _b64(b"\x02" + _SEED)),
    "seed-31-bytes": _SKEY.replace(_SKEY.split("+", 4)[4], _b64(b"\x01" + _SEED[:31])),
    "plus-in-name": f"PRIVATE+KEY+a+b+{SIGNER.key_id:08x}+{_SKEY.split('+', 4)[4]}",
}


@pytest.mark.parametrize("skey", SIGNER_KEY_REJECTIONS.values(), ids=SIGNER_KEY_REJECTIONS.keys())
def test_signer_key_is_rejected(skey: str):
    with pytest.raises(MalformedCheckpoint) as info:
        NoteSigner.from_private_key_text(skey)
    assert _SKEY.split("+", 4)[4] not in str(info.value)  # never echo the secret


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a+b", "a\tb", "a\nb", "a\xa0b", "a\u2003b", "a\u3000b", "a\x85b", "a\ud800b"],
    ids=["empty", "space", "plus", "tab", "newline", "nbsp", "em-space", "cjk-space", "nel", "surrogate"],
)
def test_invalid_key_name_is_rejected(name: str):
    with pytest.raises(MalformedCheckpoint):
        NoteSigner.generate(name)
    with pytest.raises(MalformedCheckpoint):
        NoteVerifier(name, _PUB)


def test_signer_repr_hides_the_key():
    assert "private" not in repr(SIGNER).lower()
    assert _SKEY.split("+", 4)[4] not in repr(SIGNER)


def test_verifier_verify_returns_none_or_raises():
    assert VERIFIER.verify(b"msg", SIGNER.sign(b"msg")) is None
    with pytest.raises(InvalidSignature):
        VERIFIER.verify(b"msg2", SIGNER.sign(b"msg"))
    with pytest.raises(InvalidSignature):
        VERIFIER.verify(b"msg", SIGNER.sign(b"msg")[:63])
    with pytest.raises(TypeError):
        VERIFIER.verify("msg", SIGNER.sign(b"msg"))  # type: ignore[arg-type]
