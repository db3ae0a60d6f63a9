"""ledger.chain.transactions: fee bumps, re-signing, and what real nodes answer to a broadcast.

The node answers come from the embedded py-evm chain and from anvil; the fee arithmetic is
checked with hypothesis against the rules a replacement must meet (geth: +10 % on both fees).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from anvil import anvil_node
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes
from hypothesis import given
from hypothesis import strategies as st

from ledger.chain.embedded import open_embedded_chain
from ledger.chain.transactions import (
    Fees,
    Sent,
    broadcast,
    bumped,
    lookup,
    resigned,
    suggest_fees,
)
from ledger.errors import AnchorError

GWEI = 10**9
fee = st.integers(min_value=1, max_value=10**13)


@given(old_max=fee, old_tip=fee, now_max=fee, now_tip=fee)
def test_a_bump_raises_both_fees_by_at_least_an_eighth_and_meets_the_suggestion(old_max, old_tip, now_max, now_tip):
    old, now = Fees(max(old_max, old_tip), old_tip), Fees(max(now_max, now_tip), now_tip)
    new = bumped(old, now)
    assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9 + 8
    assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9 + 8
    assert new.max_fee_per_gas >= now.max_fee_per_gas and new.max_priority_fee_per_gas >= now.max_priority_fee_per_gas
    assert new.max_fee_per_gas >= new.max_priority_fee_per_gas  # a valid EIP-1559 pair


@given(old_max=fee, old_tip=fee, now_max=fee, cap=fee)
def test_a_bump_never_passes_the_cap_nor_makes_a_replacement_the_node_would_refuse(old_max, old_tip, now_max, cap):
    old = Fees(max(old_max, old_tip), old_tip)
    new = bumped(old, Fees(now_max, 1), cap=cap)
    if new is None:
        assert cap * 8 < old.max_fee_per_gas * 9 + 8  # no room for +12.5 % under the cap
    else:
        assert new.max_fee_per_gas <= cap
        assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9 + 8
        assert new.max_priority_fee_per_gas <= new.max_fee_per_gas


def test_bump_examples():
    assert bumped(Fees(3 * GWEI, GWEI), Fees(3 * GWEI, GWEI)) == Fees(3_375_000_001, 1_125_000_001)
    assert bumped(Fees(3 * GWEI, GWEI), Fees(200 * GWEI, 2 * GWEI)) == Fees(200 * GWEI, 2 * GWEI)
    assert bumped(Fees(3 * GWEI, GWEI), Fees(200 * GWEI, 2 * GWEI), cap=50 * GWEI) == Fees(50 * GWEI, 2 * GWEI)
    assert bumped(Fees(50 * GWEI, GWEI), Fees(60 * GWEI, GWEI), cap=50 * GWEI) is None


def test_resigned_keeps_the_transaction_and_changes_only_the_fees():
    account = Account.from_key(os.urandom(32))
    tx = {"to": account.address, "value": 0, "gas": 90_000, "chainId": 31337, "nonce": 7, "data": "0x" + "cd" * 40,
          "maxFeePerGas": 3 * GWEI, "maxPriorityFeePerGas": GWEI}  # fmt: skip
    raw = bytes(account.sign_transaction(tx).raw_transaction)
    again = resigned(account, raw, Fees(5 * GWEI, 2 * GWEI))
    before = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
    after = TypedTransaction.from_bytes(HexBytes(again.raw)).as_dict()
    for field in ("to", "value", "gas", "chainId", "nonce", "data"):
        assert before[field] == after[field], field
    assert (after["maxFeePerGas"], after["maxPriorityFeePerGas"]) == (5 * GWEI, 2 * GWEI)
    assert again.nonce == 7 and again.tx_hash != bytes(account.sign_transaction(tx).hash)
    assert Account.recover_transaction(again.raw) == account.address


def _transfer(account, w3, nonce: int, fees: Fees) -> bytes:
    tx = {"to": account.address, "value": 1, "gas": 21_000, "chainId": w3.eth.chain_id, "nonce": nonce,
          "maxFeePerGas": fees.max_fee_per_gas, "maxPriorityFeePerGas": fees.max_priority_fee_per_gas}  # fmt: skip
    return bytes(account.sign_transaction(tx).raw_transaction)


def test_what_the_embedded_chain_answers(tmp_path: Path):
    w3, backend = open_embedded_chain(tmp_path / "chain.db")
    try:
        account = Account.from_key(os.urandom(32))
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**20})
        fees = suggest_fees(w3)
        assert fees.max_fee_per_gas > fees.max_priority_fee_per_gas > 0
        raw = _transfer(account, w3, 0, fees)
        assert lookup(w3, os.urandom(32)).mined is False and lookup(w3, os.urandom(32)).pending is False
        assert broadcast(w3, raw, "t") is Sent.ACCEPTED  # mined as it is sent
        assert broadcast(w3, raw, "t") is Sent.NONCE_USED
        assert broadcast(w3, resigned(account, raw, bumped(fees, fees)).raw, "t") is Sent.NONCE_USED
    finally:
        backend.kv.close()


def test_what_anvil_answers():
    with anvil_node() as node:
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(node.url))
        account = Account.from_key(node.dev_keys[1])
        w3.provider.make_request("evm_setAutomine", [False])
        fees = suggest_fees(w3)
        raw = _transfer(account, w3, 0, fees)
        signed_hash = bytes(w3.keccak(raw))
        assert broadcast(w3, raw, "t") is Sent.ACCEPTED
        state = lookup(w3, signed_hash)
        assert state.pending and not state.mined
        assert broadcast(w3, raw, "t") is Sent.ALREADY_KNOWN
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(100 * GWEI)])
        w3.provider.make_request("evm_mine", [])  # the pool drops a transaction under the base fee
        assert lookup(w3, signed_hash) == lookup(w3, signed_hash) and not lookup(w3, signed_hash).pending
        assert broadcast(w3, raw, "t") is Sent.FEE_TOO_LOW
        replacement = resigned(account, raw, bumped(fees, suggest_fees(w3)))
        assert broadcast(w3, replacement.raw, "t") is Sent.ACCEPTED
        w3.provider.make_request("evm_mine", [])
        assert lookup(w3, replacement.tx_hash).mined
        assert broadcast(w3, raw, "t") is Sent.NONCE_USED
        w3.provider.make_request("evm_setAutomine", [True])
        with pytest.raises(AnchorError):  # not a transaction at all: raised, not sorted as a refusal
            broadcast(w3, b"\x02garbage", "t")
