"""ledger.status_list against the W3C Bitstring Status List v1.0 material in
shared/vectors/bitstring-status-list/ (read in place; see its SOURCE.txt and CASES.md).

- ``spec-examples/``: the spec's own JSON. Both list credentials carry the same all-zero
  16 KB list; every entry parses, and ``status_entry`` writes each one back exactly.
- ``vcdm2-credential-status/``: the VCDM 2.0 suite's ``-ok`` / ``-fail`` inputs for the
  generic ``credentialStatus`` property. They are ``CredentialStatusList2017`` objects,
  so each is run twice: as shipped (a bitstring parser must refuse every one: a different
  status method), and with its ``id`` / ``type`` grafted onto a well-formed bitstring entry,
  where the suite's verdict must be ours, for the suite's reason.
- The statements CASES.md lists of the live test suite: each one that is about this
  module is a named mutation in ``ENTRY_MUTATIONS`` or a codec test below; the rest are in
  ``OUTSIDE_THIS_MODULE`` with the reason, and a test keeps that table true to CASES.md.
- The vectors hold no list with a set bit (SOURCE.txt: only the all-zero example), so bit
  order is checked against ``reference_bits``, an independent string-of-'0'/'1' reference,
  and against Python's own ``gzip`` reader and writer.
"""

import base64
import copy
import gzip
import json
import re
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import status_list
from ledger.errors import MalformedInput
from ledger.status_list import (
    MAX_LIST_BYTES, MIN_LENGTH, StatusEntry, decode_list, encode_list, is_set, parse_status_entry, status_entry,
    status_list_credential,
)  # fmt: skip

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
BSL = VECTORS / "bitstring-status-list"
SPEC = BSL / "spec-examples"
VCDM = BSL / "vcdm2-credential-status"
CONTEXT_V2 = VECTORS / "w3c" / "credentials-v2.jsonld"

SPEC_EMPTY_LIST = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"
EX3, EX4, EX5 = (f"https://example.com/credentials/status/{n}" for n in (3, 4, 5))

# The spec examples' entries, written out by hand: (statusListCredential, index, purpose).
SPEC_ENTRIES = {
    "revocable-credential.json": [(EX3, 94567, "revocation")],
    "credential-with-revocation-and-suspension-entries.json": [(EX3, 94567, "revocation"), (EX4, 23452, "suspension")],
    "credential-with-two-status-lists.json": [(EX3, 94567, "revocation"), (EX4, 12345, "suspension")],
    "credential-with-two-entries-one-list.json": [(EX5, 94567, "revocation"), (EX5, 12345, "suspension")],
}
SPEC_LISTS = ["status-list-credential.json", "bitstring-status-list-credential.json"]

# file -> (the suite's verdict, the property our refusal must name when grafted).
VCDM_CASES = {
    "credential-status-ok.json": ("ok", None),
    "credential-status-missing-id-ok.json": ("ok", None),
    "credential-status-missing-type-fail.json": ("fail", r"credentialStatus\.type"),
    "credential-status-multiple-id-fail.json": ("fail", r"credentialStatus\.id"),
    "credential-status-nonurl-id-fail.json": ("fail", r"credentialStatus\.id"),
    "credential-status-type-nonurl-fail.json": ("fail", r"credentialStatus\.type"),
}

# What CASES.md says the suite asserts (or the vectors carry) that this module does not
# check, and why. Keys are quoted from CASES.md (a test keeps them so).
OUTSIDE_THIS_MODULE = {
    "conforming VCDM 2.0 credentials": "the credential around the entry (@context, type, credentialSubject, "
    "validFrom) is the VC 2.0 parser's (ledger.untp, the passport kind); the list credential is built here but "
    "conformance of a received one is the caller's",
    "dereferences to a credential": "fetching statusListCredential is network I/O: the verifier's edge, not this pure module",
    "`statusSize`, if present, is an integer > 0; if > 1": "statusSize > 1 (and the per-value statusMessage it needs) "
    "is refused: the spec lets a processor support size 1 only; ENTRY_MUTATIONS checks 0, 2, true and '1' are refused",
    "CredentialStatusList2017": "another status method: the -ok files are refused as shipped (asserted) and run "
    "with their id/type grafted onto a bitstring entry",
    "MALFORMED_VALUE_ERROR": "an error code for an HTTP interface: here every refusal is MalformedInput",
}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def reference_bits(indexes, length: int) -> bytes:
    """The list as the spec draws it: a string of '0'/'1', index 0 at the left, read as
    one big-endian number. Shares no code (no shifts, no masks) with the module."""
    s = ["0"] * length
    for i in indexes:
        s[i] = "1"
    return int("".join(s), 2).to_bytes(length // 8, "big")


def b64url(raw: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def gunzip_ours(encoded: str) -> bytes:
    return base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))


GOOD = {"id": EX3 + "#94567", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
        "statusListIndex": "94567", "statusListCredential": EX3}  # fmt: skip


# -- the spec's examples --------------------------------------------------------------


def test_vector_files_are_all_there():
    assert sorted(p.name for p in SPEC.glob("*.json")) == sorted([*SPEC_ENTRIES, *SPEC_LISTS])
    assert sorted(p.name for p in VCDM.glob("*.json")) == sorted(VCDM_CASES)


@pytest.mark.parametrize("name", SPEC_LISTS)
def test_spec_empty_list_decodes_to_131072_zero_bits_as_ours_does(name):
    # Compare decoded bits, not the strings: another GZIP writer may deflate the same bits
    # to other bytes, and both are the same list.
    subject = load(SPEC / name)["credentialSubject"]
    assert subject["encodedList"] == SPEC_EMPTY_LIST
    bits = decode_list(subject["encodedList"])
    assert len(bits) * 8 == MIN_LENGTH == 131072
    assert bits == bytes(MIN_LENGTH // 8) == decode_list(encode_list([]))
    assert not any(is_set(bits, i) for i in (0, 94567, MIN_LENGTH - 1))


def test_empty_list_is_the_spec_example_byte_for_byte():
    # Our fixed GZIP header (MTIME 0, XFL 0, OS 3) and level 6 are zlib's defaults, which
    # made the spec's example. The header is ours whatever zlib runs; the DEFLATE body is
    # the linked zlib's, and classic zlib has deflated this way for decades.
    ours = encode_list([])
    assert gunzip_ours(ours)[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    if "ng" not in zlib.ZLIB_RUNTIME_VERSION:
        assert ours == SPEC_EMPTY_LIST


@pytest.mark.parametrize("name", sorted(SPEC_ENTRIES))
def test_spec_entries_parse_and_are_rebuilt_exactly(name):
    raw = load(SPEC / name)["credentialStatus"]
    entries = raw if isinstance(raw, list) else [raw]
    assert [parse_status_entry(e) for e in entries] == [StatusEntry(*t) for t in SPEC_ENTRIES[name]]
    assert [status_entry(*t) for t in SPEC_ENTRIES[name]] == entries
    # The spec's validation algorithm for the status/3 entries against the status/3 list.
    bits = decode_list(load(SPEC / "bitstring-status-list-credential.json")["credentialSubject"]["encodedList"])
    assert not any(is_set(bits, e.index) for e in map(parse_status_entry, entries) if e.list_url == EX3)


def test_list_credential_is_the_spec_example():
    theirs = load(SPEC / "bitstring-status-list-credential.json")
    ours = status_list_credential(EX3, "did:example:12345", [], valid_from="2021-04-05T14:27:40Z")
    # Two deliberate differences: the subject id is <list URL>#list (the example's is
    # https://example.com/status/3#list, a URL of another path), and encodedList is
    # compared as bits.
    assert ours["credentialSubject"].pop("id") == EX3 + "#list"
    assert theirs["credentialSubject"].pop("id") == "https://example.com/status/3#list"
    assert decode_list(ours["credentialSubject"].pop("encodedList")) == decode_list(
        theirs["credentialSubject"].pop("encodedList")
    )
    assert ours == theirs


def test_every_term_we_write_or_accept_is_in_the_vc2_context():
    ctx = load(CONTEXT_V2)["@context"]
    entry_terms = set(ctx["BitstringStatusListEntry"]["@context"]) - {"@protected"}
    list_terms = set(ctx["BitstringStatusList"]["@context"]) - {"@protected"}
    assert set(status_entry(EX3, 1)) <= entry_terms
    assert status_list._ENTRY_KEYS == entry_terms  # we accept exactly the members the context defines
    cred = status_list_credential(EX3, "did:example:12345", [1], valid_from="2021-04-05T14:27:40Z")
    assert set(cred) <= set(ctx) | set(ctx["VerifiableCredential"]["@context"]) | {"@context"}
    assert {*cred["type"], cred["credentialSubject"]["type"], status_entry(EX3, 1)["type"]} <= set(ctx)
    assert set(cred["credentialSubject"]) <= list_terms


# -- the VCDM 2.0 credentialStatus inputs ----------------------------------------------


def graft(status: dict) -> dict:
    """A well-formed bitstring entry carrying the vector's own ``id`` and ``type`` (or
    lacking them where it does); its valid non-bitstring type becomes ours."""
    entry = {k: v for k, v in GOOD.items() if k not in ("id", "type")}
    for key in ("id", "type"):
        if key in status:
            entry[key] = "BitstringStatusListEntry" if status[key] == "CredentialStatusList2017" else status[key]
    return entry


@pytest.mark.parametrize("name", sorted(VCDM_CASES))
def test_vcdm_case_grafted_onto_a_bitstring_entry(name):
    verdict, reason = VCDM_CASES[name]
    entry = graft(load(VCDM / name)["credentialStatus"])
    if verdict == "ok":
        assert parse_status_entry(entry) == StatusEntry(EX3, 94567, "revocation")
    else:
        with pytest.raises(MalformedInput, match=reason):
            parse_status_entry(entry)


@pytest.mark.parametrize("name", sorted(VCDM_CASES))
def test_vcdm_case_as_shipped_is_refused(name):
    # No VCDM input is a BitstringStatusListEntry: the -ok ones for their type, the -fail
    # ones for the suite's reason (checked first).
    verdict, reason = VCDM_CASES[name]
    with pytest.raises(MalformedInput, match=reason or r"credentialStatus\.type: expected 'BitstringStatusListEntry'"):
        parse_status_entry(load(VCDM / name)["credentialStatus"])


def test_outside_table_quotes_cases_md():
    text = (BSL / "CASES.md").read_text(encoding="utf-8")
    for statement in OUTSIDE_THIS_MODULE:
        assert statement in text, statement


# -- entries: the suite's statements as named mutations of a good entry ----------------


def _with(**changes):
    def mutate(e):
        for k, v in changes.items():
            if v is KeyError:
                del e[k]
            else:
                e[k] = v
    return mutate


ENTRY_MUTATIONS = {  # name -> (mutation, None if accepted else the regex of the refusal)
    "no-id": (_with(id=KeyError), None),
    "id-is-the-list": (_with(id=EX3), r"id: expected the entry's own URL"),
    "id-with-space": (_with(id="https ://x/4"), r"\.id: expected a URL"),
    "id-trailing-newline": (_with(id=EX3 + "#1\n"), r"\.id: expected a URL"),
    "type-array": (_with(type=["BitstringStatusListEntry"]), r"\.type: expected"),
    "type-other": (_with(type="StatusList2021Entry"), r"\.type: expected"),
    "purpose-missing": (_with(statusPurpose=KeyError), r"statusPurpose: expected a non-empty string"),
    "purpose-empty": (_with(statusPurpose=""), r"statusPurpose"),
    "purpose-array": (_with(statusPurpose=["revocation"]), r"statusPurpose"),
    "purpose-suspension": (_with(statusPurpose="suspension"), None),
    "index-zero": (_with(statusListIndex="0"), None),
    "index-20-digits": (_with(statusListIndex="9" * 20), None),
    "index-21-digits": (_with(statusListIndex="1" + "0" * 20), r"statusListIndex"),
    "index-number": (_with(statusListIndex=94567), r"statusListIndex: expected a base-10 string"),
    "index-negative": (_with(statusListIndex="-1"), r"statusListIndex"),
    "index-leading-zero": (_with(statusListIndex="094567"), r"statusListIndex"),
    "index-plus": (_with(statusListIndex="+1"), r"statusListIndex"),
    "index-hex": (_with(statusListIndex="0x10"), r"statusListIndex"),
    "index-arabic-digits": (_with(statusListIndex="\u0661\u0662"), r"statusListIndex"),
    "index-trailing-newline": (_with(statusListIndex="1\n"), r"statusListIndex"),
    "index-missing": (_with(statusListIndex=KeyError), r"statusListIndex"),
    "list-missing": (_with(statusListCredential=KeyError), r"statusListCredential: expected a URL"),
    "list-not-url": (_with(statusListCredential="example.com/status/3"), r"statusListCredential"),
    "list-array": (_with(statusListCredential=[EX3]), r"statusListCredential"),
    "size-1": (_with(statusSize=1), None),
    "size-0": (_with(statusSize=0), r"statusSize: expected 1"),
    "size-2": (_with(statusSize=2), r"statusSize: expected 1"),
    "size-true": (_with(statusSize=True), r"statusSize"),
    "size-string": (_with(statusSize="1"), r"statusSize"),
    "message-two": (_with(statusMessage=[{"status": "0x0", "message": "valid"},
                                         {"status": "0x1", "message": "revoked"}]), None),  # fmt: skip
    "message-one": (_with(statusMessage=[{"status": "0x0", "message": "valid"}]), r"statusMessage"),
    "message-bad-status": (_with(statusMessage=[{"status": "0", "message": "a"},
                                                {"status": "1", "message": "b"}]), r"statusMessage"),  # fmt: skip
    "reference-url": (_with(statusReference="https://example.org/status-dictionary/"), None),
    "reference-urls": (_with(statusReference=["https://a.example/", "https://b.example/"]), None),
    "reference-empty-array": (_with(statusReference=[]), r"statusReference"),
    "reference-not-url": (_with(statusReference="not a url"), r"statusReference"),
    "unknown-member": (_with(ttl=900), r"expected only the spec's members, got 'ttl'"),
}


@pytest.mark.parametrize("name", sorted(ENTRY_MUTATIONS))
def test_entry_mutation(name):
    mutate, refusal = ENTRY_MUTATIONS[name]
    entry = copy.deepcopy(GOOD)
    mutate(entry)
    if refusal is None:
        assert isinstance(parse_status_entry(entry), StatusEntry)
    else:
        with pytest.raises(MalformedInput, match=refusal):
            parse_status_entry(entry)


@pytest.mark.parametrize("value", [None, [GOOD], "x", 1])
def test_entry_not_an_object(value):
    with pytest.raises(MalformedInput, match="expected an object"):
        parse_status_entry(value)


@given(st.integers(0, 10**20 - 1), st.sampled_from(["revocation", "suspension", "message", "x"]))
def test_status_entry_round_trips(index, purpose):
    assert parse_status_entry(status_entry(EX3, index, purpose)) == StatusEntry(EX3, index, purpose)


@pytest.mark.parametrize("args, match", [
    ((EX3 + "#x", 1), "without a fragment"), (("not a url", 1), "URL"), ((EX3, -1), "0 <= index"),
    ((EX3, 10**20), "0 <= index"), ((EX3, True), "expected an int"), ((EX3, "1"), "expected an int"),
    ((EX3, 1, ""), "statusPurpose"),
])  # fmt: skip
def test_status_entry_refuses(args, match):
    with pytest.raises(MalformedInput, match=match):
        status_entry(*args)


# -- the codec: properties -------------------------------------------------------------

LENGTHS = st.sampled_from([MIN_LENGTH, MIN_LENGTH + 8, 3 * MIN_LENGTH])


@st.composite
def lists(draw):
    length = draw(LENGTHS)
    return length, draw(st.lists(st.integers(0, length - 1), max_size=200))


@settings(deadline=None, max_examples=60)
@given(lists())
def test_decode_encode_sets_exactly_those_bits(case):
    length, revoked = case
    encoded = encode_list(revoked, length)
    bits = decode_list(encoded)
    assert bits == reference_bits(revoked, length)
    assert gzip.decompress(gunzip_ours(encoded)) == bits  # any GZIP reader reads ours
    s = set(revoked)
    for i in {*s, *(j + 1 for j in s if j + 1 < length), 0, length - 1}:
        assert is_set(bits, i) == (i in s), i


@settings(deadline=None, max_examples=40)
@given(lists())
def test_encode_is_deterministic(case):
    length, revoked = case
    once = encode_list(revoked, length)
    assert once == encode_list(revoked, length)
    assert once == encode_list(sorted(set(revoked), reverse=True), length)  # order and repeats do not matter
    assert once == encode_list(iter(revoked + revoked), length)
    # The fixed choices: our header, then the DEFLATE body and trailer zlib writes at level 6
    # (the stdlib's gzip writer, same zlib, is the reference; its header differs).
    member = gunzip_ours(once)
    assert member[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    assert member[10:] == gzip.compress(reference_bits(revoked, length), compresslevel=6, mtime=0)[10:]


@settings(deadline=None, max_examples=40)
@given(lists(), st.integers(0, 9), st.integers(0, 2**32 - 1))
def test_decode_reads_other_gzip_writers(case, level, mtime):
    length, revoked = case
    bits = reference_bits(revoked, length)
    assert decode_list(b64url(gzip.compress(bits, compresslevel=level, mtime=mtime))) == bits


@pytest.mark.parametrize("index, byte, value", [
    (0, 0, 0x80), (1, 0, 0x40), (7, 0, 0x01), (8, 1, 0x80), (94567, 11820, 0x01), (MIN_LENGTH - 1, 16383, 0x01),
])  # fmt: skip
def test_bit_order_is_msb_first(index, byte, value):
    bits = decode_list(encode_list([index]))
    assert bits[byte] == value and sum(bits) == value


# -- the codec: bad input --------------------------------------------------------------


def _gz_members(*parts: bytes) -> str:
    return b64url(b"".join(gzip.compress(p, mtime=0) for p in parts))


_FULL = gunzip_ours(encode_list([5]))
DECODE_REFUSALS = {
    "empty": ("", r"'u' prefix"),
    "no-prefix": (SPEC_EMPTY_LIST[1:], r"'u' prefix"),
    "base58btc-prefix": ("z" + SPEC_EMPTY_LIST[1:], r"'u' prefix"),
    "base64pad-prefix": ("M" + SPEC_EMPTY_LIST[1:], r"'u' prefix"),
    "not-a-string": (SPEC_EMPTY_LIST.encode(), r"'u' prefix"),
    "standard-alphabet": (SPEC_EMPTY_LIST.replace("-", "+"), r"base64url without padding"),
    "padded": (SPEC_EMPTY_LIST + "==", r"base64url without padding"),
    "space": (SPEC_EMPTY_LIST[:10] + " " + SPEC_EMPTY_LIST[10:], r"base64url"),
    "trailing-newline": (SPEC_EMPTY_LIST + "\n", r"base64url"),
    "one-char-too-many": (SPEC_EMPTY_LIST + "A", r"bad length"),  # 69 characters: no base64 has 4n+1
    "non-zero-trailing-bits": ("u" + "A" * 21 + "B", r"canonical"),  # 16 bytes, then a stray bit
    "truncated-gzip": (b64url(_FULL[:-8]), r"truncated"),
    "truncated-header": (b64url(_FULL[:5]), r"truncated|GZIP"),
    "bad-crc": (b64url(_FULL[:-8] + bytes([_FULL[-8] ^ 1]) + _FULL[-7:]), r"GZIP stream"),
    "zlib-not-gzip": (b64url(zlib.compress(bytes(16384))), r"GZIP stream"),
    "raw-deflate": (b64url(_FULL[10:-8]), r"GZIP stream"),
    "trailing-garbage": (b64url(_FULL + b"\x00"), r"one GZIP member"),
    "two-members": (_gz_members(bytes(8192), bytes(8192)), r"one GZIP member"),
    "short-list": (_gz_members(bytes(16383)), r"at least 16384 bytes"),
    "empty-list": (_gz_members(b""), r"at least 16384 bytes"),
}


@pytest.mark.parametrize("name", sorted(DECODE_REFUSALS))
def test_decode_refuses(name):
    encoded, match = DECODE_REFUSALS[name]
    with pytest.raises(MalformedInput, match=match):
        decode_list(encoded)


def test_one_char_too_many_is_the_bad_length_case():
    assert len(DECODE_REFUSALS["one-char-too-many"][0][1:]) % 4 == 1


def test_cap_is_exact():
    assert len(decode_list(_gz_members(bytes(MAX_LIST_BYTES)))) == MAX_LIST_BYTES
    with pytest.raises(MalformedInput, match=f"at most {MAX_LIST_BYTES} bytes"):
        decode_list(_gz_members(bytes(MAX_LIST_BYTES + 1)))


def test_gzip_bomb_is_refused_without_inflating_it():
    chunk, z = bytes(1 << 20), zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b64url(b"".join(z.compress(chunk) for _ in range(100)) + z.flush())  # 100 MiB of zeros
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(MalformedInput, match=re.escape(f"at most {MAX_LIST_BYTES} bytes decompressed")):
            decode_list(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_LIST_BYTES, peak  # 100 MiB inflated would be 6 times this


def test_oversized_text_is_refused_before_decoding():
    with pytest.raises(MalformedInput, match=f"at most {status_list._MAX_ENCODED} characters"):
        decode_list("u" + "A" * (status_list._MAX_ENCODED + 3))  # well-formed base64url, one char too long


@pytest.mark.parametrize("revoked, length, match", [
    ([-1], MIN_LENGTH, "0 <= index"), ([MIN_LENGTH], MIN_LENGTH, "0 <= index"),
    ([MIN_LENGTH + 8], MIN_LENGTH + 8, "0 <= index"), ([True], MIN_LENGTH, "expected an int"),
    (["1"], MIN_LENGTH, "expected an int"), ([1.0], MIN_LENGTH, "expected an int"),
    ([], MIN_LENGTH - 8, "list length"), ([], MIN_LENGTH + 1, "list length"),
    ([], 8 * MAX_LIST_BYTES + 8, "list length"), ([], float(MIN_LENGTH), "list length"),
])  # fmt: skip
def test_encode_refuses(revoked, length, match):
    with pytest.raises(MalformedInput, match=match):
        encode_list(revoked, length)


@pytest.mark.parametrize("index", [-1, MIN_LENGTH, True, "0", 1.0])
def test_is_set_refuses_out_of_range(index):
    with pytest.raises(MalformedInput, match="statusListIndex"):
        is_set(bytes(MIN_LENGTH // 8), index)


@pytest.mark.parametrize("kwargs, match", [
    ({"valid_from": "2021-04-05T14:27:40+01:00"}, "validFrom"), ({"valid_from": "2021-04-05T14:27:40Z\n"}, "validFrom"),
    ({"valid_from": "2021-04-05"}, "validFrom"), ({"issuer": "not a url"}, "issuer"),
    ({"list_url": EX3 + "#list"}, "without a fragment"), ({"purpose": ""}, "statusPurpose"),
    ({"revoked": [MIN_LENGTH]}, "0 <= index"), ({"length": 1000}, "list length"),
])  # fmt: skip
def test_status_list_credential_refuses(kwargs, match):
    args = {"list_url": EX3, "issuer": "did:example:12345", "revoked": [], "valid_from": "2021-04-05T14:27:40Z"} | kwargs
    with pytest.raises(MalformedInput, match=match):
        status_list_credential(**args)


def test_status_list_credential_carries_the_revocations():
    cred = status_list_credential(EX3, "did:example:12345", [3, 94567], valid_from="2021-04-05T14:27:40Z",
                                  purpose="suspension")  # fmt: skip
    assert cred["credentialSubject"]["statusPurpose"] == "suspension"
    assert decode_list(cred["credentialSubject"]["encodedList"]) == reference_bits([3, 94567], MIN_LENGTH)
