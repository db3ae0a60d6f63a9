"""The frontier of an RFC 9162 Merkle tree, and the range check of the audit bundle.

Pure: bytes and ints in, bytes out; no I/O.

The *frontier* of a tree of ``size`` leaves is the list of roots of its perfect subtrees,
left to right: ``size`` written in binary, one subtree per set bit, largest first (13
leaves → subtrees of 8, 4 and 1 leaves covering ``[0, 8)``, ``[8, 12)``, ``[12, 13)``).
Each is a node of the tree (C2SP tlog-tiles holds it in a tile, see
``SQLStore.frontier``). The frontier is all a verifier needs to keep appending: the tree's
root folds it from the right (``root_of``), and appending a leaf merges the smallest
subtrees like a binary counter carries (``extend``).

The audit bundle (DESIGN §11) proves a leaf range ``[start, end)`` complete: the frontier
of ``start`` must hash to the start checkpoint's root, and that frontier with the range's
leaves appended, in order, must hash to the end checkpoint's root. A leaf dropped, added,
reordered or edited, or a frontier of any other tree, changes one of the two roots.

``verify_range`` and ``RangeChecker`` (the same check, one leaf at a time, for a bundle
reader) return None or raise ``InvalidProof`` naming which check failed. Sizes that are
negative, beyond ``2**64 - 1``, or ``end < start`` raise ``MalformedInput``; a value of the
wrong type raises ``TypeError``. Memory is O(log n) whatever the range's length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ledger.errors import InvalidProof, MalformedInput
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE, fold_subtrees, node_hash, root_hash

__all__ = ["frontier_sizes", "frontier_of", "root_of", "extend", "verify_range", "RangeChecker"]


def _check_size(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= MAX_TREE_SIZE:
        raise MalformedInput(f"{name} must be in [0, 2**64), got {value}")


def _check_hash(name: str, value: bytes, error: type[Exception]) -> None:
    if not isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise error(f"{name} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_frontier(frontier: Sequence[bytes], size: int, error: type[Exception]) -> None:
    if isinstance(frontier, (bytes, bytearray, str)):
        raise TypeError("frontier must be a sequence of 32-byte hashes, not a single bytes/str value")
    expected = size.bit_count()
    if len(frontier) != expected:
        raise error(f"the frontier holds {len(frontier)} hashes, a tree of size {size} has {expected}")
    for i, h in enumerate(frontier):
        _check_hash(f"frontier[{i}]", h, error)


def frontier_sizes(size: int) -> list[int]:
    """Leaf counts of the perfect subtrees of a tree of ``size`` leaves, largest first.

    ``frontier_sizes(13) == [8, 4, 1]``; ``[]`` for the empty tree.
    """
    _check_size("size", size)
    return [1 << h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]


def frontier_of(leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The frontier of the tree of all ``leaf_hashes``. O(n): a reference for tests and
    small trees (the store reads a frontier from its tiles instead)."""
    out, begin = [], 0
    for width in frontier_sizes(len(leaf_hashes)):
        out.append(root_hash(leaf_hashes[begin : begin + width]))
        begin += width
    return out


def root_of(frontier: Sequence[bytes], size: int) -> bytes:
    """RFC 9162 root of the tree of ``size`` leaves whose frontier this is.

    Folds from the right: the two smallest subtrees combine first, since the tree splits
    off its largest power of two at each level. ``EMPTY_ROOT`` for size 0. Requires
    ``len(frontier) == size.bit_count()`` and 32-byte hashes, else ``MalformedInput``.
    """
    _check_size("size", size)
    _check_frontier(frontier, size, MalformedInput)
    return fold_subtrees(frontier) if size else EMPTY_ROOT


def _append(stack: list[bytes], size: int, leaf: bytes) -> None:
    """Append ``leaf`` to the frontier ``stack`` of a tree of ``size`` leaves, in place.

    Each trailing 1-bit of ``size`` is a subtree as large as what is being carried (the
    leaf, then the merged pair, ...), so it merges, as a binary counter carries.
    """
    stack.append(leaf)
    while size & 1:
        right = stack.pop()
        stack[-1] = node_hash(stack[-1], right)
        size >>= 1


def extend(frontier: Sequence[bytes], size: int, leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """The frontier after appending ``leaf_hashes`` to the tree of ``size`` leaves.

    Streams: consumes ``leaf_hashes`` one at a time in O(log n) memory. Requires a frontier
    of ``size`` and 32-byte leaf hashes, else ``MalformedInput``.
    """
    _check_size("size", size)
    _check_frontier(frontier, size, MalformedInput)
    stack = list(frontier)
    for leaf in leaf_hashes:
        _check_hash(f"leaf hash {size}", leaf, MalformedInput)
        _append(stack, size, bytes(leaf))
        size += 1
    return stack


class RangeChecker:
    """The range check of ``verify_range``, fed one leaf at a time.

    For a reader that streams a bundle's entries and has other work to do per entry::

        checker = RangeChecker(start=..., start_root=..., frontier=..., end=..., end_root=...)
        for entry in bundle:          # raises InvalidProof at once if the frontier is wrong
            checker.add(entry.leaf_hash)
        checker.finish()              # raises InvalidProof if the range does not check

    The constructor checks the frontier against the start root. ``add`` checks each leaf
    hash is 32 bytes; past ``end - start`` leaves it only counts. ``finish`` checks the
    count, then the end root; call it once, after the last leaf.
    """

    __slots__ = ("start", "end", "end_root", "added", "_stack")

    def __init__(self, *, start: int, start_root: bytes, frontier: Sequence[bytes], end: int, end_root: bytes):
        _check_size("start", start)
        _check_size("end", end)
        if end < start:
            raise MalformedInput(f"the range must end at or after its start {start}, got end {end}")
        _check_hash("start_root", start_root, InvalidProof)
        _check_hash("end_root", end_root, InvalidProof)
        _check_frontier(frontier, start, InvalidProof)
        calculated = fold_subtrees(frontier) if start else EMPTY_ROOT
        if calculated != start_root:
            raise InvalidProof(
                f"the frontier does not hash to the start checkpoint's root:"
                f" expected {bytes(start_root).hex()}, calculated {calculated.hex()}",
                expected=bytes(start_root),
                calculated=calculated,
            )
        self.start, self.end, self.end_root = start, end, bytes(end_root)
        self.added = 0  # leaves added so far
        self._stack = [bytes(h) for h in frontier]

    def add(self, leaf_hash: bytes) -> None:
        """Append the next leaf hash of the range (leaf ``start + added``)."""
        _check_hash(f"leaf hash {self.start + self.added}", leaf_hash, InvalidProof)
        size = self.start + self.added
        self.added += 1
        if size < self.end:  # past the end the range is already wrong: only count
            _append(self._stack, size, bytes(leaf_hash))

    def root(self) -> bytes:
        """The root of the tree of ``start + added`` leaves: an intermediate checkpoint's root."""
        if self.added > self.end - self.start:
            raise InvalidProof(f"the range holds more than the {self.end - self.start} leaves the checkpoints say")
        return fold_subtrees(self._stack) if self._stack else EMPTY_ROOT

    def finish(self) -> None:
        """Check the range: as many leaves as the checkpoints say, leading to the end root."""
        expected = self.end - self.start
        if self.added != expected:
            raise InvalidProof(f"the range holds {self.added} leaves, the checkpoints say {expected}")
        calculated = fold_subtrees(self._stack) if self.end else EMPTY_ROOT
        if calculated != self.end_root:
            raise InvalidProof(
                f"the range's leaves do not lead to the end checkpoint's root:"
                f" expected {self.end_root.hex()}, calculated {calculated.hex()}",
                expected=self.end_root,
                calculated=calculated,
            )


def verify_range(
    *, start: int, start_root: bytes, frontier: Sequence[bytes], leaf_hashes: Iterable[bytes], end: int, end_root: bytes
) -> None:
    """Check that ``leaf_hashes`` are exactly the leaves ``[start, end)`` between two tree heads.

    ``frontier`` must be the frontier of the tree of ``start`` leaves with ``start_root``;
    appending ``leaf_hashes`` to it, in order, must give the tree of ``end`` leaves with
    ``end_root``. Requires ``0 <= start <= end < 2**64``. Streams ``leaf_hashes`` in
    O(log n) memory. Returns None or raises ``InvalidProof`` saying which check failed
    (carrying ``expected`` and ``calculated`` roots on a root mismatch).
    """
    checker = RangeChecker(start=start, start_root=start_root, frontier=frontier, end=end, end_root=end_root)
    for leaf in leaf_hashes:
        checker.add(leaf)
    checker.finish()
