"""The confirmer against a real node (anvil): mined → final, and a reorg → orphaned → re-anchored.

Issue 3, item 5 (part): the reorg case. Each test ends with every checkpoint anchored once
on the canonical chain and every receipt verifying with the confirmations required.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from anvil import anvil_node
from ledger.chain import Registry, log_id
from ledger.chain.anchoring import RegistryAnchorReader, anchor_if_behind, confirm_anchors
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant, signed_submission
from ledger.envelope import address_of
from ledger.verify import ChainRef, verify_receipt

CONFIRMATIONS = 3


class World:
    def __init__(self, tmp_path: Path, node) -> None:
        self.w3 = Web3(Web3.HTTPProvider(node.url))
        key = os.urandom(32)
        self.operator = Account.from_key(key)
        funder = Account.from_key(node.dev_keys[0])
        tx = funder.sign_transaction({
            "to": self.operator.address, "value": 10**20, "gas": 21000, "chainId": self.w3.eth.chain_id,
            "nonce": self.w3.eth.get_transaction_count(funder.address),
            "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
        })  # fmt: skip
        self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(tx.raw_transaction))
        settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/l.db", operator_key=key.hex())
        self.ledger, _ = init_data_dir(settings, origin="faults.test/log", chain_id=self.w3.eth.chain_id)
        self.registry = Registry.deploy(self.w3, self.operator)
        assert self.registry.address == self.ledger.log.contract
        self.registry.create_log(self.operator, log_id(self.ledger.origin))
        self.provider_key = os.urandom(32)
        register_participant(self.ledger, key, address=address_of(self.provider_key), name="P",
                             legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip

    def add(self, n: int) -> list[str]:
        subs = [signed_submission(self.ledger, self.provider_key, kind="dataset",
                                  payload={"title": f"t{i}", "content_hash": "sha256:" + "cd" * 32})  # fmt: skip
                for i in range(n)]
        self.ledger.submit(subs)
        return [s.envelope.id for s in subs]

    def anchor(self):
        self.ledger.seal()
        return anchor_if_behind(self.ledger, self.registry, self.operator, final_when_mined=False)

    def mine(self, n: int) -> None:
        for _ in range(n):
            self.w3.provider.make_request("evm_mine", [])

    def confirm(self):
        return confirm_anchors(self.ledger, self.registry, confirmations=CONFIRMATIONS)

    def verify(self, record_id: str) -> None:
        chain = ChainRef(self.ledger.log.chain_id, self.ledger.log.contract,
                         reader=RegistryAnchorReader(self.registry, min_confirmations=CONFIRMATIONS))  # fmt: skip
        receipt = self.ledger.receipt(record_id)
        verify_receipt(receipt.to_json(), origin=self.ledger.origin, chain=chain, note_key=self.ledger.log.note_vkey)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with anvil_node() as node:
        yield World(tmp_path, node)


def test_mined_anchors_become_final_after_enough_confirmations(world: World):
    rid = world.add(3)[0]
    anchor = world.anchor()
    assert anchor.status == "mined"
    assert world.confirm() == []  # not deep enough yet
    assert world.ledger.receipt(rid).anchor.status == "mined"
    world.mine(CONFIRMATIONS)
    [final] = world.confirm()
    assert final.status == "final" and final.tx_hash == anchor.tx_hash
    assert world.ledger.receipt(rid).anchor.status == "final"
    world.verify(rid)


def test_a_reorg_that_removes_the_anchor_is_detected_and_reanchored(world: World):
    first = world.add(2)[0]
    world.anchor()
    world.mine(CONFIRMATIONS)
    world.confirm()
    later = world.add(4)[-1]
    lost = world.anchor()
    assert lost.status == "mined"
    # The block holding the anchor is replaced by an empty one: the transaction is gone.
    depth = world.w3.eth.block_number - lost.block_number + 1
    world.w3.provider.make_request("anvil_reorg", [depth, []])
    assert world.registry.head(log_id(world.ledger.origin)).tree_size < lost.tree_size
    [orphaned] = world.confirm()
    assert orphaned.status == "orphaned" and orphaned.tx_hash == lost.tx_hash
    # The receipt falls back to what is still anchored, and the anchorer anchors again.
    assert world.ledger.receipt(later).anchor is None
    again = world.anchor()
    assert again is not None and again.tx_hash != lost.tx_hash and again.tree_size == lost.tree_size
    world.mine(CONFIRMATIONS)
    world.confirm()
    statuses = {(a.tree_size, a.status) for a in world.ledger.store.anchors(world.ledger.log.id)}
    assert (lost.tree_size, "final") in statuses and (lost.tree_size, "orphaned") in statuses
    # every checkpoint anchored once on the canonical chain; every receipt verifies
    assert world.registry.head(log_id(world.ledger.origin)).tree_size == lost.tree_size
    world.verify(first)
    world.verify(later)


def test_the_server_loop_anchors_and_confirms_on_its_own(world: World):
    """The API's sealer thread seals, anchors and confirms without being asked."""
    import time

    from api.sealer import Sealer
    from ledger.chain.access import ChainAccess

    chain = ChainAccess(world.registry, world.operator, final_when_mined=False, close=lambda: None)
    sealer = Sealer(world.ledger, every_entries=1, interval_seconds=0.1, poll_seconds=0.05, chain=chain,
                    confirmations=CONFIRMATIONS)  # fmt: skip
    rid = world.add(3)[0]
    sealer.start()
    try:
        def statuses() -> set[str]:
            return {a.status for a in world.ledger.store.anchors(world.ledger.log.id)}

        deadline = time.monotonic() + 20
        while "mined" not in statuses() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "mined" in statuses(), sealer.detail
        world.mine(CONFIRMATIONS)
        while statuses() != {"final"} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert statuses() == {"final"}, (statuses(), sealer.detail)
    finally:
        sealer.stop()
    world.verify(rid)
