"""ledger.merkle against the naive RFC 9162 reference, for every small tree.

- root_hash for every size 0..300;
- every inclusion proof (index, size) with 1 <= size <= 300;
- every consistency proof (size1, size2) with 0 <= size1 <= size2 <= 100;

each equal to the reference's and verifying against the reference's roots. One test per
size, so a failure names its size and the message names the index or size1.
"""

import merkle_reference as ref
import pytest

from ledger import merkle

MAX_INCLUSION_SIZE = 300
MAX_CONSISTENCY_SIZE = 100


class Tree:
    """Leaf inputs D (for the reference), our leaf hashes, and the reference roots."""

    def __init__(self, n: int):
        self.D = tuple(b"leaf %d" % i for i in range(n))
        self.leaf_hashes = [merkle.leaf_hash(d) for d in self.D]
        self.roots = [ref.mth(self.D[:size]) for size in range(n + 1)]


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree(MAX_INCLUSION_SIZE)


def test_root_hash_matches_reference(tree):
    for size in range(MAX_INCLUSION_SIZE + 1):
        assert merkle.root_hash(tree.leaf_hashes[:size]) == tree.roots[size], f"size {size}"


def test_leaf_hash_matches_reference(tree):
    for i, d in enumerate(tree.D):
        assert tree.leaf_hashes[i] == ref.mth((d,)), f"leaf {i}"


@pytest.mark.parametrize("size", range(1, MAX_INCLUSION_SIZE + 1))
def test_inclusion_proofs_match_reference(tree, size):
    D, root = tree.D[:size], tree.roots[size]
    for index in range(size):
        proof = merkle.inclusion_proof(tree.leaf_hashes, index, size)
        assert proof == ref.path(index, D), f"index {index}"
        merkle.verify_inclusion(tree.leaf_hashes[index], index, size, proof, root)


@pytest.mark.parametrize("size2", range(MAX_CONSISTENCY_SIZE + 1))
def test_consistency_proofs_match_reference(tree, size2):
    D, root2 = tree.D[:size2], tree.roots[size2]
    for size1 in range(size2 + 1):
        proof = merkle.consistency_proof(tree.leaf_hashes, size1, size2)
        assert proof == ref.proof(size1, D), f"size1 {size1}"
        merkle.verify_consistency(size1, size2, tree.roots[size1], root2, proof)
