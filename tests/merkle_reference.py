"""A naive RFC 9162 §2.1 reference, written from the RFC text. Used only by tests.

It shares no code with ``ledger.merkle``: ``D`` is a tuple of leaf *inputs* d(0)..d(n-1)
(not leaf hashes), and every function is the RFC's recursive definition. ``mth`` is
memoized on the tuple so that the exhaustive tests stay fast. Keep it naive.
"""

import functools
import hashlib


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def mth(D: tuple[bytes, ...]) -> bytes:
    """MTH(D[n]), §2.1.1."""
    if len(D) == 0:
        return hashlib.sha256(b"").digest()
    if len(D) == 1:
        return hashlib.sha256(b"\x00" + D[0]).digest()
    k = _k(len(D))
    return hashlib.sha256(b"\x01" + mth(D[:k]) + mth(D[k:])).digest()


def path(m: int, D: tuple[bytes, ...]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1: the inclusion proof of leaf m, 0 <= m < n."""
    n = len(D)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, D[:k]) + [mth(D[k:])]
    return path(m - k, D[k:]) + [mth(D[:k])]


def proof(m: int, D: tuple[bytes, ...]) -> list[bytes]:
    """PROOF(m, D[n]), §2.1.4.1, for 0 < m < n; also [] for m == n and, by our
    C2SP tlog-witness policy (the RFC leaves it undefined), for m == 0."""
    if m == 0 or m == len(D):
        return []
    return subproof(m, D, True)


def subproof(m: int, D: tuple[bytes, ...], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), §2.1.4.1."""
    n = len(D)
    if m == n:
        return [] if b else [mth(D)]
    k = _k(n)
    if m <= k:
        return subproof(m, D[:k], b) + [mth(D[k:])]
    return subproof(m - k, D[k:], False) + [mth(D[:k])]
