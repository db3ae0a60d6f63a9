"""Checkpoints anchored on chain; receipts carry the anchor and verify against the chain (issue 3).

Run on the embedded py-evm chain and on anvil. The log's EIP-712 domain is fixed before
the registry exists (``tdsl init``): the operator's first deployment lands at exactly the
address the domain names, which the tests check rather than assume.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from anvil import anvil_node
from ledger import merkle
from ledger.chain import Registry, log_id
from ledger.chain.anchorer import anchor_latest
from ledger.chain.anchoring import RegistryAnchorReader
from ledger.chain.embedded import EMBEDDED_CHAIN_ID, open_embedded_chain
from ledger.config import Settings
from ledger.datadir import first_contract_address, init_data_dir, register_participant, signed_submission
from ledger.envelope import address_of
from ledger.errors import AnchorError, InconsistentTreeHead, VerificationError
from ledger.log import Ledger
from ledger.receipt import Anchor
from ledger.verify import ChainRef, verify_receipt


@dataclass
class Setup:
    ledger: Ledger
    registry: Registry
    operator: object  # LocalAccount
    provider_key: bytes
    final_when_mined: bool


def _fund(w3: Web3, funder_key: bytes | None, to: str) -> None:
    if funder_key is None:  # eth-tester: an unlocked prefunded account
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": to, "value": 10**20})
        return
    funder = Account.from_key(funder_key)
    tx = funder.sign_transaction({
        "to": to, "value": 10**20, "gas": 21000, "nonce": w3.eth.get_transaction_count(funder.address),
        "chainId": w3.eth.chain_id, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
    })  # fmt: skip
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(tx.raw_transaction))


@pytest.fixture(params=["embedded", "anvil"])
def setup(request, tmp_path: Path) -> Iterator[Setup]:
    operator_key = os.urandom(32)
    operator = Account.from_key(operator_key)
    if request.param == "embedded":
        w3, backend = open_embedded_chain(tmp_path / "chain.db")
        chain_id, funder, final, close = EMBEDDED_CHAIN_ID, None, True, backend.kv.close
        ctx = None
    else:
        ctx = anvil_node()
        node = ctx.__enter__()
        w3 = Web3(Web3.HTTPProvider(node.url))
        chain_id, funder, final, close = w3.eth.chain_id, node.dev_keys[0], False, lambda: None
    try:
        settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/ledger.db",
                            operator_key=operator_key.hex())  # fmt: skip
        ledger, _ = init_data_dir(settings, origin="anchoring.test/log", chain_id=chain_id)
        assert ledger.log.contract == first_contract_address(operator.address)
        _fund(w3, funder, operator.address)
        registry = Registry.deploy(w3, operator)
        assert registry.address == ledger.log.contract  # the domain named it before it existed
        registry.create_log(operator, log_id(ledger.origin))
        provider_key = os.urandom(32)
        register_participant(ledger, operator_key, address=address_of(provider_key), name="Provider",
                             legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
        yield Setup(ledger, registry, operator, provider_key, final)
    finally:
        close()
        if ctx is not None:
            ctx.__exit__(None, None, None)


def _add(s: Setup, n: int) -> list[str]:
    subs = [
        signed_submission(s.ledger, s.provider_key, kind="dataset",
                          payload={"title": f"d{i}", "content_hash": "sha256:" + "ab" * 32})  # fmt: skip
        for i in range(n)
    ]
    s.ledger.submit(subs)
    return [x.envelope.id for x in subs]


def _chain(s: Setup) -> ChainRef:
    return ChainRef(s.ledger.log.chain_id, s.ledger.log.contract, reader=RegistryAnchorReader(s.registry))


def _verify(s: Setup, receipt) -> None:
    verify_receipt(receipt.to_json(), origin=s.ledger.origin, chain=_chain(s), note_key=s.ledger.log.note_vkey)


def test_receipts_gain_their_anchor_and_verify_against_the_chain(setup: Setup):
    s = setup
    first = _add(s, 5)
    pending = s.ledger.receipt(first[0])
    assert pending.anchor is None
    _verify(s, pending)  # valid, not yet anchored
    s.ledger.seal()
    anchor = anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    assert anchor is not None and anchor.status == ("final" if s.final_when_mined else "mined")
    upgraded = s.ledger.receipt(first[0])
    assert upgraded.anchor is not None and upgraded.anchor.tx_hash == anchor.tx_hash
    assert upgraded.to_json()["anchor"]["block_number"] == anchor.block_number
    _verify(s, upgraded)

    # the log grows; the next anchor extends the last one; old receipts still verify
    later = _add(s, 7)
    s.ledger.seal()
    second = anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    assert second.tree_size > anchor.tree_size
    _verify(s, s.ledger.receipt(later[-1]))
    _verify(s, upgraded)
    assert s.registry.head(log_id(s.ledger.origin)).tree_size == second.tree_size


def test_a_tampered_anchor_fails_verification(setup: Setup):
    s = setup
    rid = _add(s, 3)[0]
    s.ledger.seal()
    anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    good = s.ledger.receipt(rid)
    bad_block = replace(good, anchor=replace(good.anchor, block_number=good.anchor.block_number - 1))
    with pytest.raises(VerificationError, match="anchored in block"):
        _verify(s, bad_block)
    bad_hash = replace(good, anchor=replace(good.anchor, block_hash="0x" + "11" * 32))
    with pytest.raises(VerificationError, match="canonical"):
        _verify(s, bad_hash)
    other_chain = replace(good, anchor=Anchor(**{**good.anchor.to_json(), "chain_id": 1}))
    with pytest.raises(VerificationError, match="expected chain"):
        _verify(s, other_chain)
    needs_more = ChainRef(s.ledger.log.chain_id, s.ledger.log.contract,
                          reader=RegistryAnchorReader(s.registry, min_confirmations=10**6))  # fmt: skip
    with pytest.raises(VerificationError, match="confirmations"):
        verify_receipt(good.to_json(), origin=s.ledger.origin, chain=needs_more, note_key=s.ledger.log.note_vkey)


def test_a_lost_reply_does_not_lead_to_a_second_anchor(setup: Setup):
    s = setup
    _add(s, 4)
    cp = s.ledger.seal()
    # The transaction lands but the anchorer never hears back: nothing is recorded.
    tx = s.registry.anchor(s.operator, log_id(s.ledger.origin), cp.tree_size, cp.root_hash, [])
    nonce_before = s.registry.w3.eth.get_transaction_count(s.operator.address)
    anchor = anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    assert anchor.tx_hash == "0x" + tx.tx_hash.hex() and anchor.block_number == tx.block_number
    assert s.registry.w3.eth.get_transaction_count(s.operator.address) == nonce_before  # nothing sent


def test_a_history_without_one_record_cannot_be_anchored(setup: Setup, tmp_path: Path):
    """Tamper case (v): the operator rebuilds the tree without one record and anchors it."""
    s = setup
    _add(s, 6)
    s.ledger.seal()
    anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    leaves = [h for _, h, _ in s.ledger.store.leaf_data(s.ledger.log.id, 0, 10**6)]
    forged = leaves[:3] + leaves[4:] + [merkle.leaf_hash(b"filler"), merkle.leaf_hash(b"more")]
    size1 = len(leaves)
    lid = log_id(s.ledger.origin)
    with pytest.raises(AnchorError, match="InvalidConsistencyProof|ProofLengthMismatch"):
        s.registry.anchor(s.operator, lid, len(forged), merkle.root_hash(forged),
                          merkle.consistency_proof(forged, size1, len(forged)))  # fmt: skip
    assert s.registry.head(lid).tree_size == size1


def test_the_anchorer_refuses_a_chain_head_that_is_not_ours(setup: Setup):
    s = setup
    _add(s, 2)
    s.ledger.seal()
    # someone with the operator key anchors a head of another tree first
    s.registry.anchor(s.operator, log_id(s.ledger.origin), 2, merkle.root_hash([merkle.leaf_hash(b"x")] * 2), [])
    with pytest.raises(InconsistentTreeHead, match="not the root of our tree"):
        anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)


class _Crash(Exception):
    pass


def _anchorer(s: Setup, crash_at: str | None = None):
    from ledger.chain.anchorer import Anchorer, AnchorPolicy

    def on_event(event: str, row) -> None:
        if event == crash_at:
            raise _Crash(event)  # the process dies here: nothing after this point runs

    return Anchorer(s.ledger, s.registry, s.operator, AnchorPolicy(final_when_mined=s.final_when_mined),
                    on_event=on_event)  # fmt: skip


@pytest.mark.parametrize("crash_at", ["written", "sent"])
def test_a_crash_after_the_write_ahead_neither_loses_nor_repeats_the_anchor(setup: Setup, crash_at: str):
    """The signed transaction is stored before it is sent: after a crash right after the
    write (never sent) or right after the send (never recorded), the next anchorer sends
    or finds that same transaction: one anchor, same hash, same nonce."""
    s = setup
    rid = _add(s, 3)[0]
    s.ledger.seal()
    nonce_before = s.registry.w3.eth.get_transaction_count(s.operator.address)
    with pytest.raises(_Crash):
        _anchorer(s, crash_at).step()
    [row] = s.ledger.store.anchors(s.ledger.log.id)
    assert row.status == "submitted" and row.raw_tx and row.nonce == nonce_before
    sent = s.registry.w3.eth.get_transaction_count(s.operator.address)
    assert sent == nonce_before + (crash_at == "sent")  # automining chains: sent means mined
    after = _anchorer(s).step()
    assert [(a.tx_hash, a.status) for a in after] == [(row.tx_hash, "final" if s.final_when_mined else "mined")]
    assert s.registry.w3.eth.get_transaction_count(s.operator.address) == nonce_before + 1
    assert s.registry.head(log_id(s.ledger.origin)).tree_size == row.tree_size
    assert _anchorer(s).step() == []  # nothing more to do
    _verify(s, s.ledger.receipt(rid))


@pytest.mark.parametrize("setup", ["anvil"], indirect=True)  # the embedded chain mines as it is sent
def test_one_transaction_in_flight_per_key(setup: Setup):
    """While an anchor is submitted and not mined, a newer checkpoint waits for it."""
    s = setup
    s.registry.w3.provider.make_request("evm_setAutomine", [False])
    _add(s, 2)
    s.ledger.seal()
    anchorer = _anchorer(s)
    [first] = anchorer.step()
    _add(s, 2)
    second = s.ledger.seal().tree_size
    assert anchorer.step() == []  # the second checkpoint is not sent while the first is in flight
    assert [a.tx_hash for a in anchorer.in_flight()] == [first.tx_hash]
    s.registry.w3.provider.make_request("evm_mine", [])
    changed = anchorer.step()  # the first is recorded mined, then the second is sent
    assert [(a.tree_size, a.status) for a in changed] == [(first.tree_size, "mined"), (second, "submitted")]
    assert changed[1].nonce == first.nonce + 1
    s.registry.w3.provider.make_request("evm_mine", [])
    assert [(a.tree_size, a.status) for a in anchorer.step()] == [(second, "mined")]


@pytest.mark.parametrize("setup", ["embedded"], indirect=True)
def test_the_server_loop_halts_on_a_chain_head_that_is_not_ours(setup: Setup):
    """The sealer loop stops (health: halted) instead of retrying forever against a foreign head."""
    import time

    from ledger.sealer import Sealer
    from ledger.chain.access import ChainAccess

    s = setup
    _add(s, 2)
    s.ledger.seal()
    s.registry.anchor(s.operator, log_id(s.ledger.origin), 2, merkle.root_hash([merkle.leaf_hash(b"x")] * 2), [])
    chain = ChainAccess(s.registry, s.operator, final_when_mined=True, close=lambda: None)
    sealer = Sealer(s.ledger, every_entries=1, interval_seconds=0.1, poll_seconds=0.05, chain=chain)
    sealer.start()
    try:
        deadline = time.monotonic() + 20
        while sealer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sealer.is_alive(), "the sealer kept running against a foreign chain head"
    finally:
        sealer.stop()
    assert (sealer.state, sealer.healthy) == ("halted", False)
    assert "not the root of our tree" in sealer.detail
    assert s.ledger.store.anchors(s.ledger.log.id) == []  # nothing was anchored or recorded


def test_the_verifier_cannot_be_downgraded(setup: Setup):
    """Issue 8: with chain access the verifier reads rootAt itself, whatever the receipt
    claims, reports what it found, and names every anchor claim the chain contradicts."""
    from ledger.verify import AnchorStatus, check_receipt

    s = setup
    ids = _add(s, 3)
    s.ledger.seal()
    anchor_latest(s.ledger, s.registry, s.operator, final_when_mined=s.final_when_mined)
    good = s.ledger.receipt(ids[0])
    assert good.anchor is not None
    kw = dict(origin=s.ledger.origin, note_key=s.ledger.log.note_vkey)
    found = check_receipt(good.to_json(), chain=_chain(s), **kw)
    assert found in (AnchorStatus.FINAL, AnchorStatus.MINED)

    # the anchor stripped: still the status the chain holds, never "pending"
    stripped = replace(good, anchor=None)
    assert check_receipt(stripped.to_json(), chain=_chain(s), **kw) == found
    verify_receipt(stripped.to_json(), chain=_chain(s), require="anchored", **kw)
    no_chain = ChainRef(s.ledger.log.chain_id, s.ledger.log.contract)
    assert check_receipt(stripped.to_json(), chain=no_chain, **kw) == AnchorStatus.UNCHECKED
    with pytest.raises(VerificationError, match="anchored was required"):
        verify_receipt(stripped.to_json(), chain=no_chain, require="anchored", **kw)

    # the status edited from mined to final
    if found == AnchorStatus.MINED:
        forged = replace(good, anchor=replace(good.anchor, status="final"))
        with pytest.raises(VerificationError, match="claims final"):
            check_receipt(forged.to_json(), chain=_chain(s), **kw)
        with pytest.raises(VerificationError, match="final was required"):
            verify_receipt(good.to_json(), chain=_chain(s), require="final", **kw)

    # the block number edited
    moved = replace(good, anchor=replace(good.anchor, block_number=good.anchor.block_number + 1))
    with pytest.raises(VerificationError, match="anchored in block"):
        check_receipt(moved.to_json(), chain=_chain(s), **kw)

    # an anchor of a smaller tree claimed for a larger one (sealed, not anchored yet)
    later = _add(s, 2)
    s.ledger.seal()
    unanchored = s.ledger.receipt(later[-1])
    assert unanchored.anchor is None and unanchored.tree_size > good.tree_size
    assert check_receipt(unanchored.to_json(), chain=_chain(s), **kw) == AnchorStatus.UNANCHORED
    claimed = replace(unanchored, anchor=good.anchor)
    with pytest.raises(VerificationError, match=f"no anchor at tree size {unanchored.tree_size}"):
        check_receipt(claimed.to_json(), chain=_chain(s), **kw)
    with pytest.raises(VerificationError, match="anchored was required"):
        verify_receipt(unanchored.to_json(), chain=_chain(s), require="anchored", **kw)
