"""contracts/AnchorRegistry.sol, deployed from the committed build on the in-process
py-evm chain (eth-tester through web3's EthereumTesterProvider).

- every transparency-dev/merkle vector (shared/vectors/rfc6962/) through
  ``verifyInclusion`` and through ``anchor``'s consistency check, with ``ledger.merkle``'s
  verdict on the same inputs; the reference tree of 8 leaves anchored size by size;
- the reverts of DESIGN §4 with their custom errors and values decoded;
- random trees (sizes up to 300): valid proofs and single mutations, the contract's verdict
  equal to ``ledger.merkle``'s;
- gas ceilings (gas is deterministic) for ``anchor`` and ``verifyInclusion``.

Where the contract's verdict is not ``ledger.merkle``'s, it is by DESIGN §4 and asserted:
``anchor`` refuses an equal size even with the same root (a non-increasing size), which
``verify_consistency`` accepts as a proof.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import eth_abi
import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError

from ledger import merkle
from ledger.errors import InvalidProof

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "contracts" / "build" / "AnchorRegistry.json"
VECTORS = ROOT.parent / "shared" / "vectors" / "rfc6962"
TESTDATA = VECTORS / "transparency-dev-merkle-testdata"
REFERENCE_TREE = VECTORS / "reference-tree-vectors.json"

EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_PROOF = 63

# All tests here share one chain per xdist worker.
pytestmark = pytest.mark.xdist_group("contract")

# Vector files holding a hash that is not 32 bytes (garbage around a proof hash, 12-byte
# placeholder roots, empty leaves/roots): such a value cannot be passed as bytes32 at all,
# so these never reach the contract. ledger.merkle rejects every one of them for the same
# reason (DESIGN §3: hashes that are not 32 bytes are rejected);
# test_vectors_that_cannot_be_bytes32 checks this list is exactly those files and that
# verdict.
NOT_BYTES32 = frozenset(
    [f"consistency/{d}/{n}.json" for d in "1234" for n in ("preceding-garbage", "trailing-garbage", "wrong-root1", "wrong-root2")]
    + [
        f"consistency/additional/{n}.json"
        for n in (
            "roots-do-not-match-and-sizes-are-zero",
            "roots-do-not-not-match-and-sizes-are-one",
            "size1-is-greater-than-size2-again",
            "size1-is-greater-than-size2",
            "size1-is-zero-and-does-not-equal-size2",
            "size1-is-zero-and-size2-is-not-zero",
            "sizes-are-equal-one-and-proof-is-empty",
            "sizes-are-equal-one-but-roots-are-not",
            "sizes-are-equal-zero-and-proof-is-empty",
            "sizes-are-equal-zero-but-roots-are-not",
            "sizes-do-not-watch-and-proof-is-empty",
        )
    ]
    + [f"inclusion/{d}/{n}.json" for d in "01234" for n in ("preceding-garbage", "trailing-garbage", "wrong-leaf")]
    + [f"inclusion/additional/{d}/{n}.json" for d in "0123" for n in ("empty-root", "random-leaf")]
    + [f"inclusion/single-entry/{n}.json" for n in ("empty-leaf", "empty-root-and-leaf", "empty-root")]
)

ANCHOR_ERRORS = {"ProofTooLong", "SizeNotIncreasing", "ConflictingRoot", "ProofLengthMismatch", "InvalidConsistencyProof"}


# -- chain and contract ---------------------------------------------------------------


def _error_table(abi: list[dict]) -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for item in abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            table[keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return table


@dataclass
class Registry:
    w3: Web3
    contract: object
    operator: str
    other: str
    errors: dict[bytes, tuple[str, list[str]]]
    _ids: itertools.count = field(default_factory=itertools.count)
    _anchored: dict = field(default_factory=dict)

    def new_log(self, sender: str | None = None) -> bytes:
        log_id = hashlib.sha256(b"test-log/%d" % next(self._ids)).digest()
        self.transact("createLog", log_id, sender=sender)
        return log_id

    def transact(self, fn: str, *args, sender: str | None = None):
        tx = getattr(self.contract.functions, fn)(*args).transact({"from": sender or self.operator})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt.status == 1
        return receipt

    def decode(self, exc: Exception) -> tuple:
        if isinstance(exc, ContractCustomError):
            raw = bytes.fromhex(str(exc.data).removeprefix("0x"))
        else:  # eth-tester's TransactionFailed: "execution reverted: b'<revert data>'"
            raw = ast.literal_eval(str(exc.args[0]).removeprefix("execution reverted: "))
        name, types = self.errors[raw[:4]]
        values = eth_abi.decode(types, raw[4:])
        return (name, *(Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(types, values)))

    def reverts(self, fn: str, *args, sender: str | None = None) -> tuple | None:
        """eth_call ``fn``: None if it would succeed, else the decoded custom error."""
        try:
            getattr(self.contract.functions, fn)(*args).call({"from": sender or self.operator})
        except (ContractCustomError, TransactionFailed) as exc:
            return self.decode(exc)
        return None

    def call(self, fn: str, *args):
        return getattr(self.contract.functions, fn)(*args).call({"from": self.operator})

    def log_anchored_at(self, size: int, root: bytes) -> bytes:
        """A log whose only anchored head is (size, root), anchored from size 0."""
        key = (size, root)
        if key not in self._anchored:
            log_id = self.new_log()
            self.transact("anchor", log_id, size, root, [])
            self._anchored[key] = log_id
        return self._anchored[key]


@pytest.fixture(scope="module")
def registry() -> Registry:
    from web3 import EthereumTesterProvider

    artifact = json.loads(BUILD.read_text())
    w3 = Web3(EthereumTesterProvider())
    operator, other = w3.eth.accounts[:2]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": operator}))
    contract = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])
    assert w3.eth.get_code(contract.address).hex().removeprefix("0x") == artifact["deployedBytecode"].removeprefix("0x")
    return Registry(w3, contract, operator, other, _error_table(artifact["abi"]))


def ledger_ok(check, *args) -> bool:
    try:
        check(*args)
    except InvalidProof:
        return False
    return True


# -- transparency-dev/merkle vectors --------------------------------------------------


def _b64(value) -> bytes:
    return base64.b64decode(value) if value is not None else b""


def _vector_files(kind: str) -> list[str]:
    return sorted(p.relative_to(TESTDATA).as_posix() for p in (TESTDATA / kind).rglob("*.json"))


def _is_bytes32_vector(rel: str) -> bool:
    d = json.loads((TESTDATA / rel).read_text())
    hashes = [d[k] for k in ("root", "leafHash", "root1", "root2") if k in d] + list(d.get("proof") or [])
    return all(len(_b64(h)) == 32 for h in hashes)


def test_vectors_that_cannot_be_bytes32():
    files = _vector_files("inclusion") + _vector_files("consistency")
    assert len(files) == 196
    assert {f for f in files if not _is_bytes32_vector(f)} == NOT_BYTES32
    for rel in sorted(NOT_BYTES32):
        d = json.loads((TESTDATA / rel).read_text())
        proof = [_b64(p) for p in d["proof"] or []]
        if rel.startswith("inclusion/"):
            args = (_b64(d["leafHash"]), d["leafIdx"], d["treeSize"], proof, _b64(d["root"]))
            assert not ledger_ok(merkle.verify_inclusion, *args), rel
        else:
            args = (d["size1"], d["size2"], _b64(d["root1"]), _b64(d["root2"]), proof)
            assert not ledger_ok(merkle.verify_consistency, *args), rel


@pytest.mark.parametrize("rel", [f for f in _vector_files("inclusion") if f not in NOT_BYTES32])
def test_inclusion_vector(registry: Registry, rel: str):
    d = json.loads((TESTDATA / rel).read_text())
    index, size, leaf, root = d["leafIdx"], d["treeSize"], _b64(d["leafHash"]), _b64(d["root"])
    proof = [_b64(p) for p in d["proof"] or []]
    want = ledger_ok(merkle.verify_inclusion, leaf, index, size, proof, root)
    if size == 0:  # nothing can be anchored at size 0: the contract refuses to answer
        log_id = registry.log_anchored_at(1, root)
        assert registry.reverts("verifyInclusion", log_id, 0, index, leaf, proof) == ("TreeSizeNotAnchored", log_id, 0)
        assert not want
        return
    log_id = registry.log_anchored_at(size, root)
    assert registry.call("verifyInclusion", log_id, size, index, leaf, proof) is want, d["desc"]


@pytest.mark.parametrize("rel", [f for f in _vector_files("consistency") if f not in NOT_BYTES32])
def test_consistency_vector(registry: Registry, rel: str):
    d = json.loads((TESTDATA / rel).read_text())
    size1, size2, root1, root2 = d["size1"], d["size2"], _b64(d["root1"]), _b64(d["root2"])
    proof = [_b64(p) for p in d["proof"] or []]
    if size1 == 0:
        # A new log's head is the empty tree (0, SHA-256("")): that is the old head the
        # contract judges against, whatever root1 the file carries.
        log_id = registry.new_log()
        root1 = EMPTY_ROOT
    else:
        log_id = registry.log_anchored_at(size1, root1)
    want = ledger_ok(merkle.verify_consistency, size1, size2, root1, root2, proof)
    got = registry.reverts("anchor", log_id, size2, root2, proof)
    if want and size2 == size1:  # DESIGN §4: a non-increasing size is refused
        assert got == ("SizeNotIncreasing", size1, size2)
    elif want:
        assert got is None, (d["desc"], got)
    else:
        assert got is not None and got[0] in ANCHOR_ERRORS, (d["desc"], got)


def test_reference_tree_anchored_size_by_size(registry: Registry):
    ref = json.loads(REFERENCE_TREE.read_text())
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in ref["leafInputsHex"]]
    roots = [bytes.fromhex(r) for r in ref["rootHashesByTreeSize"]]
    log_id = registry.new_log()
    assert registry.call("head", log_id) == [0, roots[0], 0, 0]
    for size in range(1, len(leaves) + 1):
        proof = merkle.consistency_proof(leaves, size - 1, size) if size > 1 else []
        registry.transact("anchor", log_id, size, roots[size], proof)
        assert registry.call("head", log_id)[:2] == [size, roots[size]]
        for index in range(size):
            proof = merkle.inclusion_proof(leaves, index, size)
            assert registry.call("verifyInclusion", log_id, size, index, leaves[index], proof) is True
    for size1, size2 in itertools.combinations(range(1, len(leaves) + 1), 2):
        proof = merkle.consistency_proof(leaves, size1, size2)
        fresh = registry.log_anchored_at(size1, roots[size1])
        assert registry.reverts("anchor", fresh, size2, roots[size2], proof) is None


# -- reverts, events, views -----------------------------------------------------------


def test_anchor_reverts_with_values(registry: Registry):
    leaves = [merkle.leaf_hash(b"%d" % i) for i in range(20)]
    root = {n: merkle.root_hash(leaves[:n]) for n in range(21)}
    log_id = registry.new_log()

    # first anchor: from size 0, only with an empty proof; size 0 itself is not an increase
    assert registry.reverts("anchor", log_id, 0, EMPTY_ROOT, []) == ("SizeNotIncreasing", 0, 0)
    assert registry.reverts("anchor", log_id, 5, root[5], [root[1]]) == ("ProofLengthMismatch", 1, 0)
    registry.transact("anchor", log_id, 5, root[5], [])

    # non-increasing size; equal size with another root
    assert registry.reverts("anchor", log_id, 4, root[4], []) == ("SizeNotIncreasing", 5, 4)
    assert registry.reverts("anchor", log_id, 5, root[5], []) == ("SizeNotIncreasing", 5, 5)
    assert registry.reverts("anchor", log_id, 5, root[6], []) == ("ConflictingRoot", 5, root[5], root[6])

    # bad proofs
    good = merkle.consistency_proof(leaves, 5, 13)
    assert registry.reverts("anchor", log_id, 13, root[13], good) is None
    assert registry.reverts("anchor", log_id, 13, root[12], good) == ("InvalidConsistencyProof", 5, 13)
    flipped = [good[0], bytes([good[1][0] ^ 1]) + good[1][1:], *good[2:]]
    assert registry.reverts("anchor", log_id, 13, root[13], flipped) == ("InvalidConsistencyProof", 5, 13)
    assert registry.reverts("anchor", log_id, 13, root[13], good[:-1]) == ("ProofLengthMismatch", len(good) - 1, len(good))
    assert registry.reverts("anchor", log_id, 13, root[13], [*good, good[0]]) == ("ProofLengthMismatch", len(good) + 1, len(good))
    assert registry.reverts("anchor", log_id, 13, root[13], [good[0]] * 64) == ("ProofTooLong", 64, MAX_PROOF)
    assert registry.reverts("anchor", log_id, 13, root[13], [good[0]] * 63) == ("ProofLengthMismatch", 63, len(good))

    # caller not the operator; unknown log
    assert registry.reverts("anchor", log_id, 13, root[13], good, sender=registry.other) == (
        "NotOperator",
        log_id,
        registry.other,
    )
    unknown = hashlib.sha256(b"no such log").digest()
    assert registry.reverts("anchor", unknown, 1, root[1], []) == ("UnknownLog", unknown)
    assert registry.reverts("createLog", log_id, sender=registry.other) == ("LogAlreadyExists", log_id)

    receipt = registry.transact("anchor", log_id, 13, root[13], good)
    (event,) = registry.contract.events.TreeHeadAnchored().process_receipt(receipt)
    assert dict(event.args) == {"logId": log_id, "treeSize": 13, "root": root[13], "previousSize": 5}


def test_views_and_operator_transfer(registry: Registry):
    leaves = [merkle.leaf_hash(b"v%d" % i) for i in range(9)]
    log_id = registry.new_log()
    unknown = hashlib.sha256(b"unknown").digest()
    assert registry.reverts("head", unknown) == ("UnknownLog", unknown)
    assert registry.reverts("rootAt", unknown, 1) == ("UnknownLog", unknown)
    assert registry.reverts("verifyInclusion", unknown, 1, 0, leaves[0], []) == ("UnknownLog", unknown)
    assert registry.call("head", log_id) == [0, EMPTY_ROOT, 0, 0]
    assert registry.reverts("rootAt", log_id, 0) == ("TreeSizeNotAnchored", log_id, 0)

    receipt = registry.transact("anchor", log_id, 4, merkle.root_hash(leaves[:4]), [])
    block = registry.w3.eth.get_block(receipt.blockNumber)
    assert registry.call("rootAt", log_id, 4) == [merkle.root_hash(leaves[:4]), block.number, block.timestamp]
    assert registry.call("head", log_id) == [4, merkle.root_hash(leaves[:4]), block.number, block.timestamp]
    assert registry.reverts("rootAt", log_id, 3) == ("TreeSizeNotAnchored", log_id, 3)
    assert registry.reverts("verifyInclusion", log_id, 9, 0, leaves[0], []) == ("TreeSizeNotAnchored", log_id, 9)
    # bad inclusion proofs are false, not reverts
    proof = merkle.inclusion_proof(leaves, 1, 4)
    assert registry.call("verifyInclusion", log_id, 4, 1, leaves[1], proof) is True
    assert registry.call("verifyInclusion", log_id, 4, 4, leaves[1], proof) is False
    assert registry.call("verifyInclusion", log_id, 4, 1, leaves[1], proof[:1]) is False
    assert registry.call("verifyInclusion", log_id, 4, 1, leaves[1], [proof[0]] * 64) is False

    # transfer: only the operator, never to zero; the new operator anchors, the old cannot
    new = registry.w3.eth.accounts[2]
    assert registry.reverts("transferOperator", log_id, new, sender=registry.other) == (
        "NotOperator",
        log_id,
        registry.other,
    )
    zero = "0x" + "00" * 20
    assert registry.reverts("transferOperator", log_id, zero) == ("InvalidOperator", zero)
    assert registry.reverts("transferOperator", unknown, new) == ("UnknownLog", unknown)
    receipt = registry.transact("transferOperator", log_id, new)
    (event,) = registry.contract.events.OperatorTransferred().process_receipt(receipt)
    assert dict(event.args) == {"logId": log_id, "previousOperator": registry.operator, "newOperator": new}
    proof = merkle.consistency_proof(leaves, 4, 9)
    assert registry.reverts("anchor", log_id, 9, merkle.root_hash(leaves), proof) == (
        "NotOperator",
        log_id,
        registry.operator,
    )
    registry.transact("anchor", log_id, 9, merkle.root_hash(leaves), proof, sender=new)
    assert registry.call("head", log_id)[:2] == [9, merkle.root_hash(leaves)]


def test_log_created_event(registry: Registry):
    log_id = hashlib.sha256(b"event test").digest()
    receipt = registry.transact("createLog", log_id, sender=registry.other)
    (event,) = registry.contract.events.LogCreated().process_receipt(receipt)
    assert dict(event.args) == {"logId": log_id, "operator": registry.other}


# -- random trees ---------------------------------------------------------------------


def _flip(h: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(32)
    return h[:i] + bytes([h[i] ^ (1 << rng.randrange(8))]) + h[i + 1 :]


def _mutations(proof: list[bytes], rng: random.Random) -> list[list[bytes]]:
    out = []
    if proof:
        i = rng.randrange(len(proof))
        out.append(proof[:i] + [_flip(proof[i], rng)] + proof[i + 1 :])
        out.append(proof[:-1])
        out.append(proof[1:])
        if len(proof) > 1:
            j = rng.randrange(len(proof) - 1)
            out.append(proof[:j] + [proof[j + 1], proof[j]] + proof[j + 2 :])
    out.append([*proof, bytes(rng.randrange(256) for _ in range(32))])
    return out


@pytest.mark.parametrize("seed", range(3))
def test_random_trees_match_ledger_merkle(registry: Registry, seed: int):
    rng = random.Random(seed)
    n = rng.randrange(200, 301)
    leaves = [merkle.leaf_hash(b"%d/%d" % (seed, i)) for i in range(n)]
    root = cache(lambda k: merkle.root_hash(leaves[:k]))
    log_id = registry.new_log()
    sizes = sorted(rng.sample(range(1, n + 1), 10) + [1, n])
    sizes = sorted(set(sizes))
    previous = 0
    for size in sizes:
        proof = merkle.consistency_proof(leaves, previous, size) if previous else []
        # single mutations of proof, root and size, judged by both
        cases = [(size, root(size), p) for p in _mutations(proof, rng)]
        cases += [(size, _flip(root(size), rng), proof)]
        if size + 1 <= n:
            cases += [(size + 1, root(size + 1), proof)]
        if size - 1 > previous:
            cases += [(size - 1, root(size - 1), proof)]
        for s2, r2, p in cases:
            want = ledger_ok(merkle.verify_consistency, previous, s2, root(previous) if previous else EMPTY_ROOT, r2, p)
            got = registry.reverts("anchor", log_id, s2, r2, p)
            assert (got is None) is want, (previous, s2, got)
        assert ledger_ok(merkle.verify_consistency, previous, size, root(previous) if previous else EMPTY_ROOT, root(size), proof)
        registry.transact("anchor", log_id, size, root(size), proof)
        previous = size

        for index in rng.sample(range(size), min(size, 4)):
            proof = merkle.inclusion_proof(leaves, index, size)
            assert registry.call("verifyInclusion", log_id, size, index, leaves[index], proof) is True
            cases = [(index, leaves[index], p) for p in _mutations(proof, rng)]
            cases += [(index, _flip(leaves[index], rng), proof)]
            cases += [(i, leaves[index], proof) for i in (index - 1, index + 1, index ^ 1, size) if 0 <= i]
            for i, leaf, p in cases:
                want = ledger_ok(merkle.verify_inclusion, leaf, i, size, p, root(size))
                assert registry.call("verifyInclusion", log_id, size, i, leaf, p) is want, (i, size)


# -- gas ------------------------------------------------------------------------------


def _uniform_tree():
    """Roots of trees of any size whose leaves are all equal (so sizes up to 2**63 are cheap)."""
    leaf = merkle.leaf_hash(b"gas")

    @cache
    def mth(n: int) -> bytes:
        if n == 1:
            return leaf
        k = merkle.split_point(n)
        return merkle.node_hash(mth(k), mth(n - k))

    def consistency(size1: int, size2: int) -> list[bytes]:
        return [mth(e - b) for b, e in merkle.consistency_proof_ranges(size1, size2)]

    def inclusion(index: int, size: int) -> list[bytes]:
        return [mth(e - b) for b, e in merkle.inclusion_proof_ranges(index, size)]

    return leaf, mth, consistency, inclusion


# (size1, size2) whose consistency proof has 30 hashes, with most "left" steps (two
# hashes each) — a worst case for that length.
# Measured (py-evm, Prague rules, solc 0.8.37 runs=10000): 119,545 gas, of which 21,000
# is the transaction's base cost, ~15,800 the proof's calldata and ~44,000 the two new
# storage slots of the head kept for rootAt; ~1,400 gas per proof hash in all.
GAS_PAIRS = {30: (2**27 - 1, 2**29 - 1)}
ANCHOR_30_CEILING = 120_000
# eth_estimateGas of the view, 30-hash proof: 67,243 measured.
INCLUSION_30_CEILING = 70_000


def anchor_gas(registry: Registry, size1: int, size2: int) -> tuple[int, int]:
    """(gas used by anchoring size2 after size1, proof length)."""
    _, mth, consistency, _ = _uniform_tree()
    log_id = registry.new_log()
    registry.transact("anchor", log_id, size1, mth(size1), [])
    proof = consistency(size1, size2)
    merkle.verify_consistency(size1, size2, mth(size1), mth(size2), proof)
    return registry.transact("anchor", log_id, size2, mth(size2), proof).gasUsed, len(proof)


def test_anchor_gas_ceiling(registry: Registry):
    gas, length = anchor_gas(registry, *GAS_PAIRS[30])
    assert length == 30
    assert gas <= ANCHOR_30_CEILING


def test_verify_inclusion_gas_ceiling(registry: Registry):
    leaf, mth, _, inclusion = _uniform_tree()
    size = 2**30
    log_id = registry.log_anchored_at(size, mth(size))
    proof = inclusion(12345, size)
    assert len(proof) == 30
    fn = registry.contract.functions.verifyInclusion(log_id, size, 12345, leaf, proof)
    assert fn.call() is True
    assert fn.estimate_gas() <= INCLUSION_30_CEILING
