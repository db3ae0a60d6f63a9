"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs.

Bytes and ints in, bytes out; no I/O. Indexes are 0-based (``leaf_index``), sizes are
leaf counts (``tree_size``). Hashes are 32-byte SHA-256 digests:

- leaf hash  ``SHA-256(0x00 ‖ leaf_input)``
- node hash  ``SHA-256(0x01 ‖ left ‖ right)``
- empty tree ``SHA-256("")``
- a tree of n > 1 leaves splits at k, the largest power of two smaller than n.

Proof *generation* is written once, over ranges: ``inclusion_proof_ranges`` and
``consistency_proof_ranges`` say which subtree ranges ``[begin, end)`` a proof is made
of, in RFC order. ``inclusion_proof``/``consistency_proof`` fill those ranges from a list
of leaf hashes (O(n), for tests and small trees); ``ledger.tiles`` fills the same
ranges from stored tiles in O(log n) reads.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and is strict:

- sizes and indexes are the verifier's own inputs, ints in ``[0, 2**64)``;
- the expected proof length is computed from the sizes; any other length is rejected;
- every hash must be exactly 32 bytes;
- a consistency proof from size 0 is accepted only when it is empty (as C2SP
  tlog-witness does) and the old root is the empty tree's root; RFC 9162 leaves that
  case undefined. Equal sizes need equal roots, size 0 included.

``verify_*`` return None or raise ``ledger.errors.InvalidProof`` (a
``VerificationError``); a value of the wrong type raises ``TypeError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.errors import InvalidProof

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "inclusion_proof",
    "consistency_proof",
    "verify_inclusion",
    "verify_consistency",
    "inclusion_proof_ranges",
    "consistency_proof_ranges",
    "fold_subtrees",
    "split_point",
]

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Hash of a leaf: ``SHA-256(0x00 ‖ data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n. Requires n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def fold_subtrees(subtrees: Sequence[bytes]) -> bytes:
    """Root of a range given its perfect subtrees left to right, largest first.

    An RFC 9162 range ``[begin, end)`` whose begin is aligned decomposes into perfect
    subtrees by the binary digits of its width; its hash folds them from the right.
    Requires a non-empty sequence.
    """
    acc = subtrees[-1]
    for h in reversed(subtrees[:-1]):
        acc = _sha256(b"\x01" + h + acc).digest()
    return acc


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of the given leaf hashes (``EMPTY_ROOT`` for none). O(n).

    Requires 32-byte hashes; unchecked here because the tile code calls it in hot loops
    on hashes it already checked (the verifiers check every hash they are given).
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    # Keep a stack of perfect subtrees, merging equal heights as leaves arrive.
    stack: list[bytes] = []
    for i, h in enumerate(leaf_hashes):
        stack.append(h)
        n = i + 1
        while n & 1 == 0:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1
    return fold_subtrees(stack)


# -- which ranges a proof is made of ---------------------------------------------------


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Ranges ``[begin, end)`` whose hashes form PATH(index, D[size]), leaf to root.

    Requires ``0 <= index < size``.
    """
    siblings: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
    siblings.reverse()
    return siblings


def consistency_proof_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Ranges whose hashes form PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1).

    Requires ``0 <= size1 <= size2``. Empty when ``size1`` is 0 or equals ``size2``.
    """
    if size1 == 0 or size1 == size2:
        return []
    nodes: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, size2, size1, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            nodes.append((lo + k, hi))
            hi = lo + k
        else:
            nodes.append((lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        nodes.append((lo, hi))
    nodes.reverse()
    return nodes


# -- proofs from a list of leaf hashes ------------------------------------------------


def _check_gen_int(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise ValueError(f"{name} {value} is outside [0, 2**64)")


def _check_index_size(index: int, size: int) -> None:
    _check_gen_int("leaf_index", index)
    _check_gen_int("tree_size", size)
    if index >= size:
        raise ValueError(f"leaf_index {index} is not below tree_size {size}")


def _leaves_for(leaf_hashes: Sequence[bytes], size: int) -> Sequence[bytes]:
    if size > len(leaf_hashes):
        raise ValueError(f"tree_size {size} exceeds the {len(leaf_hashes)} leaf hashes given")
    return leaf_hashes


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """Inclusion proof for leaf ``index`` in the tree of the first ``size`` leaves.

    Requires ``0 <= index < size <= len(leaf_hashes)``. O(size).
    """
    _check_index_size(index, size)
    leaves = _leaves_for(leaf_hashes, size)
    return [root_hash(leaves[b:e]) for b, e in inclusion_proof_ranges(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int) -> list[bytes]:
    """Consistency proof from the tree of ``size1`` leaves to the tree of ``size2``.

    Requires ``0 <= size1 <= size2 <= len(leaf_hashes)``. O(size2).
    """
    _check_gen_int("size1", size1)
    _check_gen_int("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is greater than size2 {size2}")
    leaves = _leaves_for(leaf_hashes, size2)
    return [root_hash(leaves[b:e]) for b, e in consistency_proof_ranges(size1, size2)]


# -- verification ---------------------------------------------------------------------


def _check_int(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise InvalidProof(f"{name} {value} is outside [0, 2**64)")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise InvalidProof(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_proof(proof: Sequence[bytes], expected_len: int) -> None:
    if isinstance(proof, (bytes, bytearray, str)):
        raise TypeError("proof must be a sequence of 32-byte hashes, not a single bytes/str value")
    if len(proof) != expected_len:
        raise InvalidProof(f"proof has {len(proof)} hashes, expected {expected_len}")
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Requires ``0 <= index < size``. Returns None or raises
    ``InvalidProof`` (carrying ``expected`` and ``calculated`` roots on a mismatch).
    """
    _check_int("leaf_index", index)
    _check_int("tree_size", size)
    _check_hash("leaf_hash", leaf_hash)
    _check_hash("root", root)
    if index >= size:
        raise InvalidProof(f"leaf_index {index} is not below tree_size {size}")
    _check_proof(proof, len(inclusion_proof_ranges(index, size)))

    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:  # unreachable with the length check; kept as in the RFC
            raise InvalidProof("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("inclusion proof is shorter than the path to the root")
    if r != root:
        raise InvalidProof(
            f"inclusion proof leads to root {r.hex()}, expected {bytes(root).hex()}",
            expected=bytes(root),
            calculated=r,
        )


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``size2`` leaves with ``root2`` extends the tree of ``size1``.

    RFC 9162 §2.1.4.2. Requires ``0 <= size1 <= size2``. A proof from size 0 must be
    empty (C2SP tlog-witness policy); equal sizes need equal roots and an empty proof.
    Returns None or raises ``InvalidProof``.
    """
    _check_int("size1", size1)
    _check_int("size2", size2)
    _check_hash("root1", root1)
    _check_hash("root2", root2)
    if size1 > size2:
        raise InvalidProof(f"size1 {size1} is greater than size2 {size2}")
    _check_proof(proof, len(consistency_proof_ranges(size1, size2)))
    if size1 == 0:
        # The empty tree is a prefix of every tree; the proof was checked empty. Its root
        # is defined (SHA-256 of nothing), so a different root1 is not a head of any tree.
        if root1 != EMPTY_ROOT:
            raise InvalidProof(
                f"root1 of the empty tree must be {EMPTY_ROOT.hex()}, got {bytes(root1).hex()}",
                expected=EMPTY_ROOT,
                calculated=bytes(root1),
            )
        if size2 == 0 and root2 != EMPTY_ROOT:
            raise InvalidProof(
                f"root2 of the empty tree must be {EMPTY_ROOT.hex()}, got {bytes(root2).hex()}",
                expected=EMPTY_ROOT,
                calculated=bytes(root2),
            )
        return
    if size1 == size2:
        if root1 != root2:
            raise InvalidProof(
                f"equal sizes {size1} with different roots",
                expected=bytes(root1),
                calculated=bytes(root2),
            )
        return

    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: its root is a node of tree 2
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("consistency proof is shorter than the path to the root")
    if fr != root1:
        raise InvalidProof(
            f"consistency proof leads to old root {fr.hex()}, expected {bytes(root1).hex()}",
            expected=bytes(root1),
            calculated=fr,
        )
    if sr != root2:
        raise InvalidProof(
            f"consistency proof leads to new root {sr.hex()}, expected {bytes(root2).hex()}",
            expected=bytes(root2),
            calculated=sr,
        )
