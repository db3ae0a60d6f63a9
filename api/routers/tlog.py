"""C2SP tlog-tiles, read-only and public: ``/v1/tlog/checkpoint``, ``/v1/tlog/tile/...``.

The tile prefix is ``<base>/v1/tlog``. What exists is fixed by the latest checkpoint's
tree size n, never by the live tree (which may have grown past it):

- ``tile/<L>/<N>``: a tile that is full at size n (256 hashes), cached for a year,
  immutable;
- ``tile/<L>/<N>.p/<W>``: the first W hashes of a tile that holds at least W at size n
  — the partial tile of an earlier or the current checkpoint — which never changes
  either (tiles only grow), so it is cached as long and as ``immutable``;
- ``tile/entries/<N>[.p/<W>]``: the entry bundle of the same leaves, each entry the stored
  canonical envelope bytes (the leaf input) prefixed by its length as a big-endian uint16.

Anything else is 404 (a tile that does not exist at size n, with ``Cache-Control:
no-store``, as every error answer has, so that no cache pins the miss: it may exist after
the next checkpoint) or 400
(not a C2SP path). Hash tiles are served without gzip (random bytes do not compress);
entry bundles are compressed when the client accepts it.
The store keeps one row per tile, overwritten as it grows; since tiles only grow, the
first W hashes of the row are the tile as it was at width W.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from api.deps import LedgerDep
from api.routers.log import CHECKPOINT_MEDIA_TYPE
from ledger.errors import LedgerError, NotFound
from ledger.merkle import HASH_SIZE
from ledger.tiles import TILE_WIDTH, TilePath, parse_tile_path, tile_width_at

router = APIRouter(prefix="/tlog", tags=["tlog (C2SP tlog-tiles)"])

TILE_MEDIA_TYPE = "application/octet-stream"
FULL_CACHE = "public, max-age=31536000, immutable"
MAX_ENTRY = 0xFFFF  # an entry bundle's uint16 length prefix

_OCTETS = {200: {"content": {TILE_MEDIA_TYPE: {}}}}


def _served_width(path: TilePath, tree_size: int) -> int:
    """How many hashes (or entries) the resource at ``path`` has at ``tree_size``; else NotFound."""
    level = 0 if path.level is None else path.level
    width_now = tile_width_at(level, path.index, tree_size)
    if path.width is None:
        if width_now is not None:
            raise NotFound(
                f"{path.to_text()} is not full at tree size {tree_size}; it is served as .p/{width_now}"
            )
        return TILE_WIDTH
    if width_now is not None and path.width > width_now:
        raise NotFound(f"{path.to_text()} is wider than the tile's {width_now} hashes at tree size {tree_size}")
    return path.width


def _entry_bundle(entries: list[bytes]) -> bytes:
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY:
            raise LedgerError(f"an entry of {len(entry)} bytes does not fit an entry bundle's uint16 length")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


@router.get("/checkpoint", response_class=PlainTextResponse, responses={200: {"content": {"text/plain": {}}}})
def tlog_checkpoint(ledger: LedgerDep) -> PlainTextResponse:
    """The latest checkpoint (C2SP tlog-checkpoint, signed note)."""
    note = ledger.latest_checkpoint().note
    return PlainTextResponse(note, media_type=CHECKPOINT_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


@router.get("/tile/{path:path}", response_class=Response, responses=_OCTETS)
def tlog_tile(ledger: LedgerDep, path: str) -> Response:
    """A hash tile ``tile/<L>/<N>[.p/<W>]`` or an entry bundle ``tile/entries/<N>[.p/<W>]``."""
    tile = parse_tile_path("tile/" + path)
    tree_size = ledger.latest_checkpoint().tree_size
    width = _served_width(tile, tree_size)
    if tile.level is None:
        first = tile.index * TILE_WIDTH
        rows = ledger.envelopes(first, first + width)
        if [i for i, _, _ in rows] != list(range(first, first + width)):
            raise LedgerError(f"entries {first}..{first + width - 1} are not all stored")
        data = _entry_bundle([envelope for _, _, envelope in rows])
    else:
        stored = ledger.tile(tile.level, tile.index) or b""
        if len(stored) < width * HASH_SIZE:
            raise LedgerError(f"stored tile {tile.level}/{tile.index} holds fewer than {width} hashes")
        data = stored[: width * HASH_SIZE]
    return Response(data, media_type=TILE_MEDIA_TYPE, headers={"Cache-Control": FULL_CACHE})
