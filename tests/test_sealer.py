"""The sealer: checkpoints that verify, repeat, extend each other — and never a signed fork.

The fork tests corrupt the stored log behind the ledger's back (SQL on the real tables,
as a broken disk, a bad restore or a hostile operator would), then ask it to seal. Each
must raise ``SealerHalted`` and store no new checkpoint, and keep refusing when asked
again. Run on SQLite and PostgreSQL.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_log_fixtures are parameters here)
from __future__ import annotations

from collections.abc import Callable

import pytest
from ledger_fixtures import World, check_whole_tree
from sqlalchemy import delete, func, select, update
from test_log_fixtures import backend_url, dataset, shared_postgres_url, world  # noqa: F401

from ledger import merkle
from ledger.checkpoint import NoteSigner, NoteVerifier, verify_checkpoint
from ledger.datadir import open_data_dir, signed_submission
from ledger.errors import (
    CorruptStore,
    InvalidSignature,
    SealerHalted,
    VerificationError,
)
from ledger.log import Ledger
from ledger.store import SQLStore
from ledger.store.models import CheckpointRow, EntryRow, LogRow, TileRow
from ledger.tiles import TILE_WIDTH
from ledger.verify import ChainRef, verify_receipt

_tiles = TileRow.__table__
_entries = EntryRow.__table__
_checkpoints = CheckpointRow.__table__
_logs = LogRow.__table__
H = merkle.HASH_SIZE


def grow(w: World, n: int) -> None:
    """Append ``n`` datasets of the provider in one batch."""
    subs = [
        signed_submission(w.ledger, w.provider_key, kind="dataset", payload=dataset(f"d{i}-{w.ledger.store.tree_size(w.ledger.log.id)}"))
        for i in range(n)
    ]
    w.ledger.submit(subs)


def grow_to(w: World, size: int) -> None:
    grow(w, size - w.ledger.store.tree_size(w.ledger.log.id))
    assert w.ledger.store.tree_size(w.ledger.log.id) == size


def checkpoint_rows(ledger: Ledger) -> list[tuple[int, bytes, str]]:
    with ledger.store.engine.connect() as conn:
        q = select(_checkpoints.c.tree_size, _checkpoints.c.root_hash, _checkpoints.c.note)
        rows = conn.execute(q.where(_checkpoints.c.log == ledger.log.id).order_by(_checkpoints.c.tree_size))
        return [(r.tree_size, bytes(r.root_hash), r.note) for r in rows]


def execute(ledger: Ledger, statement) -> int:
    with ledger.store.engine.begin() as conn:
        return conn.execute(statement).rowcount


def tile(ledger: Ledger, level: int, idx: int) -> bytes:
    data = ledger.store.tile(ledger.log.id, level, idx)
    assert data is not None, f"tile {level}/{idx} is not stored"
    return data


def write_tile(ledger: Ledger, level: int, idx: int, data: bytes) -> None:
    n = execute(
        ledger,
        update(_tiles).where(_tiles.c.log == ledger.log.id, _tiles.c.level == level, _tiles.c.idx == idx).values(data=data),
    )
    assert n == 1


def flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def entry_where(ledger: Ledger, idx: int):
    return (_entries.c.log == ledger.log.id) & (_entries.c.idx == idx)


def leaf_hashes(ledger: Ledger) -> list[bytes]:
    size = ledger.store.tree_size(ledger.log.id)
    return [h for _, h, _ in ledger.store.leaf_data(ledger.log.id, 0, size)]


# -- checkpoints ------------------------------------------------------------------------


def test_seal_makes_a_checkpoint_that_verifies_with_the_note_key(world):
    ledger = world.ledger
    grow(world, 3)
    cp = ledger.seal()
    size = ledger.store.tree_size(ledger.log.id)
    checkpoint = verify_checkpoint(cp.note, NoteVerifier.from_text(ledger.log.note_vkey), origin=ledger.origin)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash) == (ledger.origin, size, cp.root_hash)
    assert cp.root_hash == merkle.root_hash(leaf_hashes(ledger))  # from the envelopes, not the tiles
    assert verify_checkpoint(cp.note, ledger.note_verifier, origin=ledger.origin) == checkpoint
    # negative controls: another key of the same name, and another origin, are refused
    with pytest.raises(InvalidSignature):
        verify_checkpoint(cp.note, NoteSigner.generate(ledger.origin).verifier, origin=ledger.origin)
    with pytest.raises(Exception, match="origin"):
        verify_checkpoint(cp.note, NoteVerifier.from_text(ledger.log.note_vkey), origin=ledger.origin + "x")


def test_sealing_twice_without_new_entries_returns_the_same_checkpoint(world):
    ledger = world.ledger
    first = ledger.seal()
    again = ledger.seal()
    assert again == first
    reopened = open_data_dir(world.settings)
    try:
        assert reopened.seal() == first
    finally:
        reopened.store.close()
    assert len(checkpoint_rows(ledger)) == 1
    grow(world, 1)
    third = ledger.seal()
    assert third.tree_size == first.tree_size + 1 and third.note != first.note
    assert [r[0] for r in checkpoint_rows(ledger)] == [first.tree_size, third.tree_size]


def test_consecutive_checkpoints_are_consistent(world):
    """Checkpoints at sizes that straddle the first tile boundary, every pair consistent."""
    ledger = world.ledger
    seals = [ledger.seal()]
    for size in (5, 255, 256, 257, 300):
        grow_to(world, size)
        seals.append(ledger.seal())
    assert [cp.tree_size for cp in seals] == [2, 5, 255, 256, 257, 300]
    hashes = leaf_hashes(ledger)
    for i, old in enumerate(seals):
        assert old.root_hash == merkle.root_hash(hashes[: old.tree_size])
        for new in seals[i:]:
            proof = ledger.store.consistency_proof(ledger.log.id, old.tree_size, new.tree_size)
            merkle.verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof)
    # negative control: the same proof against a wrong old root fails
    proof = ledger.store.consistency_proof(ledger.log.id, 5, 300)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(5, 300, seals[0].root_hash, seals[-1].root_hash, proof)
    assert check_whole_tree(ledger) == 300


# -- fork detection ---------------------------------------------------------------------

SEALED = 10  # the checkpoint before the corruption
MORE = 3  # appended after it


def _sealed_world(w: World) -> None:
    grow_to(w, SEALED)
    w.ledger.seal()


def _tile_byte_of_sealed_leaf(w: World) -> None:
    """(a) one byte of a sealed leaf's hash in tile 0/0, then more entries."""
    write_tile(w.ledger, 0, 0, flip_byte(tile(w.ledger, 0, 0), 3 * H + 7))
    grow(w, MORE)


def _tile_byte_of_new_leaf(w: World) -> None:
    """(a') one byte of a leaf appended since the checkpoint."""
    grow(w, MORE)
    write_tile(w.ledger, 0, 0, flip_byte(tile(w.ledger, 0, 0), (SEALED + 1) * H))


def _envelope_of_new_entry(w: World) -> None:
    """(b) the stored envelope bytes of an entry appended since the checkpoint."""
    grow(w, MORE)
    env = w.ledger.store.entry_at(w.ledger.log.id, SEALED + 1).envelope
    changed = env.replace(b'"kind":"dataset"', b'"kind":"datasex"')
    assert changed != env
    assert execute(w.ledger, update(_entries).where(entry_where(w.ledger, SEALED + 1)).values(envelope=changed)) == 1


def _leaf_hash_of_new_entry(w: World) -> None:
    """(c) the stored leaf_hash column of an entry appended since the checkpoint."""
    grow(w, MORE)
    stored = w.ledger.store.entry_at(w.ledger.log.id, SEALED).leaf_hash
    n = execute(w.ledger, update(_entries).where(entry_where(w.ledger, SEALED)).values(leaf_hash=flip_byte(stored, 0)))
    assert n == 1


def _new_entry_deleted(w: World) -> None:
    """(d) an entry row appended since the checkpoint is deleted."""
    grow(w, MORE)
    assert execute(w.ledger, delete(_entries).where(entry_where(w.ledger, SEALED + 1))) == 1


def _tree_size_rolled_back(w: World) -> None:
    """The sequencer's counter set below the last checkpoint (a partial restore)."""
    n = execute(w.ledger, update(_logs).where(_logs.c.id == w.ledger.log.id).values(tree_size=SEALED - 2))
    assert n == 1


def _tile_row_deleted(w: World) -> None:
    """The tile row of the sealed leaves vanishes."""
    grow(w, MORE)
    q = delete(_tiles).where(_tiles.c.log == w.ledger.log.id, _tiles.c.level == 0, _tiles.c.idx == 0)
    assert execute(w.ledger, q) == 1


def _tile_row_truncated(w: World) -> None:
    """The tile row loses its last hashes (a torn write)."""
    grow(w, MORE)
    write_tile(w.ledger, 0, 0, tile(w.ledger, 0, 0)[: 4 * H])


CORRUPTIONS: dict[str, Callable[[World], None]] = {
    "tile-byte-of-sealed-leaf": _tile_byte_of_sealed_leaf,
    "tile-byte-of-new-leaf": _tile_byte_of_new_leaf,
    "envelope-of-new-entry": _envelope_of_new_entry,
    "leaf-hash-of-new-entry": _leaf_hash_of_new_entry,
    "new-entry-deleted": _new_entry_deleted,
    # Regression: these three used to escape as NotFound / KeyError instead of SealerHalted
    # (root_at ran outside the check, and a smaller size failed in consistency_proof).
    "tree-size-rolled-back": _tree_size_rolled_back,
    "tile-row-deleted": _tile_row_deleted,
    "tile-row-truncated": _tile_row_truncated,
}


def _assert_halts(w: World) -> None:
    ledger = w.ledger
    before = checkpoint_rows(ledger)
    for _ in range(2):  # and keeps refusing
        with pytest.raises(SealerHalted, match="refusing to sign"):
            ledger.seal()
    assert checkpoint_rows(ledger) == before
    assert ledger.latest_checkpoint().tree_size == SEALED


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_the_sealer_refuses_to_sign_a_corrupted_log(world, corrupt):
    _sealed_world(world)
    corrupt(world)
    _assert_halts(world)


def test_level_1_tile_rewritten_consistently_with_a_tampered_level_0_tile(world):
    """(e) Rewrite history below a level-1 hash: leaf 3 changed in tile 0/0 and tile 1/0 recomputed.

    The stored tiles then agree with each other, and with a tree in which leaf 3 is
    different — a consistent fork of the sealed tree. The consistency proof from the
    checkpoint exposes it.
    """
    ledger = world.ledger
    sealed = TILE_WIDTH + 44
    grow_to(world, sealed)
    ledger.seal()
    level0 = flip_byte(tile(ledger, 0, 0), 3 * H)
    write_tile(ledger, 0, 0, level0)
    forged_root = merkle.root_hash([level0[i : i + H] for i in range(0, TILE_WIDTH * H, H)])
    write_tile(ledger, 1, 0, forged_root + tile(ledger, 1, 0)[H:])
    assert ledger.store.root_at(ledger.log.id, TILE_WIDTH) == forged_root  # the forgery is self-consistent
    grow(world, MORE)
    before = checkpoint_rows(ledger)
    with pytest.raises(SealerHalted, match="does not extend"):
        ledger.seal()
    assert checkpoint_rows(ledger) == before


@pytest.mark.parametrize("what", ["level-0-tile-under-level-1", "sealed-envelope", "sealed-entry-deleted"])
def test_corruption_of_already_sealed_data_is_caught_by_the_audit(world, what):
    """Damage to data a previous checkpoint already covers, which no later proof path re-reads.

    The sealer's incremental check does not re-read it (that would cost O(n) per seal);
    the full audit (``tdsl audit``, and the API's sealer at start-up) does.
    """
    ledger = world.ledger
    sealed = TILE_WIDTH + 44
    grow_to(world, sealed)
    ledger.seal()
    assert ledger.audit().tree_size == sealed
    if what == "level-0-tile-under-level-1":
        write_tile(ledger, 0, 0, flip_byte(tile(ledger, 0, 0), 3 * H))
    elif what == "sealed-envelope":
        env = ledger.store.entry_at(ledger.log.id, 5).envelope
        execute(ledger, update(_entries).where(entry_where(ledger, 5)).values(envelope=env.replace(b'"v":1', b'"v":2')))
    else:
        execute(ledger, delete(_entries).where(entry_where(ledger, 5)))
    grow(world, MORE)
    with pytest.raises(CorruptStore):
        ledger.audit()


def test_a_halted_sealer_signed_nothing_even_for_the_first_checkpoint_after_corruption(world):
    """After a halt, the honest prefix can still be proven: old receipts keep verifying."""
    ledger = world.ledger
    _sealed_world(world)
    record = ledger.store.entry_at(ledger.log.id, 4).record_id
    old = ledger.receipt(record, ledger.viewer_for(ledger.log.operator))
    _tile_byte_of_sealed_leaf(world)
    with pytest.raises(SealerHalted):
        ledger.seal()
    verify_receipt(
        old.to_json(), origin=ledger.origin, chain=ChainRef(ledger.log.chain_id, ledger.log.contract),
        note_key=ledger.log.note_vkey,
    )  # fmt: skip
    with ledger.store.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(_checkpoints).where(_checkpoints.c.log == ledger.log.id)).scalar_one()
    assert count == 1
    assert old.checkpoint == ledger.latest_checkpoint().note


def test_tampered_interior_nodes_give_invalid_proofs_and_fail_the_audit(world):
    """A full tile's stored interior nodes are a shortcut for proofs, never trusted blindly."""
    ledger = world.ledger
    grow_to(world, TILE_WIDTH + 10)
    cp = ledger.seal()
    interior = ledger.store.get_interiors(ledger.log.id, [(0, 0)])[(0, 0)]
    assert interior is not None and len(interior) == (TILE_WIDTH - 1) * H
    forged = bytes(len(interior))
    execute(ledger, update(_tiles).where(_tiles.c.log == ledger.log.id, _tiles.c.level == 0, _tiles.c.idx == 0)
            .values(interior=forged))  # fmt: skip
    fresh = SQLStore(ledger.store.url)  # a new process: no tiles cached yet
    try:
        entry = ledger.store.entry_at(ledger.log.id, 3)
        proof = fresh.inclusion_proof(ledger.log.id, 3, cp.tree_size)
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(entry.leaf_hash, 3, cp.tree_size, proof, cp.root_hash)
    finally:
        fresh.close()
    with pytest.raises(CorruptStore, match="interior nodes"):
        ledger.audit()
