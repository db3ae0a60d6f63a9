"""Acknowledged records survive SIGKILL of the appending process (issue 2, item 5).

A writer appends signed records and prints ``ACK <id>`` only after ``submit`` returned.
The test kills it with SIGKILL at a random moment, 20 times, and after each kill checks
that every acknowledged record is stored and that the whole tree re-verifies from its
entries (gap-free indexes, leaf hashes, tiles). The next writer then appends on top of
whatever the killed one left, so a torn write would surface in a later round.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ledger_fixtures import check_whole_tree, make_world

ROUNDS = 20
REPO = Path(__file__).resolve().parents[1]


def _run_and_kill(args: list[str], delay: float) -> list[str]:
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    acked: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ACK "):
                acked.append(line[4:].strip())

    t = threading.Thread(target=reader)
    t.start()
    # wait until the writer is appending, then let it run a random while
    deadline = time.monotonic() + 60
    while not acked and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    t.join()
    return acked


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_record(tmp_path, database_url, request):
    world = make_world(tmp_path, database_url)
    request.addfinalizer(world.ledger.store.close)
    store, log = world.ledger.store, world.ledger.log.id
    rng = random.Random(20261127)
    all_acked: list[str] = []
    for round_no in range(ROUNDS):
        args = [
            sys.executable, "-m", "tests.workers.appender", str(tmp_path), database_url,
            world.provider_key.hex(), "1000000", f"{round_no}", "--ack",
        ]
        acked = _run_and_kill(args, delay=rng.uniform(0.0, 0.4))
        assert acked, f"round {round_no}: the writer acknowledged nothing before it was killed"
        all_acked.extend(acked)
        size = check_whole_tree(world.ledger)
        for rid in acked:
            store.entry_by_record_id(log, rid)  # raises NotFound if lost
        assert size >= len(all_acked)
    # a checkpoint over everything still seals and verifies
    cp = world.ledger.seal()
    assert cp.tree_size == store.tree_size(log)
    assert world.ledger.audit().checkpoints_checked == 1
