"""Hypothesis properties of ledger.merkle proofs.

Every proof made from a random tree verifies against that tree's root; any single-bit
change to the proof, the leaf hash or a root fails; and each named mutation class is
rejected on its own, so a regression names the class it let through. Bit flips in proof
hashes are also checked exhaustively, bit by bit, for a few trees.

Mutations that are *not* changes of meaning are excluded, with the reason, where they
occur: a consistency proof from size 0 is empty and binds neither root (DESIGN §3), and a
tree of one leaf has an empty inclusion proof.
"""

import functools
from dataclasses import dataclass, field

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import InvalidProof, VerificationError

MAX_SIZE = 1100  # past 1024, so trees of 11 levels are drawn too
SALTS = 3
# Distinct leaves (no two equal), per salt: a tree is (salt, size) -> BASE[salt][:size].
BASE = [[merkle.leaf_hash(b"%d/%d" % (salt, i)) for i in range(MAX_SIZE)] for salt in range(SALTS)]
FRESH = merkle.leaf_hash(b"a leaf in no tree")

SETTINGS = settings(deadline=None)  # proofs are O(size) to build; time is not the property


@functools.cache
def _root(salt: int, size: int) -> bytes:
    return merkle.root_hash(BASE[salt][:size])


@dataclass(frozen=True)
class Inclusion:
    leaf: bytes
    index: int
    size: int
    proof: list[bytes]
    root: bytes
    leaves: list[bytes] = field(repr=False)  # the whole tree

    def verify(self, **change) -> None:
        args = {"leaf_hash": self.leaf, "index": self.index, "size": self.size, "proof": self.proof, "root": self.root}
        args.update(change)
        merkle.verify_inclusion(**args)


@dataclass(frozen=True)
class Consistency:
    leaves: list[bytes] = field(repr=False)
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: list[bytes]

    def verify(self, **change) -> None:
        args = {"size1": self.size1, "size2": self.size2, "root1": self.root1, "root2": self.root2, "proof": self.proof}
        args.update(change)
        merkle.verify_consistency(**args)


@st.composite
def inclusions(draw, min_size: int = 1) -> Inclusion:
    salt, size = draw(st.integers(0, SALTS - 1)), draw(st.integers(min_size, MAX_SIZE))
    index = draw(st.integers(0, size - 1))
    leaves = BASE[salt][:size]
    proof = merkle.inclusion_proof(leaves, index, size)
    return Inclusion(leaves[index], index, size, proof, _root(salt, size), leaves)


@st.composite
def consistencies(draw, min_size1: int = 0, proper: bool = False) -> Consistency:
    """min_size1 <= size1 <= size2; with ``proper``, 0 < size1 < size2 (a non-empty proof)."""
    if proper:
        min_size1 = max(min_size1, 1)
    salt, size2 = draw(st.integers(0, SALTS - 1)), draw(st.integers(min_size1 + proper, MAX_SIZE))
    size1 = draw(st.integers(min_size1, size2 - proper))
    leaves = BASE[salt][:size2]
    proof = merkle.consistency_proof(leaves, size1, size2)
    return Consistency(leaves, size1, size2, _root(salt, size1), _root(salt, size2), proof)


def flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(b)


# -- proofs from a tree verify against its root -----------------------------------------


@SETTINGS
@given(inclusions())
def test_inclusion_proof_verifies(c):
    c.verify()


@SETTINGS
@given(consistencies())
def test_consistency_proof_verifies(c):
    c.verify()


# -- any single-bit flip fails -----------------------------------------------------------


@SETTINGS
@given(inclusions(), st.data())
def test_any_bit_flip_fails_inclusion(c, data):
    parts = [c.leaf, *c.proof, c.root]
    k = data.draw(st.integers(0, 256 * len(parts) - 1), label="bit")
    parts[k // 256] = flip(parts[k // 256], k % 256)
    with pytest.raises(InvalidProof):
        c.verify(leaf_hash=parts[0], proof=parts[1:-1], root=parts[-1])


# From size 0 the proof is empty and binds neither root, so there is nothing to flip.
@SETTINGS
@given(consistencies(min_size1=1), st.data())
def test_any_bit_flip_fails_consistency(c, data):
    parts = [c.root1, *c.proof, c.root2]
    k = data.draw(st.integers(0, 256 * len(parts) - 1), label="bit")
    parts[k // 256] = flip(parts[k // 256], k % 256)
    with pytest.raises(InvalidProof):
        c.verify(root1=parts[0], proof=parts[1:-1], root2=parts[-1])


@SETTINGS
@given(inclusions(), st.integers(0, 255))
def test_wrong_root_error_carries_both_roots(c, bit):
    wrong = flip(c.root, bit)
    with pytest.raises(InvalidProof) as e:
        c.verify(root=wrong)
    assert (e.value.expected, e.value.calculated) == (wrong, c.root)


EXHAUSTIVE_SIZES = [1, 2, 7, 8, 13, 21]


@pytest.mark.parametrize("size", EXHAUSTIVE_SIZES)
def test_every_bit_flip_fails_inclusion_exhaustively(size):
    leaves, root = BASE[0][:size], _root(0, size)
    for index in range(size):
        parts = [leaves[index], *merkle.inclusion_proof(leaves, index, size), root]
        for i in range(len(parts)):
            for bit in range(256):
                flipped = parts[:i] + [flip(parts[i], bit)] + parts[i + 1 :]
                with pytest.raises(InvalidProof):  # the fail() below says which case got through
                    merkle.verify_inclusion(flipped[0], index, size, flipped[1:-1], flipped[-1])
                    pytest.fail(f"index {index}: flipping bit {bit} of part {i} went unnoticed")


@pytest.mark.parametrize("size2", EXHAUSTIVE_SIZES)
def test_every_bit_flip_fails_consistency_exhaustively(size2):
    leaves = BASE[0][:size2]
    for size1 in range(1, size2 + 1):
        parts = [_root(0, size1), *merkle.consistency_proof(leaves, size1, size2), _root(0, size2)]
        for i in range(len(parts)):
            for bit in range(256):
                flipped = parts[:i] + [flip(parts[i], bit)] + parts[i + 1 :]
                with pytest.raises(InvalidProof):  # the fail() below says which case got through
                    merkle.verify_consistency(size1, size2, flipped[0], flipped[-1], flipped[1:-1])
                    pytest.fail(f"size1 {size1}: flipping bit {bit} of part {i} went unnoticed")


# -- named mutations: inclusion ----------------------------------------------------------


@SETTINGS
@given(inclusions(), st.sampled_from([-1, 1]))
def test_index_plus_or_minus_one_fails(c, delta):
    with pytest.raises(InvalidProof):
        c.verify(index=c.index + delta)


@SETTINGS
@given(inclusions())
def test_size_times_two_fails_inclusion(c):
    with pytest.raises(InvalidProof):
        c.verify(size=c.size * 2)


@SETTINGS
@given(inclusions())
def test_size_halved_fails_inclusion(c):
    with pytest.raises(InvalidProof):
        c.verify(size=c.size // 2)


@SETTINGS
@given(inclusions(), st.data())
def test_wrong_leaf_fails(c, data):
    wrong = data.draw(st.sampled_from([FRESH, *c.leaves]), label="wrong leaf")
    assume(wrong != c.leaf)
    with pytest.raises(InvalidProof):
        c.verify(leaf_hash=wrong)


@SETTINGS
@given(inclusions(), st.data())
def test_index_at_or_beyond_size_fails(c, data):
    # the proof of the last leaf, claimed for an index at or past the end
    proof = merkle.inclusion_proof(c.leaves, c.size - 1, c.size)
    last = Inclusion(c.leaves[-1], c.size - 1, c.size, proof, c.root, c.leaves)
    index = data.draw(st.integers(c.size, 2**64 - 1), label="index")
    with pytest.raises(InvalidProof):
        last.verify(index=index)


def test_no_leaf_is_in_the_empty_tree():
    with pytest.raises(InvalidProof):
        merkle.verify_inclusion(FRESH, 0, 0, [], merkle.EMPTY_ROOT)


# A fork: the same tree with one other leaf replaced. Replacing the proven leaf itself
# leaves its proof unchanged, so that one is excluded (it is test_wrong_leaf_fails).
@SETTINGS
@given(inclusions(min_size=2), st.data())
def test_proof_from_a_different_tree_fails_inclusion(c, data):
    forked_at = data.draw(st.integers(0, c.size - 1).filter(lambda i: i != c.index), label="forked at")
    fork = list(c.leaves)
    fork[forked_at] = FRESH
    with pytest.raises(InvalidProof):
        c.verify(proof=merkle.inclusion_proof(fork, c.index, c.size))


# -- named mutations: consistency --------------------------------------------------------
# From size 0 an empty proof is accepted whatever the sizes, so size mutations start at 1.

any_hash = st.binary(min_size=32, max_size=32)


@SETTINGS
@given(consistencies(min_size1=1))
def test_size2_times_two_fails(c):
    with pytest.raises(InvalidProof):
        c.verify(size2=c.size2 * 2)


@SETTINGS
@given(consistencies(min_size1=1))
def test_size2_halved_fails(c):
    with pytest.raises(InvalidProof):
        c.verify(size2=c.size2 // 2)


@SETTINGS
@given(consistencies(min_size1=1))
def test_size1_times_two_fails(c):
    with pytest.raises(InvalidProof):
        c.verify(size1=c.size1 * 2)


@SETTINGS
@given(consistencies(min_size1=2))  # 1 // 2 is 0, from which an empty proof is accepted
def test_size1_halved_fails(c):
    with pytest.raises(InvalidProof):
        c.verify(size1=c.size1 // 2)


@SETTINGS
@given(consistencies(proper=True))
def test_roots_swapped_fails(c):
    with pytest.raises(InvalidProof):
        c.verify(root1=c.root2, root2=c.root1)


@SETTINGS
@given(consistencies(), st.data())
def test_suffix_claimed_as_prefix_fails(c, data):
    """A proof for size1..size2 presented for another size1, with that size's true root."""
    assume(c.size2 >= 2 or (c.size1, c.size2) == (0, 1))  # else no other size1 > 0 exists
    other = data.draw(st.integers(1, c.size2).filter(lambda s: s != c.size1), label="claimed size1")
    # An empty proof (from 0, or between equal sizes) is also the true proof from size2
    # to itself, so that claim is not a mutation.
    assume(c.proof or other != c.size2)
    with pytest.raises(InvalidProof):
        c.verify(size1=other, root1=merkle.root_hash(c.leaves[:other]))


@SETTINGS
@given(consistencies(proper=True), st.data())
def test_proof_from_a_different_tree_fails_consistency(c, data):
    """The proof of a fork that shares the first size1 leaves and differs after them."""
    forked_at = data.draw(st.integers(c.size1, c.size2 - 1), label="forked at")
    fork = list(c.leaves)
    fork[forked_at] = FRESH
    with pytest.raises(InvalidProof):
        c.verify(proof=merkle.consistency_proof(fork, c.size1, c.size2))


@SETTINGS
@given(consistencies(min_size1=1), any_hash)
def test_equal_sizes_with_different_roots_fail(c, other):
    assume(other != c.root2)
    with pytest.raises(InvalidProof, match="different roots"):
        c.verify(size1=c.size2, root1=other, proof=[])


@SETTINGS
@given(consistencies(min_size1=1), st.integers(1, 2**64 - 1))
def test_size1_greater_than_size2_fails(c, excess):
    assume(c.size2 + excess < 2**64)
    with pytest.raises(InvalidProof):
        c.verify(size1=c.size2 + excess)


# -- named mutations: proof length, both kinds -------------------------------------------


@SETTINGS
@given(inclusions(), any_hash)
def test_hash_appended_fails_inclusion(c, extra):
    with pytest.raises(InvalidProof):
        c.verify(proof=[*c.proof, extra])


@SETTINGS
@given(inclusions(), any_hash)
def test_hash_prepended_fails_inclusion(c, extra):
    with pytest.raises(InvalidProof):
        c.verify(proof=[extra, *c.proof])


@SETTINGS
@given(inclusions(min_size=2), st.data())
def test_hash_removed_fails_inclusion(c, data):
    i = data.draw(st.integers(0, len(c.proof) - 1), label="removed")
    with pytest.raises(InvalidProof):
        c.verify(proof=c.proof[:i] + c.proof[i + 1 :])


@SETTINGS
@given(inclusions())
def test_root_appended_or_prepended_fails_inclusion(c):
    for proof in ([*c.proof, c.root], [c.root, *c.proof], [*c.proof, c.leaf], [c.leaf, *c.proof]):
        with pytest.raises(InvalidProof):
            c.verify(proof=proof)


@SETTINGS
@given(consistencies(), any_hash)
def test_hash_appended_fails_consistency(c, extra):
    with pytest.raises(InvalidProof):
        c.verify(proof=[*c.proof, extra])


@SETTINGS
@given(consistencies(), any_hash)
def test_hash_prepended_fails_consistency(c, extra):
    with pytest.raises(InvalidProof):
        c.verify(proof=[extra, *c.proof])


@SETTINGS
@given(consistencies(proper=True), st.data())
def test_hash_removed_fails_consistency(c, data):
    i = data.draw(st.integers(0, len(c.proof) - 1), label="removed")
    with pytest.raises(InvalidProof):
        c.verify(proof=c.proof[:i] + c.proof[i + 1 :])


@SETTINGS
@given(consistencies())
def test_roots_appended_or_prepended_fail_consistency(c):
    for root in (c.root1, c.root2):
        for proof in ([*c.proof, root], [root, *c.proof]):
            with pytest.raises(InvalidProof):
                c.verify(proof=proof)


# -- hashes that are not 32 bytes ---------------------------------------------------------

resize = st.sampled_from([lambda h: h[:31], lambda h: h + b"\x00", lambda h: h[1:], lambda h: b"\x00" + h])


@SETTINGS
@given(inclusions(), resize, st.data())
def test_hash_of_31_or_33_bytes_fails_inclusion(c, change, data):
    parts = [c.leaf, *c.proof, c.root]
    i = data.draw(st.integers(0, len(parts) - 1), label="part")
    parts[i] = change(parts[i])
    with pytest.raises(InvalidProof, match="must be 32 bytes"):
        c.verify(leaf_hash=parts[0], proof=parts[1:-1], root=parts[-1])


@SETTINGS
@given(consistencies(), resize, st.data())
def test_hash_of_31_or_33_bytes_fails_consistency(c, change, data):
    parts = [c.root1, *c.proof, c.root2]
    i = data.draw(st.integers(0, len(parts) - 1), label="part")
    parts[i] = change(parts[i])
    with pytest.raises(InvalidProof, match="must be 32 bytes"):
        c.verify(root1=parts[0], proof=parts[1:-1], root2=parts[-1])


# -- sizes and indexes outside [0, 2**64) --------------------------------------------------
# Trees of identical leaves have roots computable for any size, so the sizes at the edge
# get proofs that are valid in every respect but the size.


@functools.cache
def _uniform_root(n: int) -> bytes:
    """Root of n copies of FRESH, by the RFC's recursion."""
    if n == 1:
        return FRESH
    k = 1 << ((n - 1).bit_length() - 1)
    return merkle.node_hash(_uniform_root(k), _uniform_root(n - k))


def _uniform_inclusion(index: int, size: int) -> Inclusion:
    proof = [_uniform_root(e - b) for b, e in merkle.inclusion_proof_ranges(index, size)]
    return Inclusion(FRESH, index, size, proof, _uniform_root(size), [])


def _uniform_consistency(size1: int, size2: int) -> Consistency:
    proof = [_uniform_root(e - b) for b, e in merkle.consistency_proof_ranges(size1, size2)]
    return Consistency([], size1, size2, _uniform_root(size1), _uniform_root(size2), proof)


def test_largest_size_is_accepted():
    _uniform_inclusion(2**64 - 2, 2**64 - 1).verify()
    _uniform_inclusion(0, 2**64 - 1).verify()
    _uniform_consistency(2**63, 2**64 - 1).verify()
    _uniform_consistency(2**63 + 1, 2**64 - 1).verify()


def test_size_of_2_to_the_64_is_rejected():
    c = _uniform_inclusion(2**64 - 1, 2**64)
    with pytest.raises(InvalidProof, match=r"outside \[0, 2\*\*64\)"):
        c.verify()
    with pytest.raises(InvalidProof, match=r"outside \[0, 2\*\*64\)"):
        _uniform_consistency(2**63, 2**64).verify()
    assert len(c.proof) == 64  # a proof that is right in every respect but the size


@SETTINGS
@given(inclusions(), st.integers(max_value=-1) | st.integers(min_value=2**64))
def test_index_or_size_out_of_range_fails_inclusion(c, bad):
    for change in ({"index": bad}, {"size": bad}):
        with pytest.raises(InvalidProof):
            c.verify(**change)


@SETTINGS
@given(consistencies(), st.integers(max_value=-1) | st.integers(min_value=2**64))
def test_size_out_of_range_fails_consistency(c, bad):
    for change in ({"size1": bad}, {"size2": bad}):
        with pytest.raises(InvalidProof):
            c.verify(**change)


# -- wrong types: TypeError, not a verdict ----------------------------------------------

NOT_AN_INT = [True, False, None, "1", 1.0]
NOT_A_HASH = [None, "00" * 32, FRESH.hex(), "x" * 32]
NOT_A_PROOF = [None, "", FRESH, bytearray(FRESH), [None], [FRESH.hex()], 0]


@pytest.mark.parametrize("value", NOT_AN_INT, ids=repr)
@pytest.mark.parametrize("name", ["index", "size"])
def test_wrong_int_type_is_a_type_error_inclusion(name, value):
    c = _uniform_inclusion(0, 2)
    c.verify()
    with pytest.raises(TypeError):
        c.verify(**{name: value})


@pytest.mark.parametrize("value", NOT_AN_INT, ids=repr)
@pytest.mark.parametrize("name", ["size1", "size2"])
def test_wrong_int_type_is_a_type_error_consistency(name, value):
    c = _uniform_consistency(1, 2)
    c.verify()
    with pytest.raises(TypeError):
        c.verify(**{name: value})


@pytest.mark.parametrize("value", NOT_A_HASH, ids=repr)
@pytest.mark.parametrize("name", ["leaf_hash", "root"])
def test_wrong_hash_type_is_a_type_error_inclusion(name, value):
    c = _uniform_inclusion(0, 2)
    with pytest.raises(TypeError):
        c.verify(**{name: value})


@pytest.mark.parametrize("value", NOT_A_HASH, ids=repr)
@pytest.mark.parametrize("name", ["root1", "root2"])
def test_wrong_hash_type_is_a_type_error_consistency(name, value):
    with pytest.raises(TypeError):
        _uniform_consistency(1, 2).verify(**{name: value})


@pytest.mark.parametrize("value", NOT_A_PROOF, ids=repr)
def test_wrong_proof_type_is_a_type_error(value):
    c = _uniform_inclusion(0, 2)
    with pytest.raises(TypeError):
        c.verify(proof=value)
    with pytest.raises(TypeError):
        _uniform_consistency(1, 2).verify(proof=value)


@pytest.mark.parametrize("value", ["", "leaf", None])
def test_hashing_a_str_or_none_is_a_type_error(value):
    with pytest.raises(TypeError):
        merkle.leaf_hash(value)
    with pytest.raises(TypeError):
        merkle.node_hash(value, FRESH)


def test_invalid_proof_is_a_verification_error():
    assert issubclass(InvalidProof, VerificationError)
