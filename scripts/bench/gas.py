#!/usr/bin/env python
"""Gas of AnchorRegistry.anchor against proof length and per record, beside per-record attestation.

Deterministic (gas, not time), on eth-tester's in-process py-evm chain, from the committed
build contracts/build/AnchorRegistry.json. Every figure is ``gasUsed`` from a receipt of a
transaction that succeeded, i.e. whose consistency proof the contract verified.

1. **anchor vs proof length** — for each length L (0, 1, 2, 5, ..., 63) a few (size1, size2)
   pairs whose RFC 9162 consistency proof has exactly L hashes: a log anchored at size1,
   then ``anchor(size2, root2, proof)`` measured. Trees of up to 2^20 leaves are built
   from distinct leaves; a 30-hash proof needs ~2^29 leaves and 63 hashes ~2^63, so every
   length is also measured on a *uniform* log (every leaf the same record), whose subtree
   hashes depend only on their width and are computed in O(log n): real roots and real
   proofs of real trees, of any size below 2^64. Where both apply, the same pair is
   anchored on both kinds of tree to show the gas does not depend on the leaves.
2. **gas per record** — batches of 1,000, 10,000 and 100,000 distinct records anchored one
   anchor per batch (0 → B → 2B → ...), gas / B; the same batches added to uniform logs
   already holding 10^6 and 10^9 records. Beside them, measured in the same run,
   ``PerRecordAttestation`` (scripts/bench/PerRecordAttestation.sol): one fresh SSTORE and
   one event per record, one transaction per record, and batched (``attestMany``).
3. **target and breakdown** — the 30-hash anchor against 75,000 gas; its gas split into
   intrinsic, calldata and execution, and the execution split by ``AnchorStorageFloor``
   (same calldata, storage writes and event as ``anchor``, no proof check).

    .venv/bin/python scripts/bench/gas.py            # ~1 minute
    .venv/bin/python scripts/bench/gas.py --quick    # smaller trees, fewer pairs
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _report import say, table  # the folder of this script is sys.path[0]
from ledger import merkle

TARGET_30 = 75_000  # gas, anchor with a 30-hash consistency proof
INTRINSIC = 21_000
LENGTHS = (0, 1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 63)
BATCHES = (1_000, 10_000, 100_000)
BIG_LOGS = (10**6, 10**9)
ARTIFACT = REPO / "contracts" / "build" / "AnchorRegistry.json"
BASELINE_SOL = Path(__file__).resolve().parent / "PerRecordAttestation.sol"


def _compile_contracts_module():
    spec = importlib.util.spec_from_file_location("compile_contracts", REPO / "scripts" / "compile_contracts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def calldata_gas(data: bytes) -> int:
    """EIP-2028 calldata cost: 16 per non-zero byte, 4 per zero byte."""
    return sum(16 if b else 4 for b in data)


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague) floor on a transaction's gas: 21,000 + 10 per token (zero byte 1, other 4)."""
    return INTRINSIC + 10 * sum(4 if b else 1 for b in data)


def n(x: float) -> str:
    return f"{x:,.0f}"


# -- trees ------------------------------------------------------------------------------


class LeafTree:
    """All perfect subtrees of a list of distinct leaf hashes, level by level."""

    def __init__(self, hashes: list[bytes]):
        self.levels = [hashes]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            self.levels.append([merkle.node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
        self.size = len(hashes)

    def range_hash(self, begin: int, end: int) -> bytes:
        subs, p, w = [], begin, end - begin
        for j in reversed(range(w.bit_length())):
            if w >> j & 1:
                assert p % (1 << j) == 0, "unaligned range"
                subs.append(self.levels[j][p >> j])
                p += 1 << j
        return merkle.fold_subtrees(subs)

    def root(self, size: int) -> bytes:
        return self.range_hash(0, size)

    def proof(self, size1: int, size2: int) -> list[bytes]:
        return [self.range_hash(b, e) for b, e in merkle.consistency_proof_ranges(size1, size2)]


class UniformTree:
    """A log whose every leaf is the same record: a subtree's hash depends on its width only."""

    def __init__(self, leaf: bytes):
        self.perfect = [leaf]

    def _perfect(self, height: int) -> bytes:
        while len(self.perfect) <= height:
            self.perfect.append(merkle.node_hash(self.perfect[-1], self.perfect[-1]))
        return self.perfect[height]

    def width_hash(self, width: int) -> bytes:
        return merkle.fold_subtrees([self._perfect(j) for j in reversed(range(width.bit_length())) if width >> j & 1])

    def root(self, size: int) -> bytes:
        return self.width_hash(size)

    def proof(self, size1: int, size2: int) -> list[bytes]:
        return [self.width_hash(e - b) for b, e in merkle.consistency_proof_ranges(size1, size2)]


def proof_length(size1: int, size2: int) -> int:
    return len(merkle.consistency_proof_ranges(size1, size2))


def sha_calls(size1: int, size2: int) -> int:
    """SHA-256 precompile calls AnchorRegistry._verifyConsistency makes (same walk as the contract)."""
    length = proof_length(size1, size2)
    fn, sn = size1 - 1, size2 - 1
    i = 0 if size1 & (size1 - 1) == 0 else 1
    calls = 0
    while fn & 1:
        fn >>= 1
        sn >>= 1
    for _ in range(i, length):
        if fn & 1 or fn == sn:
            calls += 2
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            calls += 1
        fn >>= 1
        sn >>= 1
    return calls


def find_pairs(length: int, count: int, rng: random.Random, max_size2: int = 2**64 - 1) -> list[tuple[int, int]]:
    """`count` distinct (size1, size2) pairs, 0 < size1 < size2 <= max_size2, with a proof of `length` hashes."""
    found: list[tuple[int, int]] = []
    top = max_size2.bit_length()
    bits = [b for b in range(max(2, length - 2), min(top, length + 2) + 1)]
    for _ in range(200_000):
        if len(found) == count or not bits:
            break
        b = rng.choice(bits)
        size2 = rng.randrange(1 << (b - 1), min(1 << b, max_size2 + 1))
        if size2 < 2:
            continue
        size1 = rng.randrange(1, size2)
        if proof_length(size1, size2) == length and (size1, size2) not in found:
            found.append((size1, size2))
    return found


# -- chain ------------------------------------------------------------------------------


class Chain:
    def __init__(self):
        from web3 import EthereumTesterProvider, Web3

        self.w3 = Web3(EthereumTesterProvider())
        self.op = self.w3.eth.accounts[0]
        self.fork = type(self.w3.provider.ethereum_tester.backend.chain.get_vm()).__name__
        self._ids = 0

    def deploy(self, abi: list, bytecode: str):
        factory = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": self.op}))
        return self.w3.eth.contract(address=receipt.contractAddress, abi=abi)

    def send(self, call) -> tuple[int, bytes]:
        """(gasUsed, calldata) of a transaction that must succeed."""
        tx = call.transact({"from": self.op})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1
        return receipt.gasUsed, bytes(self.w3.eth.get_transaction(tx)["input"])

    def new_log(self, contract) -> bytes:
        self._ids += 1
        log_id = hashlib.sha256(b"bench/gas/%d" % self._ids).digest()
        self.send(contract.functions.createLog(log_id))
        return log_id


def anchor_pair(chain: Chain, contract, tree, size1: int, size2: int) -> tuple[int, bytes]:
    """Anchor size1 (from 0), then measure the anchor of size2 with its consistency proof."""
    root1, root2, proof = tree.root(size1), tree.root(size2), tree.proof(size1, size2)
    merkle.verify_consistency(size1, size2, root1, root2, proof)  # off chain too
    log_id = chain.new_log(contract)
    chain.send(contract.functions.anchor(log_id, size1, root1, []))
    return chain.send(contract.functions.anchor(log_id, size2, root2, proof))


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


# -- main -------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="distinct trees up to 2^14, 1 pair per length, fewer transactions")
    p.add_argument("--pairs", type=int, help="(size1, size2) pairs per proof length (default 3; quick 1)")
    p.add_argument("--distinct-log2", type=int, help="distinct-leaf tree of 2^k leaves (default 20; quick 14)")
    p.add_argument("--anchors", type=int, help="anchors per batch size (default 10; quick 3)")
    p.add_argument("--attest", type=int, help="single-record attest transactions (default 100; quick 20)")
    p.add_argument("--seed", type=int, default=9162)
    p.add_argument("--tmpdir", help="ignored (accepted for symmetry with the other bench scripts)")
    a = p.parse_args()
    pairs_per = a.pairs or (1 if a.quick else 3)
    k_distinct = a.distinct_log2 or (14 if a.quick else 20)
    n_anchors = a.anchors or (3 if a.quick else 10)
    n_attest = a.attest or (20 if a.quick else 100)
    batches = BATCHES[:2] if a.quick else BATCHES
    many = (100,) if a.quick else (100, 1000)
    rng = random.Random(a.seed)
    t_start = time.perf_counter()

    artifact = json.loads(ARTIFACT.read_text())
    cc = _compile_contracts_module()
    version, output = cc.compile_sources({BASELINE_SOL.name: BASELINE_SOL.read_text(encoding="utf-8")})
    baseline = output["contracts"][BASELINE_SOL.name]

    chain = Chain()
    registry = chain.deploy(artifact["abi"], artifact["bytecode"])
    floor = chain.deploy(baseline["AnchorStorageFloor"]["abi"], "0x" + baseline["AnchorStorageFloor"]["evm"]["bytecode"]["object"])
    attest = chain.deploy(baseline["PerRecordAttestation"]["abi"], "0x" + baseline["PerRecordAttestation"]["evm"]["bytecode"]["object"])
    say(f"chain: eth-tester py-evm {chain.fork}; AnchorRegistry from {ARTIFACT.relative_to(REPO)} "
        f"({artifact['compiler']['version']}); baselines compiled now with {version}")  # fmt: skip

    n_leaves = max(1 << k_distinct, n_anchors * max(batches))
    leaves = [merkle.leaf_hash(b"bench/gas record %d" % i) for i in range(n_leaves)]
    distinct = LeafTree(leaves)
    assert distinct.root(1000) == merkle.root_hash(leaves[:1000])
    uniform = UniformTree(merkle.leaf_hash(b"bench/gas uniform record"))
    say(f"distinct-leaf tree: {n_leaves:,} leaves; uniform log: any size < 2^64")
    say()

    # 1. anchor against proof length ----------------------------------------------------
    say("== 1. anchor gas against consistency-proof length (gasUsed; the second anchor of a log)")
    rows, points, by_len = [], [], {}
    for length in LENGTHS:
        if length == 0:  # only a log's first anchor (from size 0) has an empty proof
            log_id = chain.new_log(registry)
            gas, data = chain.send(registry.functions.anchor(log_id, 1000, uniform.root(1000), []))
            by_len[0] = [(gas, data, 0, 1000, 0)]
            rows.append(["0 (first anchor, 0 → 1000)", 1, n(gas), n(gas), n(calldata_gas(data)), n(gas - INTRINSIC - calldata_gas(data)), 0])
            continue
        pairs = find_pairs(length, pairs_per, rng)
        if not pairs:
            rows.append([str(length), 0, "unreachable below 2^64", "", "", "", ""])
            continue
        results = []
        for size1, size2 in pairs:
            gas, data = anchor_pair(chain, registry, uniform, size1, size2)
            results.append((gas, data, size1, size2, sha_calls(size1, size2)))
            points.append((length, gas))
        by_len[length] = results
        gases = [r[0] for r in results]
        mid = sorted(results, key=lambda r: r[0])[len(results) // 2]
        rows.append([str(length), len(results), n(min(gases)), n(max(gases)), n(calldata_gas(mid[1])),
                     n(mid[0] - INTRINSIC - calldata_gas(mid[1])), f"{min(r[4] for r in results)}–{max(r[4] for r in results)}"])  # fmt: skip
    say("uniform logs (real roots and proofs; sizes up to 2^64 - 1); calldata and execution of the median pair:")
    table(["proof hashes", "pairs", "gas min", "gas max", "calldata", "execution", "SHA-256 calls"], rows)
    b0, b1 = fit([x for x, _ in points], [y for _, y in points])
    say(f"least squares over {len(points)} anchors with L ≥ 1: gas ≈ {n(b0)} + {n(b1)} × L "
        f"(calldata alone: 32 bytes = {n(calldata_gas(bytes(range(1, 33))))} gas per non-zero hash)")  # fmt: skip

    # Cross-check: the same pairs on distinct leaves.
    say()
    say(f"the same (size1, size2) on distinct leaves (tree of {n_leaves:,}) and on a uniform log:")
    rows = []
    for length in LENGTHS[1:]:
        pair = find_pairs(length, 1, rng, max_size2=n_leaves)
        if not pair:
            continue
        size1, size2 = pair[0]
        g_d, d_d = anchor_pair(chain, registry, distinct, size1, size2)
        g_u, d_u = anchor_pair(chain, registry, uniform, size1, size2)
        rows.append([str(length), f"{size1:,} → {size2:,}", n(g_d), n(g_u), f"{g_d - g_u:+,}",
                     f"{calldata_gas(d_d) - calldata_gas(d_u):+,}"])  # fmt: skip
    table(["proof hashes", "sizes", "distinct", "uniform", "difference", "of which calldata"], rows)
    say()

    # 2. gas per record -----------------------------------------------------------------
    say("== 2. gas per record: one anchor per batch, beside one attestation per record")
    att_gas = []
    for i in range(n_attest):
        gas, _ = chain.send(attest.functions.attest(hashlib.sha256(b"attest %d" % i).digest()))
        att_gas.append(gas)
    att = statistics.fmean(att_gas)
    many_rows = []
    for m in many:
        hashes = [hashlib.sha256(b"many %d %d" % (m, i)).digest() for i in range(m)]
        gas, _ = chain.send(attest.functions.attestMany(hashes))
        many_rows.append((m, gas))
    rows = []
    for batch in batches:
        log_id = chain.new_log(registry)
        first, steady, lens = None, [], []
        for k in range(n_anchors):
            s1, s2 = k * batch, (k + 1) * batch
            proof = distinct.proof(s1, s2) if s1 else []
            gas, _ = chain.send(registry.functions.anchor(log_id, s2, distinct.root(s2), proof))
            if k == 0:
                first = gas
            else:
                steady.append(gas)
                lens.append(len(proof))
        mean = statistics.fmean(steady)
        rows.append([f"{batch:,}", f"{batch:,} → {n_anchors * batch:,}, {n_anchors - 1} anchors (distinct)", f"{min(lens)}–{max(lens)}",
                     f"{n(mean)} ({n(min(steady))}–{n(max(steady))})", f"{mean / batch:.2f}", f"{att / (mean / batch):,.0f}×"])  # fmt: skip
        for big in BIG_LOGS:
            s1, s2 = big, big + batch
            gas, _ = anchor_pair(chain, registry, uniform, s1, s2)
            rows.append([f"{batch:,}", f"{big:,} → +{batch:,} (uniform)", str(proof_length(s1, s2)), n(gas),
                         f"{gas / batch:.2f}", f"{att / (gas / batch):,.0f}×"])  # fmt: skip
        rows.append([f"{batch:,}", "first anchor 0 → batch", "0", n(first), f"{first / batch:.2f}", f"{att / (first / batch):,.0f}×"])
    table(["batch", "anchors", "proof hashes", "gas per anchor", "gas per record", "attest ÷ anchor"], rows)
    say(f"PerRecordAttestation.attest, one transaction per record: {n(att)} gas per record "
        f"(mean of {n_attest}; {n(min(att_gas))}–{n(max(att_gas))})")  # fmt: skip
    for m, gas in many_rows:
        say(f"PerRecordAttestation.attestMany, {m:,} records in one transaction: {n(gas)} gas, {n(gas / m)} per record")
    say()

    # 3. target and breakdown -------------------------------------------------------------
    say("== 3. the 30-hash anchor: target and breakdown")
    r30 = by_len.get(30, [])
    if not r30:
        say("no 30-hash pair measured")
        return 1
    gas30 = max(r[0] for r in r30)
    gas, data, size1, size2, calls = sorted(r30, key=lambda r: r[0])[len(r30) // 2]
    cd = calldata_gas(data)
    # The floor: same calldata into AnchorStorageFloor (same writes and event, no proof check).
    log_id = chain.new_log(floor)
    chain.send(floor.functions.anchor(log_id, size1, uniform.root(size1), []))
    fgas, fdata = chain.send(floor.functions.anchor(log_id, size2, uniform.root(size2), uniform.proof(size1, size2)))
    fcd = calldata_gas(fdata)  # another log id: a few zero bytes may differ
    nonzero = sum(1 for b in data if b)
    rows = [
        ["intrinsic (transaction)", n(INTRINSIC), n(INTRINSIC)],
        [f"calldata ({len(data):,} bytes, {nonzero:,} non-zero)", n(cd), n(fcd)],
        ["execution", n(gas - INTRINSIC - cd), n(fgas - INTRINSIC - fcd)],
        ["total gasUsed", n(gas), n(fgas)],
    ]
    say(f"median 30-hash pair {size1:,} → {size2:,} ({calls} SHA-256 calls); AnchorStorageFloor = same calldata,")
    say("same storage writes and event, no proof check:")
    table(["part", "anchor", "floor (no check)"], rows)
    say(f"proof check (anchor − floor): {n(gas - fgas)} gas, of which calldata {cd - fcd:+,}; EIP-7623 floor for this calldata: {n(calldata_floor(data))} (not binding)")
    say("of the floor's execution, by the gas schedule (EIP-2929/2200): two fresh slots 2 × 22,100 = 44,200;")
    say("the log slot (cold read 2,100 + dirty write 2,900); the event LOG3 with 64 data bytes 2,012")
    verdict = "met" if gas30 <= TARGET_30 else "MISSED"
    say()
    say(f"anchor with a 30-hash proof ≤ {TARGET_30:,} gas: measured {n(gas30)} (max of {len(r30)}; "
        f"{n(min(r[0] for r in r30))}–{n(gas30)}) -> {verdict}")  # fmt: skip
    say(f"(the interface's floor without any proof check is already {n(fgas)} gas)")
    say(f"elapsed {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
