"""ledger.eip712 against the EIP's own 'Mail' example, EIP-55 examples and eth-account."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import coincurve
import eth_utils
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.eip712 import (
    encode_data,
    encode_type,
    hash_domain,
    hash_struct,
    hash_typed_data,
    is_checksum_address,
    keccak256,
    signing_digest,
    to_checksum_address,
    type_hash,
)
from ledger.errors import MalformedInput

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
MAIL = json.loads((VECTORS / "eip712" / "eip712-mail-example.json").read_text())
TYPED = MAIL["typedData"]
EXPECTED = MAIL["expected"]
COW_KEY = keccak256(b"cow")


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def eth_account_digest(typed_data: dict[str, Any]) -> bytes:
    """The digest eth-account would sign: keccak(0x19 ‖ version ‖ header ‖ body)."""
    signable = encode_typed_data(full_message=typed_data)
    return keccak256(b"\x19" + signable.version + signable.header + signable.body)


# -- the Mail vector ------------------------------------------------------------------


def test_keccak256_known_answer():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_mail_encode_type():
    assert encode_type("Mail", TYPED["types"]) == EXPECTED["encodeType_Mail"]


def test_mail_type_hash():
    assert type_hash("Mail", TYPED["types"]) == _hex(EXPECTED["typeHash_Mail"])


def test_mail_encode_data():
    assert encode_data("Mail", TYPED["message"], TYPED["types"]) == _hex(EXPECTED["encodeData_Mail"])


def test_mail_hash_struct():
    assert hash_struct("Mail", TYPED["message"], TYPED["types"]) == _hex(EXPECTED["hashStruct_Mail"])


def test_mail_domain_separator():
    assert hash_domain(TYPED["domain"], TYPED["types"]) == _hex(EXPECTED["domainSeparator"])
    # Without an EIP712Domain type, the standard fields present are used in EIP order.
    assert hash_domain(TYPED["domain"]) == _hex(EXPECTED["domainSeparator"])


def test_mail_signing_digest():
    separator = hash_domain(TYPED["domain"], TYPED["types"])
    struct_hash = hash_struct("Mail", TYPED["message"], TYPED["types"])
    assert signing_digest(separator, struct_hash) == _hex(EXPECTED["signingDigest"])
    assert hash_typed_data(TYPED) == _hex(EXPECTED["signingDigest"])


def test_mail_digest_agrees_with_eth_account():
    assert eth_account_digest(TYPED) == _hex(EXPECTED["signingDigest"])


def test_mail_signature_with_key_keccak_cow():
    key = coincurve.PrivateKey(COW_KEY)
    rsv = key.sign_recoverable(_hex(EXPECTED["signingDigest"]), hasher=None)
    sig = EXPECTED["signature"]
    assert rsv[:32] == _hex(sig["r"])
    assert rsv[32:64] == _hex(sig["s"])
    assert 27 + rsv[64] == sig["v"]


def test_mail_signer_address():
    public = coincurve.PrivateKey(COW_KEY).public_key.format(compressed=False)[1:]
    address = to_checksum_address(keccak256(public)[12:])
    assert address.lower() == EXPECTED["signerAddress"]
    assert address == TYPED["message"]["from"]["wallet"]


def test_mail_signature_recovers_signer():
    sig = EXPECTED["signature"]
    rsv = _hex(sig["r"]) + _hex(sig["s"]) + bytes((sig["v"] - 27,))
    public = coincurve.PublicKey.from_signature_and_message(rsv, _hex(EXPECTED["signingDigest"]), hasher=None)
    assert keccak256(public.format(compressed=False)[1:])[12:].hex() == EXPECTED["signerAddress"][2:]


# -- EIP-55 ---------------------------------------------------------------------------

# The examples in EIP-55 itself.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_eip55_examples(address: str):
    assert to_checksum_address(address.lower()) == address
    assert to_checksum_address(bytes.fromhex(address[2:])) == address
    assert is_checksum_address(address)


@pytest.mark.parametrize("address", EIP55_EXAMPLES[4:])
def test_eip55_rejects_wrong_case(address: str):
    assert not is_checksum_address(address.lower())
    assert not is_checksum_address("0x" + address[2:].upper())
    flipped = address[:2] + address[2:].swapcase()
    assert not is_checksum_address(flipped)


@pytest.mark.parametrize("bad", ["0x1234", "52908400098527886E0F7030069857D2E4169EE7", "0xZZ" + "0" * 38, 7, None])
def test_is_checksum_address_rejects_non_addresses(bad: object):
    assert not is_checksum_address(bad)


def test_to_checksum_address_input_errors():
    with pytest.raises(MalformedInput):
        to_checksum_address(b"\x00" * 19)
    with pytest.raises(MalformedInput):
        to_checksum_address("0x1234")
    with pytest.raises(TypeError):
        to_checksum_address(1234)  # type: ignore[arg-type]


@given(st.binary(min_size=20, max_size=20))
def test_eip55_agrees_with_eth_utils(raw: bytes):
    assert to_checksum_address(raw) == eth_utils.to_checksum_address(raw)


# -- the generic encoder beyond the Mail example ----------------------------------------

RICH_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "salt", "type": "bytes32"},
    ],
    "Item": [
        {"name": "tag", "type": "bytes4"},
        {"name": "blob", "type": "bytes"},
        {"name": "delta", "type": "int64"},
    ],
    "Order": [
        {"name": "owner", "type": "address"},
        {"name": "paid", "type": "bool"},
        {"name": "amount", "type": "uint256"},
        {"name": "items", "type": "Item[]"},
        {"name": "labels", "type": "string[2]"},
        {"name": "grid", "type": "uint8[][]"},
        {"name": "refs", "type": "bytes32[]"},
    ],
}
RICH = {
    "types": RICH_TYPES,
    "primaryType": "Order",
    "domain": {"name": "Shop", "chainId": 31337, "salt": "0x" + "ab" * 32},
    "message": {
        "owner": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB",
        "paid": True,
        "amount": 2**256 - 1,
        "items": [
            {"tag": "0xdeadbeef", "blob": "0x", "delta": -(2**63)},
            {"tag": "0x00000001", "blob": "0x0102030405", "delta": 2**63 - 1},
        ],
        "labels": ["ä", ""],
        "grid": [[1, 2], [], [255]],
        "refs": ["0x" + "11" * 32, "0x" + "22" * 32],
    },
}


def test_rich_typed_data_agrees_with_eth_account():
    assert hash_typed_data(RICH) == eth_account_digest(RICH)


def test_encode_type_orders_dependencies_by_name():
    assert encode_type("Order", RICH_TYPES) == (
        "Order(address owner,bool paid,uint256 amount,Item[] items,string[2] labels,uint8[][] grid,bytes32[] refs)"
        "Item(bytes4 tag,bytes blob,int64 delta)"
    )


def test_negative_int_is_twos_complement():
    types = {"T": [{"name": "x", "type": "int256"}]}
    assert encode_data("T", {"x": -1}, types)[32:] == b"\xff" * 32


def test_bytes_values_may_be_raw_bytes():
    message = copy.deepcopy(RICH["message"])
    message["items"][0]["tag"] = bytes.fromhex("deadbeef")
    message["refs"][0] = b"\x11" * 32
    assert hash_struct("Order", message, RICH_TYPES) == hash_struct("Order", RICH["message"], RICH_TYPES)


def _with(path: list[Any], value: object) -> dict[str, Any]:
    message = copy.deepcopy(RICH["message"])
    target = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return message


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        (["amount"], 2**256, MalformedInput),
        (["amount"], -1, MalformedInput),
        (["amount"], "1", TypeError),
        (["amount"], True, TypeError),
        (["items", 0, "delta"], 2**63, MalformedInput),
        (["items", 0, "tag"], "0xdead", MalformedInput),
        (["items", 0, "tag"], "deadbeef", MalformedInput),
        (["items", 0, "blob"], 5, TypeError),
        (["paid"], 1, TypeError),
        (["owner"], "0x1234", MalformedInput),
        (["owner"], 5, TypeError),
        (["labels"], ["only one"], MalformedInput),
        (["labels"], "not a list", TypeError),
        (["grid", 0, 0], 256, MalformedInput),
        (["items", 0], "not a struct", TypeError),
        (["labels", 0], "\ud800", MalformedInput),
    ],
    ids=[
        "uint256-overflow", "uint-negative", "uint-as-str", "uint-as-bool", "int64-overflow", "bytes4-short",
        "bytes-no-0x", "bytes-as-int", "bool-as-int", "address-short", "address-as-int", "fixed-array-length",
        "array-as-str", "uint8-overflow", "struct-as-str", "string-surrogate",
    ],
)  # fmt: skip
def test_encoder_rejects_values(path: list[Any], value: object, error: type[Exception]):
    with pytest.raises(error):
        hash_struct("Order", _with(path, value), RICH_TYPES)


def test_encoder_rejects_missing_and_extra_fields():
    message = dict(RICH["message"])
    del message["paid"]
    with pytest.raises(MalformedInput, match="missing \\['paid'\\]"):
        hash_struct("Order", message, RICH_TYPES)
    with pytest.raises(MalformedInput, match="extra \\['zzz'\\]"):
        hash_struct("Order", {**RICH["message"], "zzz": 1}, RICH_TYPES)


@pytest.mark.parametrize("bad_type", ["uint7", "uint264", "bytes33", "bytes0", "Unknown", "int"])
def test_encoder_rejects_unknown_types(bad_type: str):
    types = {"T": [{"name": "x", "type": bad_type}]}
    with pytest.raises(MalformedInput, match="unknown type"):
        encode_type("T", types)


def test_unknown_primary_type():
    with pytest.raises(MalformedInput):
        type_hash("Nope", RICH_TYPES)
    with pytest.raises(MalformedInput):
        hash_struct("Nope", {}, RICH_TYPES)


def test_hash_domain_rejects_unknown_fields_without_types():
    with pytest.raises(MalformedInput, match="unknown fields"):
        hash_domain({"name": "x", "colour": "red"})


def test_hash_typed_data_requires_all_parts():
    with pytest.raises(MalformedInput, match="missing key 'message'"):
        hash_typed_data({k: v for k, v in TYPED.items() if k != "message"})


def test_signing_digest_requires_32_byte_parts():
    with pytest.raises(MalformedInput):
        signing_digest(b"\x00" * 31, b"\x00" * 32)


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(max_size=20),
    wallet=st.binary(min_size=20, max_size=20),
    contents=st.text(max_size=50),
    chain_id=st.integers(min_value=0, max_value=2**256 - 1),
)
def test_mail_shaped_data_agrees_with_eth_account(name: str, wallet: bytes, contents: str, chain_id: int):
    typed = copy.deepcopy(TYPED)
    typed["domain"]["chainId"] = chain_id
    typed["message"]["from"] = {"name": name, "wallet": eth_utils.to_checksum_address(wallet)}
    typed["message"]["contents"] = contents
    assert hash_typed_data(typed) == eth_account_digest(typed)


def test_eth_account_signs_the_mail_example_identically():
    signed = Account.sign_message(encode_typed_data(full_message=TYPED), COW_KEY)
    assert signed.v == EXPECTED["signature"]["v"]
    assert signed.r == int(EXPECTED["signature"]["r"], 16)
    assert signed.s == int(EXPECTED["signature"]["s"], 16)
