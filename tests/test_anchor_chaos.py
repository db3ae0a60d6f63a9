"""The anchorer and confirmer under a random schedule of faults on a real node (anvil).

Each seeded run interleaves, at random: new records and checkpoints, anchorer steps,
blocks, confirmer passes, dropped transactions (``anvil_dropTransaction``), base-fee
spikes (``anvil_setNextBlockBaseFeePerGas``), time passing beyond ``stuck_seconds``, a
crash of the anchorer right after it writes or sends a transaction (a fresh ``Anchorer``
carries on), and
in the second kind of run reorgs (``anvil_reorg``). Mining is manual (automine off), so
transactions really sit in the pool while the faults hit them.

Then the chain runs on (blocks, steps, confirmer) until the latest checkpoint is final,
and the invariants are checked: the chain's head is the latest checkpoint; no tree size
was anchored twice on the canonical chain; every ``mined``/``final`` row names the
canonical transaction of its size; nothing stays ``submitted``; every receipt verifies
with the confirmations required. Without reorgs, also: every transaction the operator
ever got mined is one successful anchor of a new size (nonce count = deploy + createLog +
anchored sizes), so no anchor was sent twice and none reverted. With reorgs a sent anchor
can revert legitimately (its proof starts from a head the reorg removed), so that count
is not asserted there.

``TDSL_CHAOS_RUNS=N`` runs N seeds of each kind (default 3 and 2) and
``TDSL_CHAOS_OPS`` the schedule length (default 80), for a longer hunt by hand.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger.chain import log_id
from ledger.chain.anchorer import Anchorer, AnchorPolicy
from anvil import anvil_node
from test_anchor_faults import CONFIRMATIONS, World

STUCK = 30.0
RUNS = int(os.environ.get("TDSL_CHAOS_RUNS", "0"))
OPS = int(os.environ.get("TDSL_CHAOS_OPS", "80"))


@pytest.fixture
def anchored_world(tmp_path) -> Iterator[World]:
    with anvil_node() as node:
        yield World(tmp_path, node)


class _Crash(Exception):
    pass


class Chaos:
    def __init__(self, world: World, seed: int, reorgs: bool) -> None:
        self.world, self.rng, self.reorgs = world, random.Random(seed), reorgs
        self.now = datetime(2026, 11, 27, tzinfo=UTC)
        self.floor = world.w3.eth.block_number  # never reorg the deploy / createLog blocks
        self.ids: list[str] = []
        self.log: list[str] = []
        self.restart()

    def restart(self, crash_at: str | None = None) -> None:
        def on_event(event: str, row) -> None:
            if event == crash_at:
                raise _Crash(event)

        self.world.anchorer = Anchorer(
            self.world.ledger, self.world.registry, self.world.operator,
            AnchorPolicy(final_when_mined=False, stuck_seconds=STUCK), on_event=on_event, clock=lambda: self.now,
        )  # fmt: skip

    def pending(self) -> list:
        return [a for a in self.world.anchorer.in_flight()
                if self.world.rpc("eth_getTransactionByHash", a.tx_hash) is not None]  # fmt: skip

    def op(self) -> None:
        w, rng = self.world, self.rng
        choices = ["records", "step", "step", "step", "mine", "mine", "confirm", "drop", "spike", "stall", "crash"]
        if self.reorgs:
            choices += ["reorg"]
        what = rng.choice(choices)
        if what == "records":
            self.ids += w.add(rng.randint(1, 3))
            w.ledger.seal()
        elif what == "step":
            w.anchorer.step()
        elif what == "mine":
            w.mine(rng.randint(1, 3))
        elif what == "confirm":
            w.confirm()
        elif what == "drop":
            pending = self.pending()
            if not pending:
                return
            w.rpc("anvil_dropTransaction", rng.choice(pending).tx_hash)
        elif what == "spike":
            w.rpc("anvil_setNextBlockBaseFeePerGas", hex(rng.randint(20, 200) * 10**9))
            w.mine(1)
        elif what == "stall":
            self.now += timedelta(seconds=STUCK + 1)
        elif what == "crash":
            self.restart(crash_at=rng.choice(["written", "sent", "bumped", "revived"]))
            try:
                w.anchorer.step()
            except _Crash:
                pass
            self.restart()
        elif what == "reorg":
            depth = min(rng.randint(1, 3), w.w3.eth.block_number - self.floor)
            if depth < 1:
                return
            w.rpc("anvil_reorg", depth, [])
        self.log.append(what)

    def settle(self) -> None:
        """Let the chain run on until the latest checkpoint is final and nothing is in flight."""
        w = self.world
        for _ in range(200):
            w.anchorer.step()
            w.mine(1)
            w.anchorer.step()
            w.confirm()
            cp = w.ledger.store.latest_checkpoint(w.ledger.log.id)
            final = [a for a in w.rows(cp.tree_size) if a.status == "final"]
            if final and not w.anchorer.in_flight():
                return
            self.now += timedelta(seconds=5)
        raise AssertionError(f"not settled after 200 rounds; ops: {self.log}; rows: {w.rows()}")


def _check(world: World, ids: list[str], *, strict_nonces: bool) -> None:
    w = world
    events = w.registry._contract.events.TreeHeadAnchored.get_logs(
        argument_filters={"logId": log_id(w.ledger.origin)}, from_block=0)  # fmt: skip
    anchored = [e["args"]["treeSize"] for e in events]
    assert anchored == sorted(set(anchored)), f"a size anchored twice or out of order: {anchored}"
    cp = w.ledger.store.latest_checkpoint(w.ledger.log.id)
    assert w.registry.head(log_id(w.ledger.origin)).tree_size == cp.tree_size
    canonical = {e["args"]["treeSize"]: "0x" + bytes(e["transactionHash"]).hex() for e in events}
    for a in w.rows():
        if a.status in ("mined", "final"):
            assert canonical.get(a.tree_size) == a.tx_hash, (a, canonical)
    assert w.anchorer.in_flight() == []
    if strict_nonces:
        assert w.w3.eth.get_transaction_count(w.operator.address, "latest") == 2 + len(anchored)
    for rid in ids:
        w.verify(rid)


def _run(world: World, seed: int, *, reorgs: bool) -> Chaos:
    """A schedule of OPS random operations, then the chain runs on until all is final."""
    world.rpc("evm_setAutomine", False)
    chaos = Chaos(world, seed, reorgs=reorgs)
    chaos.ids += world.add(2)
    world.ledger.seal()
    for _ in range(OPS):
        chaos.op()
    chaos.settle()
    world.mine(CONFIRMATIONS)
    world.confirm()
    return chaos


@pytest.mark.parametrize("seed", range(1, 1 + (RUNS or 3)))
def test_random_faults_without_reorgs(anchored_world: World, seed: int):
    chaos = _run(anchored_world, seed, reorgs=False)
    assert {"records", "drop", "spike", "crash"} <= set(chaos.log), chaos.log  # the schedule did hit
    _check(anchored_world, chaos.ids, strict_nonces=True)


@pytest.mark.parametrize("seed", range(1001, 1001 + (RUNS or 2)))
def test_random_faults_with_reorgs(anchored_world: World, seed: int):
    chaos = _run(anchored_world, seed, reorgs=True)
    assert "reorg" in chaos.log, chaos.log
    _check(anchored_world, chaos.ids, strict_nonces=False)
