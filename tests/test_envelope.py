"""ledger.envelope: the signed record — format, EIP-712 signing, verification, commitments.

Real secp256k1 keys (coincurve), no mocks. Every rejection test is named after the
mutation it applies to a validly signed envelope.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import coincurve
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.canonical import canonicalize
from ledger.eip712 import (
    encode_type,
    hash_domain,
    hash_typed_data,
    keccak256,
    to_checksum_address,
)
from ledger.envelope import (
    MAX_PARENTS,
    RECORD_TYPE,
    RECORD_TYPES,
    ZERO_ADDRESS,
    Domain,
    Envelope,
    address_of,
    make_commitment,
    new_salt,
    parse_issued_at,
    record_digest,
    sign_envelope,
    verify_commitment,
    verify_envelope,
)
from ledger.errors import (
    InvalidSignature,
    MalformedEnvelope,
    MalformedInput,
    MalformedJSON,
    VerificationError,
)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ALICE = keccak256(b"alice")
BOB = keccak256(b"bob")
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # anvil's first deployment
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
DOMAIN = Domain(chain_id=31337, verifying_contract=CONTRACT)
ORIGIN = "ledger.example.com/space-1"
PARENTS = tuple(hashlib.sha256(bytes([i])).hexdigest() for i in range(3))


def make(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "log": ORIGIN,
        "kind": "pcf",
        "id": "01JDZ7Q6N8X4R0M5V2C9T1B3KA",
        "issued_at": "2026-11-27T10:00:00Z",
        "commitment": make_commitment({"pcf": "12.5"}, b"\x01" * 32),
        "parents": PARENTS,
        "private_key": ALICE,
        "domain": DOMAIN,
    }
    fields.update(overrides)
    return sign_envelope(**fields)


@pytest.fixture(scope="module")
def envelope() -> Envelope:
    return make()


def split(sig: str) -> tuple[int, int, int]:
    raw = bytes.fromhex(sig[2:])
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]


def join(r: int, s: int, v: int) -> str:
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))).hex()


def with_sig(envelope: Envelope, r: int, s: int, v: int) -> Envelope:
    return dataclasses.replace(envelope, sig=join(r, s, v))


# -- signing and verifying ------------------------------------------------------------


def test_sign_then_verify(envelope: Envelope):
    assert envelope.author == address_of(ALICE)
    assert verify_envelope(envelope, DOMAIN) is None


def test_address_of_cow_key_matches_eip712_example():
    assert address_of(keccak256(b"cow")) == "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"


def test_signatures_are_low_s_with_v_27_or_28():
    seen_v = set()
    for i in range(64):
        r, s, v = split(make(id=f"record-{i}").sig)
        assert 0 < r < N and 0 < s <= N // 2
        seen_v.add(v)
    assert seen_v == {27, 28}


def test_signing_is_deterministic(envelope: Envelope):
    assert make() == envelope  # RFC 6979 nonces


def test_parents_may_be_given_as_bytes(envelope: Envelope):
    assert make(parents=[bytes.fromhex(p) for p in PARENTS]) == envelope


def test_no_parents():
    verify_envelope(make(parents=()), DOMAIN)


def test_max_parents():
    parents = [hashlib.sha256(i.to_bytes(2, "big")).digest() for i in range(MAX_PARENTS)]
    verify_envelope(make(parents=parents), DOMAIN)
    with pytest.raises(MalformedEnvelope, match="at most 256"):
        make(parents=parents + [b"\xff" * 32])


def test_signature_by_someone_else_is_rejected_naming_both(envelope: Envelope):
    # Bob signs a record that names Alice as its author.
    fields = envelope.to_json()
    del fields["v"], fields["sig"]
    rsv = coincurve.PrivateKey(BOB).sign_recoverable(record_digest(DOMAIN, **fields), hasher=None)
    impostor = dataclasses.replace(envelope, sig="0x" + (rsv[:64] + bytes((27 + rsv[64],))).hex())
    expected = f"signature is by {address_of(BOB)}, not by the author {address_of(ALICE)}"
    with pytest.raises(InvalidSignature, match=expected):
        verify_envelope(impostor, DOMAIN)


def test_author_changed_is_rejected(envelope: Envelope):
    # The author is signed too: another author means another digest, so recovery gives
    # an unrelated address.
    wrong = dataclasses.replace(envelope, author=address_of(BOB))
    expected = f"signature is by 0x[0-9a-fA-F]{{40}}, not by the author {address_of(BOB)}"
    with pytest.raises(InvalidSignature, match=expected):
        verify_envelope(wrong, DOMAIN)


# -- replay across logs and deployments -------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        Domain(chain_id=1, verifying_contract=CONTRACT),
        Domain(chain_id=31338, verifying_contract=CONTRACT),
        Domain(chain_id=31337, verifying_contract=OTHER_CONTRACT),
    ],
    ids=["other-chain-1", "other-chain-31338", "other-contract"],
)
def test_signature_is_bound_to_its_domain(envelope: Envelope, domain: Domain):
    with pytest.raises(InvalidSignature, match="not by the author"):
        verify_envelope(envelope, domain)


def test_signature_is_bound_to_its_log(envelope: Envelope):
    other_log = make(log="ledger.example.com/space-2")
    verify_envelope(other_log, DOMAIN)
    replayed = dataclasses.replace(envelope, log=other_log.log)
    with pytest.raises(InvalidSignature, match="not by the author"):
        verify_envelope(replayed, DOMAIN)


# -- every signed field changed after signing ---------------------------------------------

CHANGES: dict[str, Any] = {
    "log": lambda e: {"log": e.log + "x"},
    "kind": lambda e: {"kind": "passport"},
    "id": lambda e: {"id": e.id + "0"},
    "author": lambda e: {"author": address_of(BOB)},
    "issued_at": lambda e: {"issued_at": "2026-11-27T10:00:01Z"},
    "issued_at-same-instant-other-text": lambda e: {"issued_at": "2026-11-27T10:00:00.0Z"},
    "commitment": lambda e: {"commitment": make_commitment({"pcf": "12.6"}, b"\x01" * 32)},
    "commitment-other-salt": lambda e: {"commitment": make_commitment({"pcf": "12.5"}, b"\x02" * 32)},
    "parents[0]": lambda e: {"parents": ("ff" * 32,) + e.parents[1:]},
    "parents[1]": lambda e: {"parents": e.parents[:1] + ("ff" * 32,) + e.parents[2:]},
    "parents[2]": lambda e: {"parents": e.parents[:2] + ("ff" * 32,)},
    "parents-dropped": lambda e: {"parents": e.parents[:2]},
    "parents-added": lambda e: {"parents": e.parents + ("ff" * 32,)},
    "parents-reordered": lambda e: {"parents": e.parents[::-1]},
    "parents-emptied": lambda e: {"parents": ()},
    "sig-r-bit": lambda e: {"sig": e.sig[:10] + ("0" if e.sig[10] != "0" else "1") + e.sig[11:]},
    "sig-s-changed": lambda e: {"sig": join(split(e.sig)[0], split(e.sig)[1] - 1, split(e.sig)[2])},
    "sig-v-flipped": lambda e: {"sig": join(split(e.sig)[0], split(e.sig)[1], 55 - split(e.sig)[2])},
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_field_changed_after_signing_is_rejected(envelope: Envelope, change: str):
    changed = dataclasses.replace(envelope, **CHANGES[change](envelope))
    assert changed != envelope
    with pytest.raises(InvalidSignature):
        verify_envelope(changed, DOMAIN)


def test_every_signed_field_is_covered_by_a_change():
    signed = {f.name for f in dataclasses.fields(Envelope)} - {"v", "sig"}
    assert signed <= {c.split("[")[0].split("-")[0] for c in CHANGES}


# -- non-canonical and malformed signatures -------------------------------------------------


def test_high_s_twin_is_rejected(envelope: Envelope):
    r, s, v = split(envelope.sig)
    twin = with_sig(envelope, r, N - s, 55 - v)
    # The twin is a mathematically valid signature by the same key ...
    raw = bytes.fromhex(twin.sig[2:])
    recovered = coincurve.PublicKey.from_signature_and_message(
        raw[:64] + bytes((raw[64] - 27,)), envelope.signing_digest(DOMAIN), hasher=None
    )
    assert to_checksum_address(keccak256(recovered.format(compressed=False)[1:])[12:]) == envelope.author
    # ... and is refused because it is not canonical.
    with pytest.raises(InvalidSignature, match="high"):
        verify_envelope(twin, DOMAIN)


@pytest.mark.parametrize("v", [0, 1, 2, 26, 29, 35, 255])
def test_v_other_than_27_28_is_rejected(envelope: Envelope, v: int):
    r, s, _ = split(envelope.sig)
    with pytest.raises(InvalidSignature, match=f"v must be 27 or 28, got {v}"):
        verify_envelope(with_sig(envelope, r, s, v), DOMAIN)


@pytest.mark.parametrize(
    ("which", "value", "message"),
    [
        ("r", 0, "r is not in"),
        ("r", N, "r is not in"),
        ("r", 2**256 - 1, "r is not in"),
        ("s", 0, "s is not in"),
        ("s", N, "s is not in"),
        ("s", 2**256 - 1, "s is not in"),
        ("s", N // 2 + 1, "high"),
    ],
    ids=["r-zero", "r-n", "r-max", "s-zero", "s-n", "s-max", "s-half-n-plus-1"],
)
def test_r_s_out_of_range_are_rejected(envelope: Envelope, which: str, value: int, message: str):
    r, s, v = split(envelope.sig)
    r, s = (value, s) if which == "r" else (r, value)
    with pytest.raises(InvalidSignature, match=message):
        verify_envelope(with_sig(envelope, r, s, v), DOMAIN)


def test_signature_that_recovers_no_key_is_rejected(envelope: Envelope):
    # r = 5 is not the x coordinate of a secp256k1 point (5**3 + 7 is not a square mod p).
    with pytest.raises(InvalidSignature, match="does not recover"):
        verify_envelope(with_sig(envelope, 5, 5, 27), DOMAIN)


def test_zero_address_author_is_rejected(envelope: Envelope):
    data = envelope.to_json() | {"author": ZERO_ADDRESS}
    with pytest.raises(MalformedEnvelope, match="envelope.author: expected a non-zero address"):
        Envelope.from_json(data)
    # Even an Envelope forced past its constructor does not verify.
    forced = dataclasses.replace(envelope)
    object.__setattr__(forced, "author", ZERO_ADDRESS)
    with pytest.raises(InvalidSignature, match="zero address"):
        verify_envelope(forced, DOMAIN)


@pytest.mark.parametrize(
    "sig",
    [
        lambda s: s[:-2],  # truncated by one byte
        lambda s: s[:-1],  # odd length
        lambda s: s + "00",  # one extra byte
        lambda s: s[2:],  # no 0x
        lambda s: "0X" + s[2:],
        lambda s: s.upper().replace("0X", "0x"),
        lambda s: "",
    ],
    ids=["truncated", "odd-length", "extra-byte", "no-0x", "0X", "uppercase", "empty"],
)
def test_malformed_sig_is_rejected_as_malformed(envelope: Envelope, sig: Any):
    with pytest.raises(MalformedEnvelope, match="envelope.sig"):
        Envelope.from_json(envelope.to_json() | {"sig": sig(envelope.sig)})


def test_verify_rejects_wrong_argument_types(envelope: Envelope):
    with pytest.raises(TypeError):
        verify_envelope(envelope.to_json(), DOMAIN)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify_envelope(envelope, {"chainId": 1})  # type: ignore[arg-type]


# -- agreement with the generic encoder and eth-account ---------------------------------------


def test_record_type_string():
    assert encode_type("Record", RECORD_TYPES) == RECORD_TYPE


def test_domain_separator_agrees_with_generic_encoder():
    assert DOMAIN.separator == hash_domain(DOMAIN.to_json(), RECORD_TYPES)
    assert DOMAIN.separator == hash_domain(DOMAIN.to_json())


def test_fast_digest_agrees_with_generic_encoder_and_eth_account(envelope: Envelope):
    typed = envelope.typed_data(DOMAIN)
    signable = encode_typed_data(full_message=typed)
    digest = envelope.signing_digest(DOMAIN)
    assert digest == hash_typed_data(typed)
    assert digest == keccak256(b"\x19" + signable.version + signable.header + signable.body)


def test_eth_account_makes_the_same_signature_and_recovers_the_author(envelope: Envelope):
    signable = encode_typed_data(full_message=envelope.typed_data(DOMAIN))
    assert "0x" + Account.sign_message(signable, ALICE).signature.hex().removeprefix("0x") == envelope.sig
    assert Account.recover_message(signable, signature=bytes.fromhex(envelope.sig[2:])) == envelope.author


def test_record_digest_for_external_signers(envelope: Envelope):
    fields = envelope.to_json()
    del fields["v"], fields["sig"]
    assert record_digest(DOMAIN, **fields) == envelope.signing_digest(DOMAIN)
    # A signature made elsewhere over that digest builds a verifying Envelope.
    digest = record_digest(DOMAIN, **fields | {"author": address_of(BOB)})
    rsv = coincurve.PrivateKey(BOB).sign_recoverable(digest, hasher=None)
    external = Envelope(**fields | {"v": 1, "author": address_of(BOB), "parents": tuple(fields["parents"]),
                                    "sig": "0x" + (rsv[:64] + bytes((27 + rsv[64],))).hex()})  # fmt: skip
    verify_envelope(external, DOMAIN)


# -- the JSON form -------------------------------------------------------------------------


def test_to_bytes_is_jcs_and_leaf_hash_is_rfc9162(envelope: Envelope):
    data = envelope.to_bytes()
    assert data == canonicalize(envelope.to_json())
    assert data.startswith(b'{"author":"0x') and data.endswith(b',"v":1}')
    assert envelope.leaf_hash() == merkle.leaf_hash(data) == hashlib.sha256(b"\x00" + data).digest()


def test_from_json_accepts_bytes_str_and_objects(envelope: Envelope):
    assert Envelope.from_json(envelope.to_bytes()) == envelope
    assert Envelope.from_json(envelope.to_bytes().decode()) == envelope
    assert Envelope.from_json(envelope.to_json()) == envelope


def test_envelope_is_immutable(envelope: Envelope):
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.kind = "x"  # type: ignore[misc]


def test_issued_at_datetime(envelope: Envelope):
    assert envelope.issued_at_datetime().isoformat() == "2026-11-27T10:00:00+00:00"
    assert parse_issued_at("2026-02-28T23:59:59.123456789Z").microsecond == 123456


GOOD = {
    "v": 1,
    "log": ORIGIN,
    "kind": "pcf",
    "id": "a",
    "author": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "issued_at": "2026-11-27T10:00:00Z",
    "commitment": "sha256:" + "ab" * 32,
    "parents": list(PARENTS),
    "sig": "0x" + "11" * 65,
}

BAD_FIELDS: list[tuple[str, str, object]] = [
    # what it breaks, field, value
    ("v-2", "v", 2),
    ("v-0", "v", 0),
    ("v-true", "v", True),
    ("v-str", "v", "1"),
    ("v-float", "v", 1.0),
    ("log-empty", "log", ""),
    ("log-space", "log", "example.com/a log"),
    ("log-plus", "log", "example.com/a+b"),
    ("log-newline", "log", "example.com/log\n"),
    ("log-non-ascii", "log", "exämple.com/log"),
    ("log-256-chars", "log", "a" * 256),
    ("log-int", "log", 7),
    ("kind-uppercase", "kind", "PCF"),
    ("kind-leading-digit", "kind", "1pcf"),
    ("kind-leading-underscore", "kind", "_pcf"),
    ("kind-hyphen", "kind", "access-event"),
    ("kind-33-chars", "kind", "a" * 33),
    ("kind-empty", "kind", ""),
    ("kind-trailing-newline", "kind", "pcf\n"),
    ("kind-null", "kind", None),
    ("id-empty", "id", ""),
    ("id-129-chars", "id", "a" * 129),
    ("id-space", "id", "a b"),
    ("id-slash", "id", "a/b"),
    ("id-non-ascii", "id", "ä"),
    ("id-trailing-newline", "id", "abc\n"),
    ("id-int", "id", 5),
    ("author-lowercase", "author", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
    ("author-uppercase", "author", "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED"),
    ("author-wrong-checksum", "author", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
    ("author-no-0x", "author", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    ("author-short", "author", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA"),
    ("author-zero", "author", ZERO_ADDRESS),
    ("issued_at-no-z", "issued_at", "2026-11-27T10:00:00"),
    ("issued_at-offset", "issued_at", "2026-11-27T10:00:00+00:00"),
    ("issued_at-lowercase-z", "issued_at", "2026-11-27T10:00:00z"),
    ("issued_at-lowercase-t", "issued_at", "2026-11-27t10:00:00Z"),
    ("issued_at-space", "issued_at", "2026-11-27 10:00:00Z"),
    ("issued_at-no-seconds", "issued_at", "2026-11-27T10:00Z"),
    ("issued_at-feb-30", "issued_at", "2026-02-30T10:00:00Z"),
    ("issued_at-hour-24", "issued_at", "2026-11-27T24:00:00Z"),
    ("issued_at-leap-second", "issued_at", "2016-12-31T23:59:60Z"),
    ("issued_at-year-0", "issued_at", "0000-01-01T00:00:00Z"),
    ("issued_at-10-fraction-digits", "issued_at", "2026-11-27T10:00:00.1234567890Z"),
    ("issued_at-empty-fraction", "issued_at", "2026-11-27T10:00:00.Z"),
    ("issued_at-unicode-digits", "issued_at", "٢٠٢٦-11-27T10:00:00Z"),
    ("issued_at-int", "issued_at", 1764237600),
    ("commitment-uppercase", "commitment", "sha256:" + "AB" * 32),
    ("commitment-no-prefix", "commitment", "ab" * 32),
    ("commitment-other-algorithm", "commitment", "sha512:" + "ab" * 32),
    ("commitment-short", "commitment", "sha256:" + "ab" * 31),
    ("commitment-0x", "commitment", "0x" + "ab" * 32),
    ("parents-not-list", "parents", "ab" * 32),
    ("parents-object", "parents", {"0": "ab" * 32}),
    ("parents-element-int", "parents", [1]),
    ("parents-element-uppercase", "parents", ["AB" * 32]),
    ("parents-element-0x", "parents", ["0x" + "ab" * 32]),
    ("parents-element-short", "parents", ["ab" * 31]),
    ("parents-duplicate", "parents", ["ab" * 32, "ab" * 32]),
    ("parents-257", "parents", [hashlib.sha256(i.to_bytes(2, "big")).hexdigest() for i in range(257)]),
    ("sig-truncated", "sig", "0x" + "11" * 64),
    ("sig-extra-byte", "sig", "0x" + "11" * 66),
    ("sig-uppercase", "sig", "0x" + "AB" * 65),
    ("sig-int", "sig", 0),
]


@pytest.mark.parametrize(("field", "value"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS])
def test_from_json_rejects_bad_field(field: str, value: object):
    Envelope.from_json(GOOD)  # the baseline is well-formed
    with pytest.raises(MalformedEnvelope, match=f"envelope\\.{field}"):
        Envelope.from_json(GOOD | {field: value})


@pytest.mark.parametrize("field", list(GOOD))
def test_from_json_rejects_missing_field(field: str):
    data = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(MalformedEnvelope, match=f"missing \\['{field}'\\]"):
        Envelope.from_json(data)


@pytest.mark.parametrize("extra", ["payload", "salt", "V", "signature"])
def test_from_json_rejects_extra_field(extra: str):
    with pytest.raises(MalformedEnvelope, match=f"unexpected \\['{extra}'\\]"):
        Envelope.from_json(GOOD | {extra: 1})


@pytest.mark.parametrize("value", [[GOOD], "envelope", 1, None])
def test_from_json_rejects_non_objects(value: object):
    with pytest.raises(MalformedEnvelope, match="expected a JSON object"):
        Envelope.from_json(canonicalize(value))


def test_from_json_bytes_are_parsed_strictly(envelope: Envelope):
    data = envelope.to_bytes()
    with pytest.raises(MalformedJSON, match="duplicate object key 'kind'"):
        Envelope.from_json(data[:-1] + b',"kind":"pcf"}')
    with pytest.raises(MalformedJSON, match="Extra data"):
        Envelope.from_json(data + b"{}")
    with pytest.raises(MalformedJSON, match="lone surrogate"):
        Envelope.from_json(data.replace(b'"kind":"pcf"', b'"kind":"\\ud800"'))


def test_constructor_checks_like_from_json():
    with pytest.raises(MalformedEnvelope, match="envelope.parents: expected a tuple"):
        Envelope(**GOOD)  # parents as a list
    with pytest.raises(MalformedEnvelope, match="envelope.kind"):
        Envelope(**GOOD | {"parents": tuple(PARENTS), "kind": "X"})


# -- hypothesis: round trips ------------------------------------------------------------

leaf_hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
envelopes = st.builds(
    Envelope,
    v=st.just(1),
    log=st.from_regex(r"[!-*,-~]{1,255}", fullmatch=True),
    kind=st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True),
    id=st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True),
    author=st.binary(min_size=20, max_size=20).filter(any).map(to_checksum_address),
    issued_at=st.datetimes().map(lambda d: d.isoformat() + "Z"),
    commitment=st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex()),
    parents=st.lists(leaf_hashes, max_size=8, unique=True).map(tuple),
    sig=st.binary(min_size=65, max_size=65).map(lambda b: "0x" + b.hex()),
)


@given(envelopes)
def test_json_round_trip(envelope: Envelope):
    assert Envelope.from_json(envelope.to_json()) == envelope
    assert Envelope.from_json(envelope.to_bytes()) == envelope
    assert Envelope.from_json(envelope.to_bytes()).to_bytes() == envelope.to_bytes()
    assert envelope.to_bytes() == canonicalize(envelope.to_json())


@given(envelopes)
def test_fast_digest_agrees_with_generic_encoder(envelope: Envelope):
    assert envelope.signing_digest(DOMAIN) == hash_typed_data(envelope.typed_data(DOMAIN))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes, st.integers(min_value=1, max_value=2**64))
def test_fast_digest_agrees_with_eth_account(envelope: Envelope, chain_id: int):
    domain = Domain(chain_id=chain_id, verifying_contract=OTHER_CONTRACT)
    signable = encode_typed_data(full_message=envelope.typed_data(domain))
    assert envelope.signing_digest(domain) == keccak256(b"\x19" + signable.version + signable.header + signable.body)


@settings(max_examples=25, deadline=None)
@given(envelopes, st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < N))
def test_sign_verify_round_trip(template: Envelope, key: bytes):
    signed = sign_envelope(
        log=template.log, kind=template.kind, id=template.id, issued_at=template.issued_at,
        commitment=template.commitment, parents=template.parents, private_key=key, domain=DOMAIN,
    )  # fmt: skip
    verify_envelope(signed, DOMAIN)
    verify_envelope(Envelope.from_json(signed.to_bytes()), DOMAIN)


# -- Domain ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chain_id", "contract"),
    [
        (0, CONTRACT),
        (-1, CONTRACT),
        (2**256, CONTRACT),
        (True, CONTRACT),
        ("1", CONTRACT),
        (1, CONTRACT.lower()),
        (1, "0x1234"),
        (1, None),
    ],
    ids=["chain-0", "chain-negative", "chain-2**256", "chain-bool", "chain-str", "contract-lowercase",
         "contract-short", "contract-none"],
)  # fmt: skip
def test_domain_rejects(chain_id: object, contract: object):
    with pytest.raises(MalformedInput, match="domain"):
        Domain(chain_id=chain_id, verifying_contract=contract)  # type: ignore[arg-type]


def test_domain_equality_and_separator():
    same = Domain(chain_id=31337, verifying_contract=CONTRACT)
    assert same == DOMAIN and hash(same) == hash(DOMAIN)
    assert len(DOMAIN.separator) == 32
    assert DOMAIN.to_json() == {"name": "TDS Ledger", "version": "1", "chainId": 31337, "verifyingContract": CONTRACT}


# -- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error"),
    [
        (b"\x01" * 31, MalformedInput),
        (b"\x01" * 33, MalformedInput),
        (bytes(32), MalformedInput),
        (N.to_bytes(32, "big"), MalformedInput),
        ("11" * 32, TypeError),
    ],
    ids=["31-bytes", "33-bytes", "zero", "n", "hex-str"],
)
def test_bad_private_keys(key: object, error: type[Exception]):
    with pytest.raises(error):
        address_of(key)  # type: ignore[arg-type]
    with pytest.raises(error):
        make(private_key=key)


# -- commitments ----------------------------------------------------------------------------


def test_make_commitment_known_answer():
    salt = bytes(range(32))
    payload = {"b": [1, "x"], "a": {"é": None}}
    expected = hashlib.sha256(salt + b'{"a":{"\xc3\xa9":null},"b":[1,"x"]}').hexdigest()
    assert make_commitment(payload, salt) == "sha256:" + expected


def test_commitment_depends_on_salt_and_payload_not_key_order():
    salt = new_salt()
    assert make_commitment({"a": 1, "b": 2}, salt) == make_commitment({"b": 2, "a": 1}, salt)
    assert make_commitment({"a": 1}, salt) != make_commitment({"a": 2}, salt)
    assert make_commitment({"a": 1}, salt) != make_commitment({"a": 1}, new_salt())


def test_new_salt():
    salts = {new_salt() for _ in range(16)}
    assert len(salts) == 16 and all(len(s) == 32 for s in salts)


def test_make_commitment_rejects_bad_salt_and_payload():
    with pytest.raises(MalformedInput, match="32 bytes"):
        make_commitment({}, b"\x00" * 31)
    with pytest.raises(TypeError):
        make_commitment({}, "00" * 32)  # type: ignore[arg-type]
    with pytest.raises(MalformedJSON):
        make_commitment({"n": 2**53}, new_salt())


def test_verify_commitment():
    salt = new_salt()
    commitment = make_commitment({"a": 1}, salt)
    assert verify_commitment(commitment, {"a": 1}, salt) is None
    with pytest.raises(VerificationError, match="does not match"):
        verify_commitment(commitment, {"a": 2}, salt)
    with pytest.raises(VerificationError):
        verify_commitment(commitment, {"a": 1}, new_salt())
