"""C2SP tlog-tiles: tile coordinates, paths, tile updates and proofs from tiles.

Pure functions, no I/O: the store hands tiles in and takes tiles out.

A level-L tile holds the hashes of the perfect subtrees of height 8·L, 256 to a tile:
level-0 tile t holds the leaf hashes of leaves ``256t .. 256t+255``; level-1 tile t holds
the roots of level-0 tiles ``256t .. 256t+255``; and so on. A tile that does not yet hold
256 hashes is *partial*; for a tree of size n, level L has ``n >> 8L`` hashes, so its last
tile has width ``(n >> 8L) % 256``. Tiles only grow, so any prefix of a stored tile is the
tile as it was at an earlier tree size: the store keeps one row per tile, overwritten as it
grows, and a partial tile of width w is the first w hashes of that row.

Every hash a proof needs is the hash of a range ``[begin, end)`` whose begin is aligned
(see ``ledger.merkle``): the range splits into perfect subtrees, each of which lies inside
one tile of level ``height // 8`` and hashes from at most 128 of its entries. So a proof
needs O(log n) tiles, all known up front (``tiles_for_ranges``) and fetched in one read.

Paths (C2SP): ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, where N is the
tile index in 3-digit groups, all but the last prefixed with ``x``: 1234067 → ``x001/x234/067``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger import formats
from ledger.errors import MalformedTilePath, NotFound
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, fold_subtrees, node_hash, root_hash

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
MAX_LEVEL = 63  # C2SP: level is at most 63

TileKey = tuple[int, int]  # (level, index)
FULL_TILE_NODES = 2 * TILE_WIDTH - 1  # a full tile's hashes and interior nodes


@dataclass(frozen=True, slots=True)
class TilePath:
    """A parsed tile path. ``level`` is None for an entry bundle; ``width`` None for a full tile."""

    level: int | None
    index: int
    width: int | None

    def to_text(self) -> str:
        head = "tile/entries/" if self.level is None else f"tile/{self.level}/"
        tail = "" if self.width is None else f".p/{self.width}"
        return head + encode_index(self.index) + tail

    @classmethod
    def from_text(cls, path: str) -> "TilePath":
        return parse_tile_path(path)


def encode_index(index: int) -> str:
    """Tile index in 3-digit groups: 1234067 → ``x001/x234/067``, 5 → ``005``."""
    if index < 0:
        raise ValueError(f"tile index must be >= 0, got {index}")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


#: ``ledger.formats.TILE_PATH``: ASCII digits only, matched whole, bounded in length.
_PATH_RE = formats.TILE_PATH


def parse_tile_path(path: str) -> TilePath:
    """Parse a C2SP tile or entry-bundle path; raise ``MalformedTilePath`` if it is not one."""
    m = _PATH_RE.fullmatch(path) if type(path) is str else None
    if not m:
        raise MalformedTilePath(f"not a C2SP tile path: {path!r}")
    level_s, index_s, width_s = m.groups()
    level = None if level_s == "entries" else int(level_s)
    if level is not None and (level > MAX_LEVEL or level_s != str(level)):
        raise MalformedTilePath(f"tile level must be 0..{MAX_LEVEL} without leading zeros: {path!r}")
    index = int(index_s.replace("x", "").replace("/", ""))
    width = None
    if width_s is not None:
        width = int(width_s)
        if not 1 <= width < TILE_WIDTH or width_s != str(width):
            raise MalformedTilePath(f"partial tile width must be 1..255 without leading zeros: {path!r}")
    if encode_index(index) != index_s:
        raise MalformedTilePath(f"tile index is not in canonical 3-digit groups: {path!r}")
    return TilePath(level, index, width)


# -- which tiles a tree of size n has -------------------------------------------------


def tile_width_at(level: int, index: int, tree_size: int) -> int | None:
    """Width of tile (level, index) in the tree of ``tree_size`` leaves.

    Returns None for a full tile, the width 1..255 for the partial last tile, and raises
    ``NotFound`` if the tile does not exist at that size.
    """
    count = tree_size >> (TILE_HEIGHT * level)
    full = count // TILE_WIDTH
    if index < full:
        return None
    if index == full and count % TILE_WIDTH:
        return count % TILE_WIDTH
    raise NotFound(f"tile {level}/{index} does not exist at tree size {tree_size}")


# -- appending -------------------------------------------------------------------------


def append_to_tiles(
    old_size: int,
    new_leaf_hashes: Sequence[bytes],
    read_tile: Callable[[int, int], bytes],
    on_full: Callable[[TileKey, "FullTile"], None] | None = None,
) -> dict[TileKey, bytes]:
    """Tiles to write after appending ``new_leaf_hashes`` to a tree of ``old_size`` leaves.

    ``read_tile(level, index)`` returns the stored bytes of an existing partial tile (it is
    called only for the last tile of a level when that tile is partial). Returns every
    tile that changed, as its full new content (concatenated 32-byte hashes).
    ``on_full(key, tile)`` is called for each tile this append fills, with its interior
    nodes computed (computing its root needs them anyway).
    """
    out: dict[TileKey, bytes] = {}
    level = 0
    hashes = list(new_leaf_hashes)
    count_before = old_size  # hashes already at this level
    while hashes:
        tile_index, width = divmod(count_before, TILE_WIDTH)
        head = b""
        if width:
            head = read_tile(level, tile_index)
            if len(head) < width * HASH_SIZE:
                raise ValueError(
                    f"stored tile {level}/{tile_index} has {len(head) // HASH_SIZE} hashes, expected {width}"
                )
            head = head[: width * HASH_SIZE]
        promoted: list[bytes] = []
        pos = 0
        while pos < len(hashes):
            take = min(TILE_WIDTH - width, len(hashes) - pos)
            chunk = hashes[pos : pos + take]
            pos += take
            data = head + b"".join(chunk)
            out[(level, tile_index)] = data
            if width + take == TILE_WIDTH:
                full = FullTile(data)
                promoted.append(full.root)
                if on_full is not None:
                    on_full((level, tile_index), full)
            tile_index += 1
            width = 0
            head = b""
        hashes = promoted
        count_before >>= TILE_HEIGHT
        level += 1
    return out


# -- proofs ----------------------------------------------------------------------------


def _perfect_subtrees(begin: int, end: int) -> list[tuple[int, int]]:
    """Split an aligned range into perfect subtrees ``(begin, height)``, largest first."""
    width = end - begin
    if width <= 0:
        raise ValueError(f"empty range [{begin}, {end})")
    if begin & ((1 << (width - 1).bit_length()) - 1):
        raise ValueError(f"range [{begin}, {end}) is not aligned")
    out = []
    for height in range(width.bit_length() - 1, -1, -1):
        if width >> height & 1:
            out.append((begin, height))
            begin += 1 << height
    return out


def _locate(begin: int, height: int) -> tuple[TileKey, int, int]:
    """Tile holding a perfect subtree, and the slice [first, first+count) of its entries."""
    level = height // TILE_HEIGHT
    first = begin >> (TILE_HEIGHT * level)
    count = 1 << (height - TILE_HEIGHT * level)
    return (level, first // TILE_WIDTH), first % TILE_WIDTH, count


def tiles_for_ranges(ranges: Iterable[tuple[int, int]]) -> set[TileKey]:
    """The tiles needed to hash every range in ``ranges``."""
    keys: set[TileKey] = set()
    for b, e in ranges:
        for begin, height in _perfect_subtrees(b, e):
            keys.add(_locate(begin, height)[0])
    return keys


class FullTile:
    """A full (immutable) tile with all its interior nodes computed once.

    Any perfect subtree inside it is then a lookup instead of up to 127 hashes; the store
    keeps recently used full tiles this way. Memory: the 511 node hashes in one bytes
    object, 16 KiB.
    """

    __slots__ = ("nodes",)

    #: Offset (in hashes) of each height's nodes in ``nodes``: 0, 256, 384, 448, ...
    _OFFSETS = [sum(TILE_WIDTH >> k for k in range(h)) for h in range(TILE_HEIGHT + 1)]

    def __init__(self, data: bytes):
        if len(data) != TILE_WIDTH * HASH_SIZE:
            raise ValueError(f"a full tile has {TILE_WIDTH * HASH_SIZE} bytes, got {len(data)}")
        parts = [data]
        level = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            parts.append(b"".join(level))
        self.nodes = b"".join(parts)

    @classmethod
    def from_nodes(cls, nodes: bytes) -> "FullTile":
        """A full tile from its stored ``nodes`` (the tile's hashes, then the interior nodes)."""
        if len(nodes) != FULL_TILE_NODES * HASH_SIZE:
            raise ValueError(f"a full tile's nodes are {FULL_TILE_NODES * HASH_SIZE} bytes, got {len(nodes)}")
        tile = cls.__new__(cls)
        tile.nodes = nodes
        return tile

    @property
    def root(self) -> bytes:
        return self.nodes[-HASH_SIZE:]

    @property
    def interior(self) -> bytes:
        """The interior node hashes (heights 1..8), as the store keeps them beside the tile."""
        return self.nodes[TILE_WIDTH * HASH_SIZE :]

    def subtree_hash(self, first: int, count: int) -> bytes:
        """Root of entries ``[first, first+count)``; count a power of two, first aligned to it."""
        height = count.bit_length() - 1
        at = (self._OFFSETS[height] + (first >> height)) * HASH_SIZE
        return self.nodes[at : at + HASH_SIZE]


def range_hash(
    begin: int, end: int, tiles: Mapping[TileKey, bytes], full: Mapping[TileKey, FullTile] | None = None
) -> bytes:
    """Hash of the aligned range ``[begin, end)`` (``EMPTY_ROOT`` if empty).

    ``tiles`` holds tile bytes; ``full`` optionally holds precomputed full tiles, which
    are used instead when a subtree lies in one of them.
    """
    if begin == end:
        return EMPTY_ROOT
    subtrees = []
    for b, height in _perfect_subtrees(begin, end):
        key, first, count = _locate(b, height)
        if full is not None and (ft := full.get(key)) is not None:
            subtrees.append(ft.subtree_hash(first, count))
            continue
        data = tiles.get(key)
        if data is None or len(data) < (first + count) * HASH_SIZE:
            raise KeyError(f"tile {key[0]}/{key[1]} with at least {first + count} hashes is not available")
        start = first * HASH_SIZE
        if count == 1:
            subtrees.append(data[start : start + HASH_SIZE])
        else:
            subtrees.append(
                root_hash([data[i : i + HASH_SIZE] for i in range(start, start + count * HASH_SIZE, HASH_SIZE)])
            )
    return fold_subtrees(subtrees)
