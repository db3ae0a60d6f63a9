"""A second, minimal verifier of the audit bundle's range check (issue 11, item 4).

Written from DESIGN §11 and RFC 9162 §2.1 alone, using only hashlib, so that a bug in
``ledger.frontier`` is not repeated here. It keeps a stack of (leaf count, hash) pairs:
a leaf is pushed as (1, hash), and the top two merge while they are the same size; a
tree's root folds whatever remains from the top down. Raises ValueError, or returns None.
"""

import hashlib

_EMPTY = hashlib.sha256(b"").digest()


def _node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _subtree_sizes(n):
    """Perfect subtree sizes of a tree of n leaves, left (largest) to right."""
    sizes, bit = [], 1
    while bit <= n:
        if n & bit:
            sizes.insert(0, bit)
        bit *= 2
    return sizes


def _root(stack):
    """Hash of the tree whose perfect subtrees are on the stack, bottom to top."""
    if not stack:
        return _EMPTY
    acc = stack[-1][1]
    for _, h in stack[-2::-1]:
        acc = _node(h, acc)
    return acc


def _is_hash(h):
    return isinstance(h, bytes) and len(h) == 32


def verify_range(start, start_root, frontier, leaf_hashes, end, end_root):
    if not 0 <= start <= end:
        raise ValueError(f"need 0 <= start <= end, got {start} and {end}")
    if not (_is_hash(start_root) and _is_hash(end_root)):
        raise ValueError("a checkpoint root is not a 32-byte hash")
    sizes = _subtree_sizes(start)
    if len(frontier) != len(sizes) or not all(_is_hash(h) for h in frontier):
        raise ValueError(f"need {len(sizes)} frontier hashes of 32 bytes")
    stack = list(zip(sizes, frontier))
    if _root(stack) != start_root:
        raise ValueError("the frontier does not give the start root")
    count = 0
    for leaf in leaf_hashes:
        if not _is_hash(leaf):
            raise ValueError(f"leaf {start + count} is not a 32-byte hash")
        count += 1
        stack.append((1, leaf))
        while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
            (n, right), (_, left) = stack.pop(), stack.pop()
            stack.append((2 * n, _node(left, right)))
    if count != end - start:
        raise ValueError(f"{count} leaves, expected {end - start}")
    if _root(stack) != end_root:
        raise ValueError("the leaves do not give the end root")
