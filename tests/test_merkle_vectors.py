"""ledger.merkle against public RFC 6962 / RFC 9162 vectors (shared/vectors/rfc6962/).

- ``transparency-dev-merkle-testdata/``: every JSON file (inclusion and consistency,
  every folder), one test each, reported by its path and ``desc``. Each file is a happy
  path or a named mutation of one, with the Go library's verdict in ``wantErr``.
- ``reference-tree-vectors.json``: known answers for the hasher, the 8 reference
  leaves, their node hashes and the roots of sizes 0..8.

Our verdict is Go's except where DESIGN.md §3 decides otherwise; those cases are listed
in ``OUR_REASON`` and ``SIZE_ZERO_POLICY`` with the reason, and asserted, never skipped.
"""

import base64
import hashlib
import json
from pathlib import Path

import merkle_reference as ref
import pytest

from ledger import merkle
from ledger.errors import InvalidProof

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
TESTDATA = VECTORS / "rfc6962" / "transparency-dev-merkle-testdata"
REFERENCE_TREE = VECTORS / "rfc6962" / "reference-tree-vectors.json"

# Files at transparency-dev/merkle 417fb0c, so that a missing folder fails loudly
# instead of quietly parametrizing fewer tests.
N_INCLUSION_FILES = 98
N_CONSISTENCY_FILES = 98

# Where our verdict, or the rule that gives it, is not the Go library's, as the files
# are shipped. Keyed by path under TESTDATA; the value is a regex our InvalidProof message
# must match.
#
# Size 0. Go (proof.RootFromConsistencyProof) rejects every consistency proof from
# size1 == 0: "consistency proof from empty tree is meaningless". Our policy (DESIGN §3,
# after C2SP tlog-witness: "The proof MUST be empty if the old size is zero") accepts one
# from size 0 when it is empty. So Go's reason is never ours for these files, yet the
# verdict agrees on all of them as shipped: a non-empty proof from size 0 fails our
# length rule, and every empty-proof case carries a 12-byte placeholder root ("don't
# care 1/2") that fails our 32-byte rule first. (The shared vectors README speaks of
# four cases that differ: with our rule that root1 of size 0 is SHA-256(""), none do.) Where the verdicts really part is shown
# by test_vector_with_32_byte_placeholders and SIZE_ZERO_POLICY below.
#
# Hash length. Go compares roots of any length; we reject a hash that is not 32 bytes
# (DESIGN §3), so the one case Go accepts with 12-byte roots we reject.
OUR_REASON: dict[str, str] = {
    # size 0, non-empty proof: our expected-length rule
    "consistency/1/size1-sub-@1.json": r"^proof has 3 hashes, expected 0$",
    "consistency/3/size1-XOR-@2.json": r"^proof has 2 hashes, expected 0$",
    "consistency/additional/consistency-check-on-empty-tree-size1-is-zero-is-useless.json": (
        r"^proof has 1 hashes, expected 0$"
    ),
    "consistency/additional/sizes-match-but-proof-is-not-empty-and-sizes-are-zero.json": (
        r"^proof has 1 hashes, expected 0$"
    ),
    # size 0, empty proof: the size-0 rule would accept; a 12-byte placeholder root fails
    "consistency/additional/size1-is-zero-and-does-not-equal-size2.json": r"^root1 must be 32 bytes, got 12$",
    "consistency/additional/size1-is-zero-and-size2-is-not-zero.json": r"^root2 must be 32 bytes, got 12$",
    "consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json": r"^root1 must be 32 bytes, got 12$",
    "consistency/additional/sizes-are-equal-zero-but-roots-are-not.json": r"^root1 must be 32 bytes, got 12$",
    "consistency/additional/roots-do-not-match-and-sizes-are-zero.json": r"^root2 must be 32 bytes, got 12$",
    # Go accepts equal sizes with equal 12-byte roots (wantErr false); we reject the length
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": r"^root1 must be 32 bytes, got 12$",
}

# Our 32-byte rule hides what many files test ("WrongRoot", "WrongLeaf", "don't care 1"
# are 9-12 bytes), so each file with such a placeholder is run again with every
# placeholder p replaced by the 32-byte SHA-256(p): equal placeholders stay equal, real
# hashes stay as they are. (Empty values b"" are left alone: they are there to test
# length.) Then every verdict is Go's, except the five empty-proof size-0 cases, where
# our policy decides differently. Go rejects all five.
SIZE_ZERO_POLICY: dict[str, tuple[str, list]] = {  # path -> (our verdict, marks)
    # Our rule for size 0: the proof must be empty (C2SP tlog-witness) and root1 must be
    # the empty tree's root SHA-256("") -- a different root is the head of no tree. These
    # files carry placeholder roots, so we reject them, as Go does, but for that reason
    # rather than Go's blanket "proof from the empty tree is meaningless". Where the two
    # policies really part (an empty proof from the true empty root, which we accept and
    # Go rejects) is asserted in test_empty_proof_from_the_true_empty_root_is_accepted.
    # This one has the true empty root as root1 and an empty proof: our policy accepts
    # it (the empty tree is a prefix of every tree); Go rejects it.
    "consistency/additional/size1-is-zero-and-size2-is-not-zero.json": ("accept", []),
    "consistency/additional/size1-is-zero-and-does-not-equal-size2.json": ("reject", []),
    "consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json": ("reject", []),
    # Equal sizes need equal roots (C2SP tlog-witness), size 0 included.
    "consistency/additional/sizes-are-equal-zero-but-roots-are-not.json": ("reject", []),
    "consistency/additional/roots-do-not-match-and-sizes-are-zero.json": ("reject", []),
}


def test_empty_proof_from_the_true_empty_root_is_accepted():
    """Our size-0 policy, where Go's verdict differs: accepted for any later tree."""
    for case in CONSISTENCY.values():
        if case["size1"] == 0 and case["size2"] > 0 and len(_b64(case["root2"]) or b"") == 32:
            merkle.verify_consistency(0, case["size2"], merkle.EMPTY_ROOT, _b64(case["root2"]), [])
    merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, hashlib.sha256(b"any").digest(), [])
    with pytest.raises(InvalidProof, match="root1 of the empty tree"):
        merkle.verify_consistency(0, 5, hashlib.sha256(b"x").digest(), hashlib.sha256(b"any").digest(), [])
    with pytest.raises(InvalidProof, match="root2 of the empty tree"):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, hashlib.sha256(b"x").digest(), [])


def _b64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value, validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(p) for p in value or []]  # Go's null proof is a nil slice


def _load(kind: str) -> dict[str, dict]:
    files = sorted((TESTDATA / kind).rglob("*.json"))
    return {p.relative_to(TESTDATA).as_posix(): json.loads(p.read_text()) for p in files}


INCLUSION = _load("inclusion")
CONSISTENCY = _load("consistency")


def _params(cases: dict[str, dict]) -> list:
    return [pytest.param(rel, case, id=f"{rel}: {case['desc']}") for rel, case in cases.items()]


def _verify(case: dict) -> None:
    """Run the case's verifier (inclusion or consistency) on its decoded fields."""
    if "size1" in case:
        merkle.verify_consistency(
            case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]), _proof(case["proof"])
        )
    else:
        merkle.verify_inclusion(
            _b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case["proof"]), _b64(case["root"])
        )


def test_vector_files_are_all_found():
    assert TESTDATA.is_dir(), f"missing {TESTDATA}"
    assert (len(INCLUSION), len(CONSISTENCY)) == (N_INCLUSION_FILES, N_CONSISTENCY_FILES)
    assert set(OUR_REASON) <= set(CONSISTENCY), "OUR_REASON names a file that is not there"


@pytest.mark.parametrize(("rel", "case"), _params(INCLUSION))
def test_inclusion_vector(rel, case):
    if case["wantErr"]:
        with pytest.raises(InvalidProof):
            _verify(case)
    else:
        _verify(case)


@pytest.mark.parametrize(("rel", "case"), _params(CONSISTENCY))
def test_consistency_vector(rel, case):
    if rel in OUR_REASON:
        with pytest.raises(InvalidProof, match=OUR_REASON[rel]):
            _verify(case)
    elif case["wantErr"]:
        with pytest.raises(InvalidProof):
            _verify(case)
    else:
        _verify(case)


def _with_32_byte_placeholders(case: dict) -> dict | None:
    """The case with placeholders made 32 bytes, or None if it has none."""
    fields = ("root1", "root2") if "size1" in case else ("leafHash", "root")
    values = {f: _b64(case[f]) for f in fields}
    short = {f: v for f, v in values.items() if v and len(v) != 32}
    if not short:
        return None
    fixed = {f: base64.b64encode(hashlib.sha256(v).digest()).decode() for f, v in short.items()}
    return {**case, **fixed}


PLACEHOLDER_CASES = {
    rel: fixed
    for rel, case in {**INCLUSION, **CONSISTENCY}.items()
    if (fixed := _with_32_byte_placeholders(case)) is not None
}


def _placeholder_params() -> list:
    params = []
    for rel, case in PLACEHOLDER_CASES.items():
        if rel in SIZE_ZERO_POLICY:
            want, marks = SIZE_ZERO_POLICY[rel]
        else:  # Go's verdict
            want, marks = ("reject" if case["wantErr"] else "accept"), []
        params.append(pytest.param(rel, case, want, marks=marks, id=f"{rel}: {case['desc']}"))
    return params


def test_placeholder_cases_are_all_found():
    assert len(PLACEHOLDER_CASES) == 24
    assert set(SIZE_ZERO_POLICY) <= set(PLACEHOLDER_CASES)


@pytest.mark.parametrize(("rel", "case", "want"), _placeholder_params())
def test_vector_with_32_byte_placeholders(rel, case, want):
    if want == "accept":
        _verify(case)
    else:
        with pytest.raises(InvalidProof):
            _verify(case)


# -- the happy paths are proofs in the reference tree: our generators reproduce them ---

REFERENCE = json.loads(REFERENCE_TREE.read_text())
LEAF_INPUTS = [bytes.fromhex(h) for h in REFERENCE["leafInputsHex"]]
LEAF_HASHES = [merkle.leaf_hash(d) for d in LEAF_INPUTS]
HAPPY_INCLUSION = {rel: c for rel, c in INCLUSION.items() if rel.endswith("/happy-path.json")}
HAPPY_CONSISTENCY = {rel: c for rel, c in CONSISTENCY.items() if rel.endswith("/happy-path.json")}


def test_happy_paths_are_all_found():
    assert (len(LEAF_INPUTS), len(HAPPY_INCLUSION), len(HAPPY_CONSISTENCY)) == (8, 5, 5)


@pytest.mark.parametrize(("rel", "case"), _params(HAPPY_INCLUSION))
def test_inclusion_happy_path_is_reproduced(rel, case):
    assert _b64(case["root"]) == merkle.root_hash(LEAF_HASHES[: case["treeSize"]])
    assert _b64(case["leafHash"]) == LEAF_HASHES[case["leafIdx"]]
    assert merkle.inclusion_proof(LEAF_HASHES, case["leafIdx"], case["treeSize"]) == _proof(case["proof"])


@pytest.mark.parametrize(("rel", "case"), _params(HAPPY_CONSISTENCY))
def test_consistency_happy_path_is_reproduced(rel, case):
    assert _b64(case["root1"]) == merkle.root_hash(LEAF_HASHES[: case["size1"]])
    assert _b64(case["root2"]) == merkle.root_hash(LEAF_HASHES[: case["size2"]])
    assert merkle.consistency_proof(LEAF_HASHES, case["size1"], case["size2"]) == _proof(case["proof"])


# -- reference-tree-vectors.json: known answers ----------------------------------------

HASHERS = {
    "RFC6962 Empty (hash of empty tree)": lambda v: merkle.root_hash([]),
    "RFC6962 Empty Leaf: HashLeaf(b'')": lambda v: merkle.leaf_hash(b""),
    "RFC6962 Leaf: HashLeaf(b'L123456')": lambda v: merkle.leaf_hash(v["input"].encode()),
    "RFC6962 Node: HashChildren(b'N123', b'N456')": lambda v: merkle.node_hash(v["left"].encode(), v["right"].encode()),
}


def test_hasher_vectors_are_all_known():
    assert [v["desc"] for v in REFERENCE["hasherVectors"]] == list(HASHERS)


@pytest.mark.parametrize("vector", REFERENCE["hasherVectors"], ids=lambda v: v["desc"])
def test_hasher_vector(vector):
    assert HASHERS[vector["desc"]](vector).hex() == vector["want"]


def test_empty_root_constant():
    assert merkle.EMPTY_ROOT.hex() == REFERENCE["rootHashesByTreeSize"][0]


@pytest.mark.parametrize("size", range(9))
def test_known_root(size):
    want = REFERENCE["rootHashesByTreeSize"][size]
    assert merkle.root_hash(LEAF_HASHES[:size]).hex() == want
    assert ref.mth(tuple(LEAF_INPUTS[:size])).hex() == want  # the tests' oracle, too


@pytest.mark.parametrize("level", range(4))
def test_known_node_hashes(level):
    want = REFERENCE["nodeHashesByLevel"][level]
    width = 1 << level
    assert len(want) == 8 // width
    got = [merkle.root_hash(LEAF_HASHES[i * width : (i + 1) * width]).hex() for i in range(len(want))]
    assert got == want
