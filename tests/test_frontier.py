"""The frontier and the audit bundle's range check (issue 11, DESIGN §11).

Three layers: ``ledger.frontier`` against ``ledger.merkle`` and the naive RFC reference;
the range check against each named tampering, any single-bit flip, and the independent
minimal verifier in ``tests/minimal_range_verifier.py``; and ``SQLStore.frontier`` on
SQLite and PostgreSQL against the frontier computed from the leaves.
"""

from __future__ import annotations

import ast
import functools
import random
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

import merkle_reference as ref
import minimal_range_verifier as minimal
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from ledger import merkle, tiles
from ledger.errors import InvalidProof, MalformedInput, NotFound, VerificationError
from ledger.frontier import RangeChecker, extend, frontier_of, frontier_sizes, root_of, verify_range
from ledger.store import NewEntry, SQLStore

MAX_SIZE = 1100
SALTS = 2
INPUTS = [[b"%d/%d" % (salt, i) for i in range(MAX_SIZE)] for salt in range(SALTS)]
BASE = [[merkle.leaf_hash(d) for d in inputs] for inputs in INPUTS]  # distinct leaves
SETTINGS = settings(deadline=None, max_examples=200)


def flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(b)


@functools.cache
def _root(salt: int, size: int) -> bytes:
    return merkle.root_hash(BASE[salt][:size])


@functools.cache
def _frontier(salt: int, size: int) -> tuple[bytes, ...]:
    return tuple(frontier_of(BASE[salt][:size]))


# -- frontier_sizes, frontier_of, root_of ----------------------------------------------


def _spine(n: int) -> list[int]:
    """The frontier from the RFC's split: a tree that is not perfect splits off its largest
    power of two on the left, and the right part is again a tree."""
    if n == 0:
        return []
    if n & (n - 1) == 0:
        return [n]
    k = merkle.split_point(n)
    return [k, *_spine(n - k)]


def test_frontier_sizes_are_the_rfc_split_of_the_tree():
    assert frontier_sizes(0) == [] and frontier_sizes(1) == [1] and frontier_sizes(13) == [8, 4, 1]
    assert frontier_sizes(2**64 - 1) == [2**k for k in range(63, -1, -1)]
    for n in [*range(5000), 65535, 65536, 65537, 10**6, 2**40 + 3]:
        sizes = frontier_sizes(n)
        assert sizes == _spine(n), n
        assert sum(sizes) == n and len(sizes) == bin(n).count("1")
        assert all(s & (s - 1) == 0 for s in sizes) and sizes == sorted(set(sizes), reverse=True)


@pytest.mark.parametrize("bad, error", [(-1, MalformedInput), (2**64, MalformedInput), (True, TypeError),
                                        (1.0, TypeError), ("3", TypeError)])  # fmt: skip
def test_frontier_sizes_refuses_what_is_not_a_tree_size(bad, error):
    with pytest.raises(error):
        frontier_sizes(bad)


def test_root_of_the_frontier_is_the_tree_root_for_every_size_to_300():
    for n in range(301):
        f = frontier_of(BASE[0][:n])
        assert len(f) == len(frontier_sizes(n))
        assert root_of(f, n) == merkle.root_hash(BASE[0][:n]) == ref.mth(tuple(INPUTS[0][:n])), n
    assert root_of([], 0) == merkle.EMPTY_ROOT


@settings(deadline=None, max_examples=40)
@given(st.integers(301, 20_000))
def test_root_of_the_frontier_is_the_tree_root_for_larger_sizes(n):
    leaves = [merkle.leaf_hash(b"big %d" % i) for i in range(n)]
    assert root_of(frontier_of(leaves), n) == merkle.root_hash(leaves)


def test_frontier_hashes_are_the_trees_own_nodes():
    """Each frontier hash is the RFC hash of its aligned block of leaves."""
    n = 1000  # 512 + 256 + 128 + 64 + 32 + 8
    begin = 0
    for width, h in zip(frontier_sizes(n), frontier_of(BASE[0][:n]), strict=True):
        assert h == ref.mth(tuple(INPUTS[0][begin : begin + width]))
        begin += width


def test_extend_from_every_split_point_gives_the_whole_frontier():
    rng = random.Random(11)
    for n in (0, 1, 2, 7, 8, 9, 255, 256, 257, 300, rng.randint(301, MAX_SIZE)):
        whole = frontier_of(BASE[1][:n])
        for s in range(n + 1):
            assert extend(frontier_of(BASE[1][:s]), s, iter(BASE[1][s:n])) == whole, (s, n)


def test_extend_in_random_steps_gives_the_whole_frontier():
    rng = random.Random(5)
    for _ in range(30):
        n = rng.randint(0, MAX_SIZE)
        cuts = sorted(rng.sample(range(n + 1), min(n + 1, rng.randint(1, 6))))
        f, size = [], 0
        for cut in [*cuts, n]:
            f = extend(f, size, BASE[0][size:cut])
            size = cut
        assert f == frontier_of(BASE[0][:n]), (n, cuts)


def test_root_of_and_extend_refuse_a_frontier_of_another_shape():
    f = frontier_of(BASE[0][:13])
    for bad in (f[:-1], [*f, f[0]], []):
        with pytest.raises(MalformedInput, match="a tree of size 13 has 3"):
            root_of(bad, 13)
        with pytest.raises(MalformedInput, match="a tree of size 13 has 3"):
            extend(bad, 13, [])
    with pytest.raises(MalformedInput, match=r"frontier\[1\] must be 32 bytes, got 31"):
        root_of([f[0], f[1][:31], f[2]], 13)
    with pytest.raises(MalformedInput, match="leaf hash 14 must be 32 bytes, got 33"):
        extend(f, 13, [BASE[0][13], BASE[0][14] + b"\x00"])
    with pytest.raises(TypeError):
        root_of(b"".join(f), 13)


# -- verify_range: the genuine range, and each tampering named ----------------------------


@dataclass(frozen=True)
class Range:
    """A genuine range ``[start, end)`` of tree ``salt``, as a bundle would carry it."""

    salt: int
    start: int
    end: int
    frontier: tuple[bytes, ...]
    start_root: bytes
    end_root: bytes
    leaves: tuple[bytes, ...]

    @classmethod
    def of(cls, salt: int, start: int, end: int) -> "Range":
        return cls(salt, start, end, _frontier(salt, start), _root(salt, start), _root(salt, end),
                   tuple(BASE[salt][start:end]))  # fmt: skip

    def kwargs(self) -> dict:
        return dict(start=self.start, start_root=self.start_root, frontier=list(self.frontier),
                    leaf_hashes=iter(self.leaves), end=self.end, end_root=self.end_root)  # fmt: skip

    def verify(self) -> None:
        verify_range(**self.kwargs())

    def minimal_verify(self) -> None:
        k = self.kwargs()
        minimal.verify_range(k["start"], k["start_root"], k["frontier"], k["leaf_hashes"], k["end"], k["end_root"])


R = Range.of(0, 300, 777)  # 300 = 256 + 32 + 8 + 4: a frontier of four hashes
MID = (R.end - R.start) // 2
LEAVES = list(R.leaves)
START_MISMATCH = "the frontier does not hash to the start checkpoint's root"
END_MISMATCH = "the range's leaves do not lead to the end checkpoint's root"
OTHER = merkle.leaf_hash(b"a leaf in no tree")

TAMPERED = {
    "dropped-leaf": (replace(R, leaves=R.leaves[:MID] + R.leaves[MID + 1 :]),
                     "the range holds 476 leaves, the checkpoints say 477"),
    "added-leaf": (replace(R, leaves=R.leaves[:MID] + (OTHER,) + R.leaves[MID:]),
                   "the range holds 478 leaves, the checkpoints say 477"),
    "added-leaf-at-end": (replace(R, leaves=R.leaves + (BASE[0][R.end],)),
                          "the range holds 478 leaves, the checkpoints say 477"),
    "two-leaves-swapped": (replace(R, leaves=tuple(LEAVES[:10] + [LEAVES[11], LEAVES[10]] + LEAVES[12:])),
                           END_MISMATCH),
    "leaf-edited": (replace(R, leaves=R.leaves[:MID] + (OTHER,) + R.leaves[MID + 1 :]), END_MISMATCH),
    "leaf-truncated": (replace(R, leaves=R.leaves[:5] + (R.leaves[5][:31],) + R.leaves[6:]),
                       "leaf hash 305 must be 32 bytes, got 31"),
    "frontier-hash-replaced": (replace(R, frontier=(R.frontier[0], OTHER, *R.frontier[2:])), START_MISMATCH),
    "frontier-hash-truncated": (replace(R, frontier=(*R.frontier[:2], R.frontier[2][:31], R.frontier[3])),
                                r"frontier\[2\] must be 32 bytes, got 31"),
    "frontier-too-short": (replace(R, frontier=R.frontier[:-1]),
                           "the frontier holds 3 hashes, a tree of size 300 has 4"),
    "frontier-too-long": (replace(R, frontier=(*R.frontier, OTHER)),
                          "the frontier holds 5 hashes, a tree of size 300 has 4"),
    "frontier-reversed": (replace(R, frontier=R.frontier[::-1]), START_MISMATCH),
    "wrong-start-root": (replace(R, start_root=_root(0, 301)), START_MISMATCH),
    "wrong-end-root": (replace(R, end_root=_root(0, 776)), END_MISMATCH),
    "frontier-of-another-tree": (replace(R, frontier=_frontier(1, 300)), START_MISMATCH),
    # A forked start: the other tree's frontier with its own (self-consistent) root.
    "start-of-another-tree": (replace(R, frontier=_frontier(1, 300), start_root=_root(1, 300)), END_MISMATCH),
    "range-shifted-by-one": (replace(R, leaves=tuple(BASE[0][301:778])), END_MISMATCH),
    "end-moved-later": (replace(R, end=778), "the range holds 477 leaves, the checkpoints say 478"),
}  # fmt: skip


def test_the_genuine_range_verifies():
    R.verify()
    R.minimal_verify()


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_range_is_refused_naming_what_broke(name):
    case, message = TAMPERED[name]
    with pytest.raises(InvalidProof, match=message):
        case.verify()
    with pytest.raises(ValueError):
        case.minimal_verify()


def test_root_mismatches_carry_both_roots():
    with pytest.raises(InvalidProof) as e:
        TAMPERED["wrong-end-root"][0].verify()
    assert (e.value.expected, e.value.calculated) == (_root(0, 776), R.end_root)
    with pytest.raises(InvalidProof) as e:
        TAMPERED["wrong-start-root"][0].verify()
    assert (e.value.expected, e.value.calculated) == (_root(0, 301), R.start_root)


@pytest.mark.parametrize("start, end", [(0, 0), (0, 1), (0, 777), (5, 5), (256, 512), (511, 512), (1, MAX_SIZE)])
def test_edge_ranges_verify(start, end):
    Range.of(1, start, end).verify()
    Range.of(1, start, end).minimal_verify()


def test_an_empty_start_binds_the_empty_root():
    with pytest.raises(InvalidProof, match=START_MISMATCH):
        replace(Range.of(0, 0, 10), start_root=OTHER).verify()
    with pytest.raises(InvalidProof, match="the frontier holds 1 hashes, a tree of size 0 has 0"):
        replace(Range.of(0, 0, 10), frontier=(OTHER,)).verify()
    with pytest.raises(InvalidProof, match=END_MISMATCH):
        replace(Range.of(0, 7, 7), end_root=OTHER).verify()


def test_malformed_arguments_are_not_a_failed_proof():
    with pytest.raises(MalformedInput, match="end at or after its start 300, got end 299"):
        verify_range(**{**R.kwargs(), "end": 299})
    with pytest.raises(MalformedInput):
        verify_range(**{**R.kwargs(), "start": -1})
    with pytest.raises(TypeError):
        verify_range(**{**R.kwargs(), "end": "777"})
    with pytest.raises(TypeError):
        verify_range(**{**R.kwargs(), "frontier": b"".join(R.frontier)})
    with pytest.raises(InvalidProof, match="end_root must be 32 bytes, got 31"):
        verify_range(**{**R.kwargs(), "end_root": R.end_root[:31]})


def test_range_checker_streams_the_same_check_and_fails_early_on_a_bad_frontier():
    checker = RangeChecker(start=R.start, start_root=R.start_root, frontier=R.frontier, end=R.end, end_root=R.end_root)
    for h in R.leaves:
        checker.add(h)
    assert checker.added == len(R.leaves)
    checker.finish()
    with pytest.raises(InvalidProof, match=START_MISMATCH):  # before any leaf is read
        RangeChecker(start=R.start, start_root=OTHER, frontier=R.frontier, end=R.end, end_root=R.end_root)


# -- hypothesis: random ranges, single-bit flips, agreement with the minimal verifier ------


@st.composite
def ranges(draw) -> Range:
    salt = draw(st.integers(0, SALTS - 1))
    start = draw(st.integers(0, MAX_SIZE - 1))
    return Range.of(salt, start, draw(st.integers(start, MAX_SIZE - 1)))


@SETTINGS
@given(ranges(), st.data())
def test_any_single_bit_flip_in_a_leaf_frontier_or_root_is_caught(r, data):
    parts = [r.start_root, r.end_root, *r.frontier, *r.leaves]
    k = data.draw(st.integers(0, 256 * len(parts) - 1), label="bit")
    parts[k // 256] = flip(parts[k // 256], k % 256)
    nf = len(r.frontier)
    flipped = replace(r, start_root=parts[0], end_root=parts[1], frontier=tuple(parts[2 : 2 + nf]),
                      leaves=tuple(parts[2 + nf :]))  # fmt: skip
    with pytest.raises(InvalidProof):
        flipped.verify()


MUTATIONS = ["none", "drop", "add", "swap", "edit", "flip-leaf", "short-leaf", "leaves-of-other-tree",
             "flip-frontier", "replace-frontier", "frontier-short", "frontier-long", "other-tree", "other-tree-start",
             "start-root", "end-root", "end+1", "end-1"]  # fmt: skip


def _mutate(r: Range, kind: str, draw) -> Range:
    n, nf = len(r.leaves), len(r.frontier)
    pick = lambda k: draw(st.integers(0, k - 1))  # noqa: E731
    leaves = list(r.leaves)
    if kind == "none":
        return r
    if kind in ("drop", "edit", "flip-leaf", "short-leaf"):
        assume(n)
        i = pick(n)
        new = {"drop": [], "edit": [OTHER], "flip-leaf": [flip(leaves[i], pick(256))], "short-leaf": [leaves[i][:-1]]}
        return replace(r, leaves=tuple(leaves[:i] + new[kind] + leaves[i + 1 :]))
    if kind == "add":
        i = draw(st.integers(0, n))
        return replace(r, leaves=tuple(leaves[:i] + [OTHER] + leaves[i:]))
    if kind == "swap":
        assume(n >= 2)
        i, j = pick(n), pick(n)
        assume(i != j)
        leaves[i], leaves[j] = leaves[j], leaves[i]
        return replace(r, leaves=tuple(leaves))
    if kind in ("flip-frontier", "replace-frontier"):
        assume(nf)
        i, f = pick(nf), list(r.frontier)
        f[i] = flip(f[i], pick(256)) if kind == "flip-frontier" else OTHER
        return replace(r, frontier=tuple(f))
    if kind == "frontier-short":
        assume(nf)
        return replace(r, frontier=r.frontier[:-1])
    if kind == "frontier-long":
        return replace(r, frontier=(*r.frontier, OTHER))
    if kind == "start-root":
        return replace(r, start_root=flip(r.start_root, pick(256)))
    if kind == "end-root":
        return replace(r, end_root=flip(r.end_root, pick(256)))
    other = 1 - r.salt
    if kind == "other-tree":
        assume(r.start)
        return replace(r, frontier=_frontier(other, r.start))
    if kind == "other-tree-start":
        assume(r.start)
        return replace(r, frontier=_frontier(other, r.start), start_root=_root(other, r.start))
    if kind == "leaves-of-other-tree":
        assume(n)
        return replace(r, leaves=tuple(BASE[other][r.start : r.end]))
    if kind == "end+1":
        return replace(r, end=r.end + 1)
    assert kind == "end-1"
    assume(r.end > r.start)
    return replace(r, end=r.end - 1)


def _outcome(fn, errors) -> bool:
    try:
        fn()
    except errors:
        return False
    return True


@settings(deadline=None, max_examples=600)
@given(ranges(), st.sampled_from(MUTATIONS), st.data())
def test_the_minimal_verifier_agrees_with_the_library_on_every_case(r, kind, data):
    case = _mutate(r, kind, data.draw)
    library = _outcome(case.verify, VerificationError)
    independent = _outcome(case.minimal_verify, ValueError)
    assert library == independent, (kind, case.start, case.end)
    assert library == (kind == "none"), kind


def test_the_minimal_verifier_is_small_and_imports_only_hashlib():
    path = Path(minimal.__file__)
    source = path.read_text()
    assert len(source.splitlines()) < 100
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or ".")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("__import__", "exec", "eval"):
            imported.add(node.func.id)
    assert imported == {"hashlib"}
    assert "ledger" not in source.replace("ledger.frontier", "")  # named in its docstring only


# -- streaming at scale ------------------------------------------------------------------

PERIOD = [merkle.leaf_hash(b"period %d" % i) for i in range(256)]  # leaf i is PERIOD[i % 256]


@functools.cache
def _periodic_root(begin: int, n: int) -> bytes:
    """RFC 9162 hash of leaves [begin, begin + n) of the periodic tree. The leaves depend
    only on begin % 256, so the recursion is memoized on that: O(log n) distinct calls."""
    if begin >= 256:
        return _periodic_root(begin % 256, n)
    if n == 1:
        return PERIOD[begin]
    k = merkle.split_point(n)
    return merkle.node_hash(_periodic_root(begin, k), _periodic_root((begin + k) % 256, n - k))


def _periodic_case(start: int, end: int) -> dict:
    frontier, begin = [], 0
    for width in _spine(start):
        frontier.append(_periodic_root(begin, width))
        begin += width
    leaves = (PERIOD[i % 256] for i in range(start, end))
    return dict(start=start, start_root=_periodic_root(0, start) if start else merkle.EMPTY_ROOT, frontier=frontier,
                leaf_hashes=leaves, end=end, end_root=_periodic_root(0, end))  # fmt: skip


def test_a_million_leaves_stream_from_a_generator():
    case = _periodic_case(333_333, 1_000_000)
    leaves = case["leaf_hashes"]
    verify_range(**case)
    assert next(leaves, None) is None  # consumed once, to the end
    bad = _periodic_case(333_333, 1_000_000)
    bad["leaf_hashes"] = (PERIOD[(i + (i == 700_000)) % 256] for i in range(333_333, 1_000_000))
    with pytest.raises(InvalidProof, match=END_MISMATCH):
        verify_range(**bad)


def test_the_range_check_holds_no_leaves():
    case = _periodic_case(70_001, 170_000)  # 100k leaves: 3.2 MB if they were kept
    tracemalloc.start()
    try:
        verify_range(**case)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024, peak


# -- SQLStore.frontier, on SQLite and PostgreSQL -------------------------------------------


def _entry(i: int) -> NewEntry:
    envelope = f'{{"id":"f{i}"}}'.encode()
    return NewEntry(
        record_id=f"f{i}", kind="dataset", author="0x" + "ab" * 20, issued_at="2026-11-27T00:00:00Z",
        leaf_hash=merkle.leaf_hash(envelope), envelope=envelope, payload=b"{}", salt=bytes(32), visibility="public",
    )


@pytest.fixture
def store(database_url):
    s = SQLStore(database_url)
    s.create_schema()
    yield s
    s.close()


@pytest.fixture
def log(store):
    return store.create_log(origin="frontier.test/log", chain_id=1, contract="0x" + "00" * 20,
                            operator="0x" + "11" * 20, note_vkey="k").id  # fmt: skip


def _tile_reads(store: SQLStore, fn):
    """Run fn; return its result, the SELECTs it ran through SQLAlchemy and the tile rows it read."""
    statements: list[str] = []
    read: list[int] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    real = store._select_tiles

    def counting(conn, log_, keys):
        got = real(conn, log_, keys)
        read.append(len(got))
        return got

    event.listen(store.engine, "before_cursor_execute", before)
    store._select_tiles = counting
    try:
        result = fn()
    finally:
        event.remove(store.engine, "before_cursor_execute", before)
        del store._select_tiles
    return result, statements, sum(read)


def test_store_frontier_matches_the_leaves_and_reads_one_tile_per_level(store, log):
    rng = random.Random(17)
    entries = [_entry(i) for i in range(3000)]
    pos = 0
    while pos < len(entries):
        n = rng.choice([1, 3, 255, 256, 257, 511, 700])
        store.append(log, entries[pos : pos + n])
        pos += n
    hashes = [e.leaf_hash for e in entries]
    sizes = [0, 1, 2, 3, 7, 8, 255, 256, 257, 511, 512, 513, 768, 1000, 2048, 2999, 3000]
    sizes += rng.sample(range(1, 3001), 40)
    for size in sizes:
        expected = frontier_of(hashes[:size])
        got, statements, n_tiles = _tile_reads(store, lambda: store.frontier(log, size, fresh=True))
        assert got == expected, size
        assert root_of(got, size) == store.root_at(log, size)
        # One tile per level holding a frontier subtree; no statement besides the driver's read.
        levels = {(w.bit_length() - 1) // tiles.TILE_HEIGHT for w in frontier_sizes(size)}
        assert n_tiles == len(levels) <= 1 + (max(size, 1).bit_length() - 1) // tiles.TILE_HEIGHT, (size, n_tiles)
        assert statements == [], statements
        assert store.frontier(log, size) == expected  # through the full-tile cache too
    start, end = 300, 2777
    verify_range(start=start, start_root=store.root_at(log, start), frontier=store.frontier(log, start),
                 leaf_hashes=(e.leaf_hash for e in store.entries_at(log, range(start, end))), end=end,
                 end_root=store.root_at(log, end))  # fmt: skip


def test_store_frontier_beyond_the_tree_is_not_found(store, log):
    store.append(log, [_entry(i) for i in range(10)])
    with pytest.raises(NotFound):
        store.frontier(log, 11)
    with pytest.raises(NotFound):
        store.frontier(log, -1)
    assert store.frontier(log, 0) == []
