"""The embedded chain persists under the data directory (issue 3, item 3).

Anchors made by one process are there for the next; a process killed at any moment
leaves a chain that reopens at a consistent head and keeps extending it.
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
from eth_account import Account

from ledger import merkle
from ledger.chain import Registry, log_id
from ledger.chain.embedded import EMBEDDED_CHAIN_ID, open_embedded_chain
from ledger.datadir import first_contract_address
from ledger.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
ORIGIN = "embedded.test/log"
LEAF = merkle.leaf_hash(b"leaf")


def _start_anchorer(chain: Path, key: bytes) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers.embedded_anchorer", str(chain), key.hex(), ORIGIN],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _anchored_lines(proc: subprocess.Popen, at_least: int, timeout: float = 60) -> list[int]:
    sizes: list[int] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while len(sizes) < at_least and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ANCHORED "):
            sizes.append(int(line.split()[1]))
    return sizes


def _check_head(chain: Path, expect_at_least: int) -> int:
    """Reopen the chain in this process; the head is consistent and can be extended."""
    w3, backend = open_embedded_chain(chain)
    try:
        assert w3.eth.chain_id == EMBEDDED_CHAIN_ID
        registry = Registry(w3, Path(f"{chain}.registry").read_text())
        registry.verify_code()
        lid = log_id(ORIGIN)
        head = registry.head(lid)
        assert head.tree_size >= expect_at_least, (head.tree_size, expect_at_least)
        assert head.root == merkle.root_hash([LEAF] * head.tree_size)
        for size in {1, head.tree_size // 2 or 1, head.tree_size}:
            assert registry.root_at(lid, size).root == merkle.root_hash([LEAF] * size)
        return head.tree_size
    finally:
        backend.kv.close()


def test_anchors_survive_a_restart_and_the_registry_gets_the_precomputed_address(tmp_path):
    chain, key = tmp_path / "chain.db", os.urandom(32)
    proc = _start_anchorer(chain, key)
    try:
        sizes = _anchored_lines(proc, 3)
    finally:
        proc.terminate()
        proc.wait(30)
    assert sizes[:3] == [1, 2, 3], proc.stderr.read() if proc.stderr else ""
    # The EIP-712 domain of a log made before deployment names this very address.
    operator = Account.from_key(key).address
    assert Path(f"{chain}.registry").read_text() == first_contract_address(operator)
    size = _check_head(chain, 3)
    # and a new process carries on from there
    proc = _start_anchorer(chain, key)
    try:
        more = _anchored_lines(proc, 2)
    finally:
        proc.terminate()
        proc.wait(30)
    assert more[:2] == [size + 1, size + 2]
    _check_head(chain, size + 2)


def test_a_second_process_cannot_open_the_same_chain(tmp_path):
    _, backend = open_embedded_chain(tmp_path / "chain.db")
    try:
        with pytest.raises(ConfigError, match="open in another process"):
            open_embedded_chain(tmp_path / "chain.db")
    finally:
        backend.kv.close()
    _, again = open_embedded_chain(tmp_path / "chain.db")  # free once closed
    again.kv.close()


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_consistent_chain(tmp_path):
    """Every anchor acknowledged before the kill is on the chain after the restart."""
    chain, key = tmp_path / "chain.db", os.urandom(32)
    rng = random.Random(3)
    for _round in range(6):
        proc = _start_anchorer(chain, key)
        seen: list[int] = []

        def read(proc: subprocess.Popen = proc, seen: list[int] = seen) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:  # ends at EOF, when the process is gone
                if line.startswith("ANCHORED "):
                    seen.append(int(line.split()[1]))

        reader = threading.Thread(target=read)
        reader.start()
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reader.join()
        assert seen, "the anchorer acknowledged nothing before it was killed"
        _check_head(chain, seen[-1])


def test_a_block_is_stamped_when_its_first_transaction_arrives_not_when_the_last_was_mined(tmp_path):
    """py-evm stamps the pending block when the block before it is mined; an idle ledger
    then anchored with a stale time, which audit bundle verifiers judge issued_at by."""
    w3, backend = open_embedded_chain(tmp_path / "chain.db")
    try:
        me = w3.eth.accounts[0]
        w3.eth.send_transaction({"from": me, "to": me, "value": 1})
        mined = w3.eth.get_block("latest")["timestamp"]
        time.sleep(3.2)  # block times may run a second or two ahead of the clock; idle longer than that
        before = int(time.time())
        assert before >= mined + 2, (mined, before)  # so a stale stamp (mined + 1) would be caught
        w3.eth.send_transaction({"from": me, "to": me, "value": 1})
        stamped = w3.eth.get_block("latest")["timestamp"]
        assert stamped >= before, (mined, before, stamped)
    finally:
        backend.kv.close()
