"""Receipts: strict ``from_json``/``to_json``, and ``verify_receipt`` against the log's identity.

The verifier's identity (origin, note key, chain id, contract) always comes from the test,
never from the receipt; a receipt from another log, or checked against another identity,
must fail. Receipts come from a real ledger (SQLite; one round trip also on PostgreSQL).
"""

# ruff: noqa: F811  (pytest fixtures imported from test_log_fixtures are parameters here)
from __future__ import annotations

import copy
import dataclasses
import json
import os
from typing import Any

import pytest
from ledger_fixtures import World
from test_log_fixtures import (  # noqa: F401
    backend_url,
    dataset,
    make_world_at,
    shared_postgres_url,
    sqlite_world,
    world,
)

from ledger.checkpoint import NoteSigner
from ledger.datadir import signed_submission
from ledger.envelope import address_of
from ledger.errors import (
    InvalidProof,
    InvalidSignature,
    MalformedInput,
    MalformedReceipt,
    VerificationError,
)
from ledger.log import Ledger
from ledger.receipt import MAX_PROOF_HASHES, RECEIPT_TYPE, Anchor, Receipt
from ledger.verify import ChainRef, verify_receipt


def _receipt(w: World, *, with_payload: bool = True, grow: int = 5) -> Receipt:
    """A receipt for a dataset in the middle of a tree of a few entries."""
    subs = [signed_submission(w.ledger, w.provider_key, kind="dataset", payload=dataset(f"r{i}")) for i in range(grow)]
    w.ledger.submit(subs)
    viewer = w.ledger.viewer_for(w.provider) if with_payload else w.ledger.viewer_for(address_of(os.urandom(32)))
    return w.ledger.receipt(subs[grow // 2].envelope.id, viewer)


def identity(ledger: Ledger) -> dict[str, Any]:
    return {"origin": ledger.origin, "chain": ChainRef(ledger.log.chain_id, ledger.log.contract), "note_key": ledger.log.note_vkey}


def verify(receipt, ledger: Ledger, **override) -> None:
    verify_receipt(receipt, **{**identity(ledger), **override})


@pytest.fixture
def receipt(sqlite_world) -> Receipt:
    return _receipt(sqlite_world)


def _anchor(ledger: Ledger, **kw) -> Anchor:
    fields = {
        "chain_id": ledger.log.chain_id, "contract": ledger.log.contract, "tx_hash": "0x" + "ab" * 32,
        "block_number": 7, "block_hash": "0x" + "cd" * 32, "status": "final",
    }  # fmt: skip
    return Anchor(**{**fields, **kw})


# -- codec ------------------------------------------------------------------------------


def test_round_trip_on_both_backends(world):
    r = _receipt(world)
    assert r.payload is not None and r.salt is not None
    doc = r.to_json()
    assert doc["type"] == RECEIPT_TYPE and doc["anchor"] is None
    assert Receipt.from_json(doc) == r
    assert Receipt.from_json(json.dumps(doc)) == r
    assert Receipt.from_json(json.dumps(doc).encode()) == r
    verify(doc, world.ledger)


def test_round_trip_without_payload_and_with_an_anchor(sqlite_world):
    r = _receipt(sqlite_world, with_payload=False)
    assert r.payload is None and r.salt is None
    assert "payload" not in r.to_json() and "salt" not in r.to_json()
    anchored = dataclasses.replace(r, anchor=_anchor(sqlite_world.ledger))
    assert Receipt.from_json(json.dumps(anchored.to_json())) == anchored


def _doc(receipt: Receipt) -> dict[str, Any]:
    return copy.deepcopy(receipt.to_json())


_TAILS = {"newline": "\n", "cr": "\r", "nul": "\x00"}

MUTATIONS = {
    "unknown-key": lambda d: d.update(extra=1),
    "payload-without-salt": lambda d: d.pop("salt"),
    "salt-without-payload": lambda d: d.pop("payload"),
    "salt-null": lambda d: d.update(salt=None),
    "salt-uppercase-hex": lambda d: d.update(salt=d["salt"].upper()),
    "salt-short": lambda d: d.update(salt=d["salt"][:-2]),
    "proof-hash-not-hex": lambda d: d["inclusion_proof"].__setitem__(0, "zz" + d["inclusion_proof"][0][2:]),
    "proof-hash-uppercase": lambda d: d["inclusion_proof"].__setitem__(0, d["inclusion_proof"][0].upper()),
    "proof-hash-31-bytes": lambda d: d["inclusion_proof"].__setitem__(0, d["inclusion_proof"][0][:62]),
    "proof-hash-0x-prefixed": lambda d: d["inclusion_proof"].__setitem__(0, "0x" + d["inclusion_proof"][0][2:]),
    "proof-not-a-list": lambda d: d.update(inclusion_proof=",".join(d["inclusion_proof"])),
    "proof-65-hashes": lambda d: d.update(inclusion_proof=["00" * 32] * (MAX_PROOF_HASHES + 1)),
    "wrong-type": lambda d: d.update(type="tds-ledger/receipt@2"),
    "type-missing-version": lambda d: d.update(type="tds-ledger/receipt"),
    "leaf-index-negative": lambda d: d.update(leaf_index=-1),
    "leaf-index-bool": lambda d: d.update(leaf_index=True),
    "leaf-index-float": lambda d: d.update(leaf_index=2.0),
    "leaf-index-string": lambda d: d.update(leaf_index="2"),
    "tree-size-null": lambda d: d.update(tree_size=None),
    "checkpoint-not-a-string": lambda d: d.update(checkpoint=["line"]),
    "entry-missing-sig": lambda d: d["entry"].pop("sig"),
    "entry-extra-field": lambda d: d["entry"].update(note="hi"),
    "entry-as-a-json-string": lambda d: d.update(entry=json.dumps(d["entry"])),
    "anchor-missing-key": lambda d: d.update(anchor={"chain_id": 1}),
    # a trailing newline, carriage return or NUL, and a Unicode digit (issue 8: ^…$ with re.match let "\n" through)
    **{f"salt-{name}": (lambda t: lambda d: d.update(salt=d["salt"] + t))(tail) for name, tail in _TAILS.items()},
    **{f"proof-hash-{name}": (lambda t: lambda d: d["inclusion_proof"].__setitem__(0, d["inclusion_proof"][0] + t))(tail)
       for name, tail in _TAILS.items()},  # fmt: skip
    "salt-unicode-digit": lambda d: d.update(salt="\u0663" + d["salt"][1:]),
    "anchor-not-an-object": lambda d: d.update(anchor="0x" + "ab" * 32),
}


@pytest.mark.parametrize("mutate", list(MUTATIONS.values()), ids=list(MUTATIONS))
def test_from_json_rejects(receipt, mutate):
    doc = _doc(receipt)
    Receipt.from_json(doc)  # the unchanged document parses
    mutate(doc)
    with pytest.raises(MalformedReceipt):
        Receipt.from_json(doc)


@pytest.mark.parametrize("key", ["type", "entry", "leaf_index", "tree_size", "inclusion_proof", "checkpoint", "anchor"])
def test_from_json_rejects_a_missing_key(receipt, key):
    doc = _doc(receipt)
    del doc[key]
    with pytest.raises(MalformedReceipt, match=key if key != "type" else "keys"):
        Receipt.from_json(doc)


@pytest.mark.parametrize(
    "field, value",
    [
        ("status", "pending"),
        ("tx_hash", "0x" + "AB" * 32),
        ("block_hash", "0x" + "ab" * 31),
        ("contract", "0x1234"),
        ("tx_hash", "0x" + "ab" * 32 + "\n"),
        ("block_hash", "0x" + "ab" * 32 + "\r"),
        ("contract", "0x" + "ab" * 20 + "\n"),
        ("chain_id", -1),
        ("block_number", "7"),
    ],
)
def test_from_json_rejects_a_malformed_anchor(sqlite_world, field, value):
    r = dataclasses.replace(_receipt(sqlite_world), anchor=_anchor(sqlite_world.ledger))
    doc = _doc(r)
    doc["anchor"][field] = value
    with pytest.raises(MalformedReceipt, match="anchor"):
        Receipt.from_json(doc)


def test_from_json_rejects_non_objects_and_bad_json(receipt):
    for value in ("[]", "null", '"receipt"', b"{", "{'type': 1}"):
        with pytest.raises(MalformedInput):
            Receipt.from_json(value)
    text = json.dumps(_doc(receipt))
    dup = text[:-1] + ', "leaf_index": 0}'  # a duplicate key: strict JSON refuses it
    with pytest.raises(MalformedInput):
        Receipt.from_json(dup)


def test_a_proof_of_exactly_64_hashes_parses_but_does_not_verify(receipt, sqlite_world):
    doc = _doc(receipt)
    doc["inclusion_proof"] = ["00" * 32] * MAX_PROOF_HASHES
    parsed = Receipt.from_json(doc)
    assert len(parsed.inclusion_proof) == MAX_PROOF_HASHES
    with pytest.raises(VerificationError):
        verify(parsed, sqlite_world.ledger)


# -- verification -----------------------------------------------------------------------


def test_a_receipt_verifies(receipt, sqlite_world):
    verify(receipt, sqlite_world.ledger)
    verify(receipt.to_json(), sqlite_world.ledger)
    verify(json.dumps(receipt.to_json()), sqlite_world.ledger)


def test_a_receipt_without_payload_verifies(sqlite_world):
    r = _receipt(sqlite_world, with_payload=False)
    verify(r, sqlite_world.ledger)


def test_a_changed_payload_fails(receipt, sqlite_world):
    doc = _doc(receipt)
    doc["payload"]["title"] += "!"
    with pytest.raises(VerificationError, match="commitment"):
        verify(doc, sqlite_world.ledger)


def test_a_changed_salt_fails(receipt, sqlite_world):
    doc = _doc(receipt)
    doc["salt"] = ("0" if doc["salt"][0] != "0" else "1") + doc["salt"][1:]
    with pytest.raises(VerificationError, match="commitment"):
        verify(doc, sqlite_world.ledger)


def test_a_payload_from_another_record_fails(sqlite_world):
    """Payload and salt of record A pasted into the receipt of record B."""
    a = _receipt(sqlite_world)
    b = _receipt(sqlite_world)
    doc = _doc(b)
    doc["payload"], doc["salt"] = a.payload, a.salt.hex()
    with pytest.raises(VerificationError, match="commitment"):
        verify(doc, sqlite_world.ledger)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(leaf_index=d["leaf_index"] + 1),
        lambda d: d.update(leaf_index=d["tree_size"]),
        lambda d: d.update(tree_size=d["tree_size"] + 1),
        lambda d: d["inclusion_proof"].__setitem__(0, "00" * 32),
        lambda d: d["inclusion_proof"].pop(),
        lambda d: d["inclusion_proof"].append("00" * 32),
        lambda d: d["entry"].update(issued_at="2020-01-01T00:00:00Z"),
        lambda d: d.update(checkpoint=d["checkpoint"].replace("\n\n", "\n \n", 1)),
    ],
    ids=["next-leaf", "leaf-at-size", "tree-size", "proof-hash", "proof-short", "proof-long", "entry-field", "note-text"],
)
def test_a_tampered_receipt_fails(receipt, sqlite_world, mutate):
    doc = _doc(receipt)
    mutate(doc)
    with pytest.raises((VerificationError, MalformedInput)):
        verify(doc, sqlite_world.ledger)


def test_a_receipt_against_a_newer_checkpoint_after_more_entries_still_verifies(sqlite_world):
    """Asking again later gives a receipt for the newer tree; both verify."""
    w = sqlite_world
    old = _receipt(w)
    w.ledger.submit([signed_submission(w.ledger, w.provider_key, kind="dataset", payload=dataset("later"))])
    w.ledger.seal()
    new = w.ledger.receipt(old.entry.id, w.ledger.viewer_for(w.provider))
    assert new.tree_size == old.tree_size + 1 and new.leaf_index == old.leaf_index
    verify(old, w.ledger)
    verify(new, w.ledger)
    mixed = dataclasses.replace(new, inclusion_proof=old.inclusion_proof)  # old proof, new checkpoint
    with pytest.raises(InvalidProof):
        verify(mixed, w.ledger)


# -- another log's identity -------------------------------------------------------------


def test_checked_against_another_origin_fails(receipt, sqlite_world):
    with pytest.raises(VerificationError, match="origin"):
        verify(receipt, sqlite_world.ledger, origin=sqlite_world.ledger.origin + "-other")


def test_checked_against_another_note_key_fails(receipt, sqlite_world):
    other = NoteSigner.generate(sqlite_world.ledger.origin).verifier_key_text  # same name, other key
    with pytest.raises(InvalidSignature):
        verify(receipt, sqlite_world.ledger, note_key=other)


def test_checked_against_another_chain_id_fails(receipt, sqlite_world):
    log = sqlite_world.ledger.log
    with pytest.raises(InvalidSignature):
        verify(receipt, sqlite_world.ledger, chain=ChainRef(log.chain_id + 1, log.contract))


def test_checked_against_another_contract_fails(receipt, sqlite_world):
    log = sqlite_world.ledger.log
    with pytest.raises(InvalidSignature):
        verify(receipt, sqlite_world.ledger, chain=ChainRef(log.chain_id, address_of(os.urandom(32))))


def test_a_receipt_from_another_log_fails_against_this_logs_identity(receipt, sqlite_world, tmp_path):
    """A genuine receipt of log B, checked with log A's identity (and vice versa): refused."""
    other = make_world_at(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}")
    try:
        theirs = _receipt(other)
        verify(theirs, other.ledger)  # genuine where it belongs
        with pytest.raises(VerificationError):
            verify(theirs, sqlite_world.ledger)
        with pytest.raises(VerificationError):
            verify(receipt, other.ledger)
        # even with this log's origin claimed, the other log's note key does not sign it
        with pytest.raises(VerificationError):
            verify(theirs, sqlite_world.ledger, origin=other.ledger.origin)
    finally:
        other.ledger.store.close()


def test_a_receipt_from_another_log_with_the_same_origin_fails(receipt, sqlite_world, tmp_path):
    """Same origin string, different deployment (note key, operator, contract)."""
    other = make_world_at(tmp_path / "twin", f"sqlite:///{tmp_path / 'twin.db'}", origin=sqlite_world.ledger.origin)
    try:
        theirs = _receipt(other)
        with pytest.raises(VerificationError):
            verify(theirs, sqlite_world.ledger)
        # with the twin's note key but this log's chain and contract, the signature still fails
        with pytest.raises(InvalidSignature):
            verify(theirs, sqlite_world.ledger, note_key=other.ledger.log.note_vkey)
    finally:
        other.ledger.store.close()


# -- anchors ----------------------------------------------------------------------------


def test_an_anchor_without_a_chain_reader_fails_clearly(receipt, sqlite_world):
    anchored = dataclasses.replace(receipt, anchor=_anchor(sqlite_world.ledger))
    with pytest.raises(VerificationError, match="no chain access"):
        verify(anchored, sqlite_world.ledger)
    with pytest.raises(VerificationError, match="no chain access"):
        verify(json.dumps(anchored.to_json()), sqlite_world.ledger)
    verify(receipt, sqlite_world.ledger)  # the same receipt, unanchored, is valid (pending)


@pytest.mark.parametrize("other", ["chain_id", "contract"])
def test_an_anchor_on_another_chain_or_contract_fails(receipt, sqlite_world, other):
    ledger = sqlite_world.ledger
    if other == "chain_id":
        anchor = _anchor(ledger, chain_id=ledger.log.chain_id + 1)
    else:
        anchor = _anchor(ledger, contract=address_of(os.urandom(32)))
    with pytest.raises(VerificationError, match="anchor is on chain"):
        verify(dataclasses.replace(receipt, anchor=anchor), ledger)


def test_an_anchor_contract_differing_only_in_case_is_the_same_contract(receipt, sqlite_world):
    """Addresses compare case-insensitively: the check moves on to the (missing) reader."""
    ledger = sqlite_world.ledger
    anchor = _anchor(ledger, contract=ledger.log.contract.lower())
    with pytest.raises(VerificationError, match="no chain access"):
        verify(dataclasses.replace(receipt, anchor=anchor), ledger)
