"""``tdsl serve --workers N``: worker processes sharing one port, one data directory and
one embedded chain (issue 8, item 1).

A real ``tdsl serve --workers 2`` on an initialised data directory with its embedded
chain: concurrent single submissions are all stored at the indexes their answers gave;
exactly one worker holds the chain file open (the one holding the log's sealer lock) and
anchors, so receipts become ``final`` and verify against the chain file; SIGKILL of that
worker makes uvicorn start another and a standby take over the lock and the chain, and
anchoring goes on; every acknowledged record is still there; SIGTERM stops every process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.chain.embedded_file import ChainFileAnchorReader
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant, signed_submission
from ledger.envelope import address_of
from ledger.receipt import Receipt
from ledger.verify import AnchorStatus, ChainRef, check_receipt
from test_api_support import dataset_payload, free_port, to_json

ORIGIN = "workers.test/log"
TDSL = str(Path(sys.executable).with_name("tdsl"))


@dataclass
class Served:
    proc: subprocess.Popen
    base: str
    data_dir: Path
    ledger: object  # the test's own Ledger on the same data directory (for signing and reading)
    key: bytes
    token: str


def _workers(parent: int) -> list[int]:
    """The uvicorn worker processes of ``parent`` (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return []
    out = []
    for c in children:
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(int(c))
        except OSError:
            continue
    return out


def _holding_chain(pids: list[int], chain_db: Path) -> list[int]:
    """The processes among ``pids`` that have the chain file open."""
    holders = []
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if str(chain_db) in links:
            holders.append(pid)
    return holders


def _wait(what: str, check, timeout: float = 60.0, state=lambda: ""):
    """``check()`` once it is truthy; ``state()`` says what was seen instead, on a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} {state()}".rstrip())
        time.sleep(0.1)


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[Served]:
    """On SQLite (the sealer lock is a lock file) and PostgreSQL (an advisory lock of the session)."""
    operator_key = os.urandom(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDSL_")}
    env |= {"TDSL_OPERATOR_KEY": operator_key.hex(), "TDSL_SEAL_INTERVAL_SECONDS": "0.2",
            "TDSL_DATABASE_URL": database_url}  # fmt: skip
    settings = Settings(data_dir=tmp_path / "data", operator_key=operator_key.hex(), database_url=database_url)
    ledger, _ = init_data_dir(settings, origin=ORIGIN, deploy_embedded=True)
    key = os.urandom(32)
    register_participant(ledger, operator_key, address=address_of(key), name="Supplier",
                         legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
    token = ledger.issue_token(address_of(key), "workers test")
    port = free_port()
    proc = subprocess.Popen(
        [TDSL, "serve", "--workers", "2", "--port", str(port), "--data-dir", str(settings.data_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            try:
                return httpx.get(f"{base}/v1/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait("the server", healthy)
        yield Served(proc, base, settings.data_dir, ledger, key, token)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        ledger.store.close()


def _submit_many(s: Served, n: int, prefix: str) -> dict[str, int]:
    """``n`` single POSTs, 12 at a time; returns record id → leaf index as answered."""
    subs = [signed_submission(s.ledger, s.key, kind="dataset", payload=dataset_payload(f"{prefix} {i}"))
            for i in range(n)]  # fmt: skip
    headers = {"Authorization": f"Bearer {s.token}"}
    with httpx.Client(base_url=s.base, headers=headers, timeout=30) as client:
        def post(sub):
            r = client.post("/v1/records", json=to_json(sub))
            assert r.status_code == 201, r.text
            return sub.envelope.id, r.json()["leaf_index"]

        with ThreadPoolExecutor(12) as pool:
            return dict(pool.map(post, subs))


def _final_receipt(s: Served, record_id: str) -> Receipt:
    headers = {"Authorization": f"Bearer {s.token}"}

    def anchored() -> Receipt | None:
        r = httpx.get(f"{s.base}/v1/records/{record_id}/receipt", headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        receipt = Receipt.from_json(r.content)
        return receipt if receipt.anchor is not None and receipt.anchor.status == "final" else None

    return _wait(f"an anchored receipt of {record_id}", anchored)


def _check_on_chain(s: Served, receipt: Receipt) -> None:
    log = s.ledger.log
    reader = ChainFileAnchorReader(s.data_dir / "chain.db", log.chain_id, log.contract)
    chain = ChainRef(log.chain_id, log.contract, reader)
    assert check_receipt(receipt, origin=ORIGIN, chain=chain, note_key=log.note_vkey) == AnchorStatus.FINAL


def test_two_workers_share_the_log_one_anchors_and_a_killed_one_is_replaced(served: Served) -> None:
    s = served
    chain_db = (s.data_dir / "chain.db").resolve()
    workers = _wait("two workers", lambda: (w := _workers(s.proc.pid)) and len(w) == 2 and w)
    holders = _wait("a worker holding the chain", lambda: _holding_chain(workers, chain_db))
    assert len(holders) == 1, holders  # one sealer and anchorer; the other stands by

    first = _submit_many(s, 120, "first")
    assert len(set(first.values())) == 120  # each answered with an index of its own
    _check_on_chain(s, _final_receipt(s, max(first, key=first.get)))

    os.kill(holders[0], signal.SIGKILL)
    replaced = _wait("a new worker", lambda: (w := _workers(s.proc.pid)) and len(w) == 2 and holders[0] not in w and w)
    new_holders = _wait("the chain taken over", lambda: _holding_chain(replaced, chain_db), timeout=90)
    assert len(new_holders) == 1 and new_holders[0] != holders[0]

    second = _submit_many(s, 30, "second")
    assert not set(second.values()) & set(first.values())
    _check_on_chain(s, _final_receipt(s, max(second, key=second.get)))

    store, log = s.ledger.store, s.ledger.log
    for record_id, index in {**first, **second}.items():  # nothing acknowledged is lost, nor moved
        assert store.entry_by_record_id(log.id, record_id).leaf_index == index

    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(30) == 0
    assert not _workers(s.proc.pid)
    out = s.proc.stdout.read()
    assert "with 2 workers" in out and "anchoring on chain" in out


def test_workers_must_be_a_small_positive_number(tmp_path: Path) -> None:
    for bad in ("0", "-1", "x", "65"):
        done = subprocess.run([TDSL, "serve", "--workers", bad, "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2 and "--workers" in done.stderr, done.stderr


def test_a_chain_that_cannot_be_opened_delays_anchoring_not_sealing(tmp_path: Path) -> None:
    """The sealer opens the chain after it seals: while another process holds the embedded
    chain (as ``tdsl anchor`` does for a moment), checkpoints are still sealed; once the
    chain is free it is opened and they are anchored; stopping closes it again."""
    from ledger.chain.access import serving_chain
    from ledger.chain.embedded import open_embedded_chain
    from ledger.sealer import Sealer

    operator_key = os.urandom(32)
    settings = Settings(data_dir=tmp_path / "data", operator_key=operator_key.hex())
    ledger, _ = init_data_dir(settings, origin=ORIGIN, deploy_embedded=True)
    key = os.urandom(32)
    register_participant(ledger, operator_key, address=address_of(key), name="Supplier",
                         legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])  # fmt: skip
    chain = serving_chain(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
    assert chain.open is not None
    _, held = open_embedded_chain(settings.data_dir / "chain.db")  # another process's hold, as far as the lock goes
    sealer = Sealer(ledger, every_entries=1, interval_seconds=0.1, poll_seconds=0.05, max_backoff_seconds=0.2,
                    open_chain=chain.open)  # fmt: skip
    sealer.start()
    try:
        ledger.submit([signed_submission(ledger, key, kind="dataset", payload=dataset_payload("while held"))])
        size = ledger.store.tree_size(ledger.log.id)
        latest = lambda: ledger.store.latest_checkpoint(ledger.log.id)  # noqa: E731
        seen = lambda: (f"(sealer {sealer.state}, alive {sealer.is_alive()}: {sealer.detail}; "  # noqa: E731
                        f"checkpoint {latest() and latest().tree_size}, tree {size}; anchors {ledger.anchors()})")
        _wait("a checkpoint sealed without the chain", lambda: latest() is not None and latest().tree_size == size,
              state=seen)  # fmt: skip
        _wait("the open failure reported", lambda: "cannot open the anchor chain" in (sealer.detail or ""), state=seen)
        assert sealer.state == "running" and ledger.anchors() == []
        held.kv.close()
        _wait("the checkpoint anchored", lambda: any(a.tree_size == size and a.status == "final" for a in ledger.anchors()),
              state=seen)  # fmt: skip
    finally:
        sealer.stop()
    _, again = open_embedded_chain(settings.data_dir / "chain.db")  # the sealer let go of it
    again.kv.close()
    ledger.store.close()
