"""The anchorer and confirmer against a real node (anvil), under the faults of issue 3 item 5.

mined → final; a reorg that removes the anchor (``anvil_reorg``); a dropped transaction
(``anvil_dropTransaction``); a base-fee spike (``anvil_setNextBlockBaseFeePerGas``) and a
transaction pending too long; the node down for 30 s mid-anchor (the anvil process
stopped with SIGSTOP: requests time out) under the server's sealer loop; and the anchorer
process killed with SIGKILL between writing and sending, or between sending and
recording, 20 times. Each test ends with every checkpoint anchored once on the canonical
chain (``World.assert_anchored_once``) and every receipt verifying with the
confirmations required.
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
from ledger.chain.anchorer import Anchorer, AnchorPolicy
from ledger.chain.anchoring import RegistryAnchorReader, confirm_anchors
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
        self.data_dir, self.database_url, self.operator_key = tmp_path / "data", f"sqlite:///{tmp_path}/l.db", key
        settings = Settings(data_dir=self.data_dir, database_url=self.database_url, operator_key=key.hex())
        self.ledger, _ = init_data_dir(settings, origin="faults.test/log", chain_id=self.w3.eth.chain_id)
        self.registry = Registry.deploy(self.w3, self.operator)
        assert self.registry.address == self.ledger.log.contract
        self.registry.create_log(self.operator, log_id(self.ledger.origin))
        self.anchorer = Anchorer(self.ledger, self.registry, self.operator, AnchorPolicy(final_when_mined=False))
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
        """Seal, then one anchorer step; the new anchor row (mined at once: anvil automines)."""
        self.ledger.seal()
        before = {a.tx_hash for a in self.ledger.store.anchors(self.ledger.log.id)}
        self.anchorer.step()
        new = [a for a in self.ledger.store.anchors(self.ledger.log.id) if a.tx_hash not in before]
        return new[-1] if new else None

    def rpc(self, method: str, *params):
        answer = self.w3.provider.make_request(method, list(params))
        assert "error" not in answer, answer
        return answer["result"]

    def rows(self, tree_size: int | None = None) -> list:
        return [a for a in self.ledger.store.anchors(self.ledger.log.id) if tree_size in (None, a.tree_size)]

    def assert_anchored_once(self, sizes) -> None:
        """Each size in ``sizes`` anchored by exactly one successful transaction, nothing else sent.

        Every anchor transaction the operator ever sent is mined and succeeded (its nonce
        count is the deploy, createLog and one per anchored size: a duplicate anchor would
        have reverted and used a nonce), the chain's head is the latest checkpoint, and each
        size has exactly one ``mined``/``final`` row naming that transaction.
        """
        events = self.registry._contract.events.TreeHeadAnchored.get_logs(
            argument_filters={"logId": log_id(self.ledger.origin)}, from_block=0)  # fmt: skip
        anchored = [e["args"]["treeSize"] for e in events]
        assert len(anchored) == len(set(anchored)), f"a size was anchored twice: {anchored}"
        assert set(sizes) <= set(anchored), (sorted(sizes), anchored)
        assert self.w3.eth.get_transaction_count(self.operator.address, "latest") == 2 + len(anchored)
        cp = self.ledger.store.latest_checkpoint(self.ledger.log.id)
        assert self.registry.head(log_id(self.ledger.origin)).tree_size == cp.tree_size
        by_size = {e["args"]["treeSize"]: "0x" + bytes(e["transactionHash"]).hex() for e in events}
        for size in anchored:
            landed = [a for a in self.rows(size) if a.status in ("mined", "final")]
            assert [a.tx_hash for a in landed] == [by_size[size]], (size, self.rows(size))
        assert self.anchorer.in_flight() == []

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


    @staticmethod
    def anchorer_in_flight(sealer) -> list:
        return [] if sealer._anchorer is None else sealer._anchorer.in_flight()


@pytest.fixture
def node() -> Iterator:
    with anvil_node() as n:
        yield n


@pytest.fixture
def node_pid(node) -> int:
    return node.pid


@pytest.fixture
def world(tmp_path: Path, node) -> World:
    return World(tmp_path, node)


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
    world.assert_anchored_once([lost.tree_size])
    world.verify(first)
    world.verify(later)


def test_the_server_loop_anchors_and_confirms_on_its_own(world: World):
    """The API's sealer thread seals, anchors and confirms without being asked."""
    import time

    from ledger.sealer import Sealer
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


def _events(world: World) -> list[str]:
    seen: list[str] = []
    world.anchorer._on_event = lambda event, row: seen.append(event)
    return seen


def test_a_reorg_under_an_anchor_in_flight_revives_the_orphan_it_waits_on(world: World):
    """A reorg removes anchor A (nonce n) while anchor B (nonce n+1) waits in the pool: B can
    only be mined after nonce n, so A's signed bytes are sent again, then both land."""
    world.rpc("evm_setAutomine", False)
    first = world.add(2)[0]
    world.ledger.seal()
    [a] = world.anchorer.step()
    world.mine(1)
    assert [(r.tx_hash, r.status) for r in world.anchorer.step()] == [(a.tx_hash, "mined")]
    later = world.add(3)[-1]
    world.ledger.seal()
    [b] = world.anchorer.step()
    assert b.nonce == a.nonce + 1 and world.rpc("eth_getTransactionByHash", b.tx_hash) is not None
    world.rpc("anvil_reorg", 1, [])  # the block holding A is replaced by an empty one
    assert world.w3.eth.get_transaction_count(world.operator.address, "latest") == a.nonce
    [orphaned] = world.confirm()
    assert (orphaned.tx_hash, orphaned.status) == (a.tx_hash, "orphaned")
    seen = _events(world)
    world.anchorer.step()
    assert "revived" in seen and {r.tx_hash for r in world.anchorer.in_flight()} == {a.tx_hash, b.tx_hash}
    world.mine(1)
    assert {r.tx_hash: r.status for r in world.anchorer.step()} == {a.tx_hash: "mined", b.tx_hash: "mined"}
    world.mine(CONFIRMATIONS)
    world.confirm()
    world.assert_anchored_once([a.tree_size, b.tree_size])
    world.verify(first)
    world.verify(later)


def test_a_dropped_transaction_is_sent_again(world: World):
    world.rpc("evm_setAutomine", False)
    seen = _events(world)
    rid = world.add(3)[0]
    world.ledger.seal()
    [sent] = [a for a in world.anchorer.step() if a.status == "submitted"]
    assert seen == ["written", "sent"] and sent.raw_tx and sent.sent_at is not None
    assert world.rpc("eth_getTransactionByHash", sent.tx_hash) is not None
    world.rpc("anvil_dropTransaction", sent.tx_hash)
    assert world.rpc("eth_getTransactionByHash", sent.tx_hash) is None
    assert world.anchorer.step() == [] and seen[-1] == "resent"  # the same signed bytes, same hash
    assert world.rpc("eth_getTransactionByHash", sent.tx_hash) is not None
    world.mine(1)
    [mined] = world.anchorer.step()
    assert (mined.tx_hash, mined.status) == (sent.tx_hash, "mined")
    world.mine(CONFIRMATIONS)
    world.confirm()
    world.assert_anchored_once([sent.tree_size])
    world.verify(rid)


def test_a_base_fee_spike_gets_the_fee_bumped(world: World):
    world.rpc("evm_setAutomine", False)
    rid = world.add(2)[0]
    world.ledger.seal()
    [low] = world.anchorer.step()
    world.rpc("anvil_setNextBlockBaseFeePerGas", hex(100 * 10**9))
    world.mine(1)  # a block at 100 gwei: the transaction's fee cap is far below; the pool evicts it
    assert world.w3.eth.get_block("latest")["baseFeePerGas"] == 100 * 10**9
    assert low.max_fee_per_gas < 87 * 10**9
    [bump] = world.anchorer.step()
    assert bump.status == "submitted" and bump.nonce == low.nonce and bump.tx_hash != low.tx_hash
    assert bump.max_fee_per_gas >= 2 * 87.5 * 10**9 and bump.max_priority_fee_per_gas > low.max_priority_fee_per_gas
    world.mine(1)
    changed = {a.tx_hash: a.status for a in world.anchorer.step()}
    assert changed == {bump.tx_hash: "mined", low.tx_hash: "failed"}
    world.mine(CONFIRMATIONS)
    world.confirm()
    world.assert_anchored_once([low.tree_size])
    world.verify(rid)


def test_a_transaction_pending_too_long_is_replaced_and_capped(world: World):
    """Stuck without a spike (e.g. a tip too low for busy blocks): replaced after stuck_seconds."""
    now = [world.w3.eth.get_block("latest")["timestamp"]]
    from datetime import UTC, datetime

    world.anchorer = Anchorer(world.ledger, world.registry, world.operator,
                              AnchorPolicy(final_when_mined=False, stuck_seconds=30),
                              clock=lambda: datetime.fromtimestamp(now[0], UTC))  # fmt: skip
    world.rpc("evm_setAutomine", False)
    rid = world.add(2)[0]
    world.ledger.seal()
    [first] = world.anchorer.step()
    cap = first.max_fee_per_gas * 9 // 8 + 100  # room for one replacement (+12.5 %), not two
    world.anchorer.policy = AnchorPolicy(final_when_mined=False, stuck_seconds=30, max_fee_per_gas=cap)
    now[0] += 29
    assert world.anchorer.step() == []  # not yet stuck
    now[0] += 1
    [second] = world.anchorer.step()
    assert second.nonce == first.nonce and second.max_fee_per_gas > first.max_fee_per_gas
    assert second.max_fee_per_gas <= cap
    assert world.rpc("eth_getTransactionByHash", first.tx_hash) is None  # replaced in the node's pool
    now[0] += 30
    capped = world.anchorer.step()  # a further +12.5 % would pass the cap: no replacement
    assert capped == [], capped
    world.mine(1)
    assert {a.tx_hash: a.status for a in world.anchorer.step()} == {second.tx_hash: "mined", first.tx_hash: "failed"}
    world.mine(CONFIRMATIONS)
    world.confirm()
    world.assert_anchored_once([first.tree_size])
    world.verify(rid)


def test_the_node_down_for_30_seconds_mid_anchor(world: World, node_pid):
    """The sealer loop retries with backoff while the node is stopped, then catches up."""
    import signal
    import time

    from ledger.sealer import Sealer
    from ledger.chain.access import ChainAccess

    from ledger.chain.access import http_web3

    world.w3.provider = http_web3(world.w3.provider.endpoint_uri, timeout=2).provider  # what open_chain uses
    world.rpc("evm_setIntervalMining", 1)  # a block a second, like a real chain
    chain = ChainAccess(world.registry, world.operator, final_when_mined=False, close=lambda: None)
    sealer = Sealer(world.ledger, every_entries=1, interval_seconds=0.1, poll_seconds=0.05, chain=chain,
                    confirmations=CONFIRMATIONS, max_backoff_seconds=2)  # fmt: skip
    ids = world.add(3)
    sealer.start()
    try:
        deadline = time.monotonic() + 20
        while not world.rows() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert world.rows(), sealer.detail
        os.kill(node_pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            ids += world.add(4)  # the log keeps taking records; the sealer keeps sealing
            failures_seen = False
            while time.monotonic() - stopped < 30:
                failures_seen |= sealer.detail is not None
                assert sealer.is_alive() and sealer.state == "running"
                time.sleep(0.2)
            assert failures_seen, "no chain request failed while the node was stopped"
        finally:
            os.kill(node_pid, signal.SIGCONT)
        sizes = {cp.tree_size for cp in world.ledger.store.checkpoints(world.ledger.log.id)}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = world.rows()
            latest = world.ledger.store.latest_checkpoint(world.ledger.log.id).tree_size
            if any(a.tree_size == latest and a.status == "final" for a in rows) and not world.anchorer_in_flight(sealer):
                break
            time.sleep(0.2)
        else:
            raise AssertionError((world.rows(), sealer.detail))
    finally:
        sealer.stop()
    assert sealer.state == "stopped"
    world.anchorer = sealer._anchorer
    anchored = {a.tree_size for a in world.rows() if a.status == "final"}
    assert max(sizes) in anchored  # the latest checkpoint; earlier ones are covered by it
    world.assert_anchored_once(anchored)
    for rid in ids:
        world.verify(rid)


class AnchorerProcesses:
    """``tests/workers/rpc_anchorer.py``: one forked anchorer process per ``run``."""

    def __init__(self, *args: str) -> None:
        import subprocess
        import sys

        from anvil import REPO_ROOT

        self.proc = subprocess.Popen([sys.executable, "-m", "tests.workers.rpc_anchorer", *args], cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip

    def run(self, kill_at: str) -> list[str]:
        """One anchorer process; its output lines, ending with ``EXIT <status>``."""
        self.proc.stdin.write(kill_at + "\n")
        self.proc.stdin.flush()
        lines = [self.proc.stdout.readline().strip()]
        while not lines[-1].startswith("EXIT") and lines[-1]:
            lines.append(self.proc.stdout.readline().strip())
        return lines

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def kill_20_times(workers: AnchorerProcesses, add, seal) -> tuple[list[str], list[int]]:
    """20 anchorer processes SIGKILLed after writing / after sending, alternately, then one
    that runs to the end. Returns the record ids added and the checkpoint sizes sealed."""
    ids: list[str] = []
    sealed: list[int] = []
    for i in range(20):
        ids += add(2)
        sealed.append(seal())
        kill_at = ("written", "sent")[i % 2]
        out = workers.run(kill_at)
        assert out[-1] == "EXIT -9" and out[0].startswith(f"AT {kill_at} 0x"), out
    out = workers.run("none")
    assert out[-1] == "EXIT 0" and out[0].startswith(f"DONE {sealed[-1]} 0x"), out
    return ids, sealed


def test_the_anchorer_killed_between_sending_and_recording_20_times(world: World, tmp_path: Path):
    """SIGKILL after the signed transaction is stored (not sent) and after it is sent (not
    recorded), alternately, each time in a fresh process: no anchor lost, none made twice,
    every checkpoint anchored."""
    workers = AnchorerProcesses(str(world.data_dir), world.database_url, world.w3.provider.endpoint_uri,
                                world.operator_key.hex())  # fmt: skip
    try:
        ids, sealed = kill_20_times(workers, world.add, lambda: world.ledger.seal().tree_size)
    finally:
        workers.close()
    world.mine(CONFIRMATIONS)
    world.confirm()
    world.assert_anchored_once(sealed)  # each of the 20 checkpoints once
    for rid in ids:
        world.verify(rid)


def test_the_anchorer_killed_20_times_on_the_embedded_chain(tmp_path: Path):
    """The same on the default chain: py-evm in the anchorer's own process, persisted per
    block, so a kill can also land while the block is being written."""
    from ledger.chain.embedded import open_embedded_chain

    key = os.urandom(32)
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/l.db", operator_key=key.hex())
    ledger, _ = init_data_dir(settings, origin="faults.test/embedded", deploy_embedded=True)
    provider_key = os.urandom(32)
    register_participant(ledger, key, address=address_of(provider_key), name="P",
                         legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip

    def add(n: int) -> list[str]:
        subs = [signed_submission(ledger, provider_key, kind="dataset",
                                  payload={"title": f"e{i}", "content_hash": "sha256:" + "cd" * 32}) for i in range(n)]  # fmt: skip
        ledger.submit(subs)
        return [s.envelope.id for s in subs]

    workers = AnchorerProcesses(str(settings.data_dir), settings.database_url, "-", key.hex())
    try:
        ids, sealed = kill_20_times(workers, add, lambda: ledger.seal().tree_size)
    finally:
        workers.close()
    w3, backend = open_embedded_chain(settings.data_dir / "chain.db", read_only=True)
    try:
        registry = Registry(w3, ledger.log.contract)
        events = registry._contract.events.TreeHeadAnchored.get_logs(
            argument_filters={"logId": log_id(ledger.origin)}, from_block=0)  # fmt: skip
        anchored = [e["args"]["treeSize"] for e in events]
        assert anchored == sealed, anchored  # each checkpoint once, in order, none twice
        operator = Account.from_key(key).address
        assert w3.eth.get_transaction_count(operator) == 2 + len(sealed)  # deploy, createLog, 20 anchors
        by_size = {e["args"]["treeSize"]: "0x" + bytes(e["transactionHash"]).hex() for e in events}
        rows = ledger.store.anchors(ledger.log.id)
        assert {a.tree_size: a.tx_hash for a in rows if a.status == "final"} == by_size
        assert [a for a in rows if a.status == "submitted"] == []
        chain = ChainRef(ledger.log.chain_id, ledger.log.contract, reader=RegistryAnchorReader(registry))
        for rid in ids:
            verify_receipt(ledger.receipt(rid).to_json(), origin=ledger.origin, chain=chain,
                           note_key=ledger.log.note_vkey)  # fmt: skip
    finally:
        backend.kv.close()
