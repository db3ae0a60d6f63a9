"""Gap-free, unique indexes under concurrent writer processes (issue 2, item 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ledger_fixtures import check_whole_tree, make_world

WRITERS = 8
PER_WRITER = 500
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_concurrent_writers_get_gap_free_indexes(tmp_path, database_url, request):
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    before = world.ledger.store.tree_size(world.ledger.log.id)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers.appender", str(tmp_path), database_url,
             world.provider_key.hex(), str(PER_WRITER), str(w)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(WRITERS)
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    size = check_whole_tree(world.ledger)
    assert size == before + WRITERS * PER_WRITER
    # every writer's records are all there, each exactly once
    store, log = world.ledger.store, world.ledger.log.id
    ids = [store.entry_at(log, i).record_id for i in range(before, size)]
    assert len(set(ids)) == WRITERS * PER_WRITER
    assert set(ids) == {f"w{w}-{i}" for w in range(WRITERS) for i in range(PER_WRITER)}
    world.ledger.seal()
    assert world.ledger.audit().tree_size == size
