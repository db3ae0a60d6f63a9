#!/usr/bin/env python
"""Anchoring benchmark: seal → anchored → final latency and throughput, embedded chain and anvil.

Per chain, one fresh ledger (SQLite file in a temp dir) and a freshly deployed
``AnchorRegistry``; the provider's dataset records are signed before any timing.

- **embedded** — ``open_embedded_chain`` on a temp file (py-evm in this process). An
  anchor is recorded ``final`` when mined: one in-process node, no reorgs, finality is
  immediate by design.
- **anvil** — npm's anvil binary on a free loopback port (started by
  tests/anvil.py), automine on: a transaction is mined as it arrives. An anchor is recorded
  ``mined``; it is final after N confirmations: N blocks mined with ``evm_mine``, then
  ``confirm_anchors(confirmations=N)``. On a real chain those N blocks take block time × N;
  here they take as long as N ``evm_mine`` calls.

Measured:

1. **latency**, over R rounds of appending a batch (default 1,000 records, ``Ledger.submit``)
   then: (a) ``Ledger.seal``; (b) ``anchor_latest`` (the anchorer's steps: chain head
   read, consistency proof from the store, ``anchor`` signed, written ``submitted``,
   broadcast, its receipt read, the row ``mined``/``final``); (c) seal → final (a + b, plus for anvil
   mining N blocks and ``confirm_anchors``). Median and p95.
2. **throughput** — checkpoints anchored per second back to back (one record appended
   between checkpoints, not timed: seal + anchor [+ confirm] only), and records per second
   end to end (submit + seal + anchor [+ confirm]) at batches of 1,000 and 10,000 records
   per checkpoint (``Ledger.submit`` takes at most 1,000 per call: 10 calls for 10,000).

    .venv/bin/python scripts/bench/anchoring.py            # ~1-2 minutes
    .venv/bin/python scripts/bench/anchoring.py --quick    # ~10 s
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "tests") not in sys.path:
    sys.path.append(str(REPO / "tests"))  # tests/anvil.py: start and stop a throwaway anvil

from _report import say, table  # the folder of this script is sys.path[0]

ORIGIN = "bench.anchoring/log"


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def ms(x: float) -> str:
    return f"{x * 1000:,.1f}"


def pct(xs: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q / 100 * len(s)) - 1))]


def payload_for(i: int) -> dict:
    return {
        "title": f"Cell test data, batch {i}",
        "content_hash": "sha256:" + hashlib.sha256(b"dataset %d" % i).hexdigest(),
        "media_type": "text/csv",
    }


class World:
    """A ledger, its registry on one chain, and how an anchor there becomes final."""

    def __init__(self, name: str, tmp: Path, w3, funder_key: bytes | None, final_when_mined: bool,
                 confirmations: int, mine: Callable[[int], None] | None) -> None:  # fmt: skip
        from eth_account import Account

        from ledger.chain import Registry, log_id
        from ledger.config import Settings
        from ledger.datadir import first_contract_address, init_data_dir, register_participant
        from ledger.envelope import address_of

        self.name, self.w3, self.final_when_mined = name, w3, final_when_mined
        self.confirmations, self._mine = confirmations, mine
        operator_key = os.urandom(32)
        self.operator = Account.from_key(operator_key)
        chain_id = w3.eth.chain_id
        settings = Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp}/ledger.db", operator_key=operator_key.hex())
        self.ledger, _ = init_data_dir(settings, origin=ORIGIN, chain_id=chain_id)
        assert self.ledger.log.contract == first_contract_address(self.operator.address)
        if funder_key is None:  # eth-tester: an unlocked prefunded account
            w3.eth.wait_for_transaction_receipt(
                w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": self.operator.address, "value": 10**20})
            )
        else:
            funder = Account.from_key(funder_key)
            tx = funder.sign_transaction({
                "to": self.operator.address, "value": 10**20, "gas": 21000, "chainId": chain_id,
                "nonce": w3.eth.get_transaction_count(funder.address), "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
            })  # fmt: skip
            w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(tx.raw_transaction))
        self.registry = Registry.deploy(w3, self.operator)
        assert self.registry.address == self.ledger.log.contract
        self.registry.create_log(self.operator, log_id(self.ledger.origin))
        self.provider_key = os.urandom(32)
        register_participant(self.ledger, operator_key, address=address_of(self.provider_key), name="Bench provider",
                             legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
        self.pool: list = []
        self._next = 0

    def sign(self, n: int) -> float:
        """Pre-sign n submissions; returns signatures per second."""
        from ledger.datadir import signed_submission

        signer = types.SimpleNamespace(origin=self.ledger.origin, domain=self.ledger.domain)
        t0 = time.perf_counter()
        base = len(self.pool)
        self.pool += [signed_submission(signer, self.provider_key, kind="dataset", payload=payload_for(base + i))  # type: ignore[arg-type]
                      for i in range(n)]  # fmt: skip
        return n / (time.perf_counter() - t0)

    def submit(self, n: int) -> None:
        from ledger.log import MAX_BATCH

        subs = self.pool[self._next : self._next + n]
        assert len(subs) == n, "signed pool exhausted"
        self._next += n
        for i in range(0, n, MAX_BATCH):
            self.ledger.submit(subs[i : i + MAX_BATCH])

    def seal(self):
        return self.ledger.seal()

    def anchor(self):
        from ledger.chain.anchorer import anchor_latest

        a = anchor_latest(self.ledger, self.registry, self.operator, final_when_mined=self.final_when_mined)
        assert a is not None
        return a

    def finalize(self, anchor) -> None:
        """Make the anchor final (anvil: mine N blocks, run the confirmer); embedded: it is."""
        from ledger.chain.anchoring import confirm_anchors

        if anchor.status == "final":
            return
        self._mine(self.confirmations)
        changed = confirm_anchors(self.ledger, self.registry, confirmations=self.confirmations)
        assert any(c.tx_hash == anchor.tx_hash and c.status == "final" for c in changed), changed


def measure(world: World, rounds: int, batch: int, b2b: int, e2e: Sequence[tuple[int, int]]) -> dict:
    total = rounds * batch + b2b + sum(b * r for b, r in e2e)
    sig_rate = world.sign(total)
    out: dict = {"sign_rate": sig_rate, "records": total}

    # 1. latency -------------------------------------------------------------------------
    submit_t, seal_t, anchor_t, confirm_t, final_t = [], [], [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        world.submit(batch)
        t1 = time.perf_counter()
        cp = world.seal()
        t2 = time.perf_counter()
        a = world.anchor()
        t3 = time.perf_counter()
        world.finalize(a)
        t4 = time.perf_counter()
        assert a.tree_size == cp.tree_size
        submit_t.append(t1 - t0)
        seal_t.append(t2 - t1)
        anchor_t.append(t3 - t2)
        confirm_t.append(t4 - t3)
        final_t.append(t4 - t1)
    out["latency"] = {"submit": submit_t, "seal": seal_t, "anchor": anchor_t, "confirm": confirm_t, "final": final_t}
    out["size_after_latency"] = world.ledger.store.tree_size(world.ledger.log.id)

    # 2a. checkpoints back to back ----------------------------------------------------------
    work = 0.0
    for _ in range(b2b):
        world.submit(1)  # not timed: a checkpoint needs a new tree size
        t0 = time.perf_counter()
        world.seal()
        world.finalize(world.anchor())
        work += time.perf_counter() - t0
    out["b2b"] = (b2b, work)

    # 2b. records per second end to end ------------------------------------------------------
    out["e2e"] = []
    for b, r in e2e:
        t0 = time.perf_counter()
        for _ in range(r):
            world.submit(b)
            world.seal()
            world.finalize(world.anchor())
        out["e2e"].append((b, r, time.perf_counter() - t0))
    out["final_size"] = world.ledger.store.tree_size(world.ledger.log.id)
    return out


def report(name: str, res: dict, batch: int, finality: str) -> None:
    lat = res["latency"]
    n = len(lat["seal"])
    rows = []
    labels = [
        ("submit (not in seal → final)", "submit", f"Ledger.submit of {batch:,} pre-signed records"),
        ("(a) seal", "seal", "Ledger.seal: root from tiles, signed checkpoint"),
        ("(b) anchor", "anchor", "anchor_latest: head read, consistency proof, tx, receipt"),
        ("    confirm", "confirm", finality),
        ("(c) seal → final", "final", "(a) + (b) + confirm"),
    ]
    for label, key, what in labels:
        xs = lat[key]
        rows.append([label, ms(statistics.median(xs)), ms(pct(xs, 95)), ms(min(xs)), ms(max(xs)), what])
    say(f"latency over {n} rounds of {batch:,} records (ms):")
    table(["step", "median", "p95", "min", "max", "what"], rows)
    k, work = res["b2b"]
    rows = []
    if k:
        rows.append(["checkpoints back to back (1 record each)", f"{k:,} checkpoints", f"{work:.2f} s", f"{k / work:,.1f} checkpoints/s"])
    for b, r, dt in res["e2e"]:
        rows.append([f"end to end, {b:,} records per checkpoint", f"{r} × {b:,} records", f"{dt:.2f} s", f"{b * r / dt:,.0f} records/s"])
    say("throughput (seal + anchor" + ("" if name == "embedded" else " + mine N + confirm") + "; end to end adds submit):")
    table(["what", "work", "time", "rate"], rows)
    say(f"client signing (before timing): {res['sign_rate']:,.0f} signatures/s; log size at the end: {res['final_size']:,}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="3 rounds, 5 back-to-back checkpoints, one checkpoint per e2e batch size")
    p.add_argument("--rounds", type=int, help="latency rounds (default 30; quick 3)")
    p.add_argument("--batch", type=int, default=1000, help="records appended per latency round (default 1,000)")
    p.add_argument("--back-to-back", type=int, help="checkpoints anchored back to back (default 50; quick 5)")
    p.add_argument("--confirmations", type=int, default=3, help="anvil: blocks on top before final (default 3)")
    p.add_argument("--chains", default="embedded,anvil", help="comma-separated: embedded, anvil")
    p.add_argument("--tmpdir", type=Path, default=None, help="where the ledger and chain files go (default: system temp dir)")
    a = p.parse_args()
    rounds = a.rounds or (3 if a.quick else 30)
    b2b = a.back_to_back if a.back_to_back is not None else (5 if a.quick else 50)
    e2e = [(1_000, 2), (10_000, 1)] if a.quick else [(1_000, 10), (10_000, 3)]
    chains = [c.strip() for c in a.chains.split(",") if c.strip()]
    if a.tmpdir is not None:
        a.tmpdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="tdsl-bench-anchoring-", dir=a.tmpdir))
    t_start = time.perf_counter()
    say(f"machine: {os.cpu_count()} CPUs, load average {load()} (1/5/15 min) at the start; temp dir {tmp}")
    say(f"rounds {rounds} × {a.batch:,} records; back to back {b2b}; end to end "
        + ", ".join(f"{r} × {b:,}" for b, r in e2e) + f"; anvil confirmations N = {a.confirmations}")  # fmt: skip
    try:
        for chain in chains:
            say()
            if chain == "embedded":
                from ledger.chain.embedded import open_embedded_chain

                d = tmp / "embedded"
                d.mkdir()
                w3, backend = open_embedded_chain(d / "chain.db")
                try:
                    fork = type(backend.chain.get_vm()).__name__ if hasattr(backend, "chain") else "py-evm"
                    say(f"== embedded chain (py-evm {fork} in this process, {d / 'chain.db'}); final when mined")
                    world = World("embedded", d, w3, None, True, 0, None)
                    res = measure(world, rounds, a.batch, b2b, e2e)
                finally:
                    backend.kv.close()
                report("embedded", res, a.batch, "none: final when mined (one in-process node)")
            elif chain == "anvil":
                import anvil as anvil_helper  # tests/anvil.py
                from web3 import Web3

                if not os.access(anvil_helper.ANVIL, os.X_OK):
                    say(f"== anvil: {anvil_helper.ANVIL} not found (run `npm ci`); skipped")
                    continue
                version = subprocess.run([str(anvil_helper.ANVIL), "--version"], check=False, capture_output=True, text=True).stdout.split("\n")[0]
                d = tmp / "anvil"
                d.mkdir()
                with anvil_helper.anvil_node() as node:
                    w3 = Web3(Web3.HTTPProvider(node.url))

                    def mine(k: int, w3=w3) -> None:
                        for _ in range(k):
                            w3.provider.make_request("evm_mine", [])

                    say(f"== anvil ({version}, automine, {node.url}, pid {node.pid}); final after N = {a.confirmations} "
                        "confirmations (evm_mine × N, then confirm_anchors)")  # fmt: skip
                    world = World("anvil", d, w3, node.dev_keys[0], False, a.confirmations, mine)
                    res = measure(world, rounds, a.batch, b2b, e2e)
                report("anvil", res, a.batch, f"evm_mine × {a.confirmations} + confirm_anchors (real chain: block time × {a.confirmations})")
            else:
                say(f"unknown chain {chain!r}; skipped")
            say(f"load average {load()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say()
    say(f"load average {load()} at the end; elapsed {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
