#!/usr/bin/env python
"""CLI start-up benchmark: wall time of real ``tdsl`` commands, start to exit.

Each command is run as a process of its own (``.venv/bin/tdsl …``), ``--runs`` times,
after one warm-up run (the page cache holds the files, as on a machine in use); the
median and the slowest are printed, with the targets of issue 8:

- ``tdsl verify RECEIPT`` without chain access: ≤ 0.4 s;
- ``tdsl verify RECEIPT --chain-db chain.db`` (the embedded chain, read-only): ≤ 1 s.

Baselines in the same run: ``python -c pass`` (the interpreter alone), ``tdsl --help``
(the CLI's own imports), and the same ``--chain-db`` check the way ``tdsl verify`` did it
before it read the file itself: web3 over py-evm (``open_embedded_chain`` read-only and
``RegistryAnchorReader``), run as a script of its own. The receipt comes from a real data directory
made with the CLI (``tdsl init``, ``participant add``, ``submit``, ``receipt``,
``anchor``, ``receipt``): the run without chain access checks the receipt taken before
anchoring (a receipt that claims an anchor is refused without chain access), the
``--chain-db`` run the one after, whose anchor is really on the chain.

    .venv/bin/python scripts/bench/cli.py            # 15 runs each
    .venv/bin/python scripts/bench/cli.py --quick    # 3 runs each (smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import say, table  # the folder of this script is sys.path[0]

ORIGIN = "bench.tds-ledger.example/log"
TARGETS = {"verify, no chain": 0.4, "verify --chain-db": 1.0}


# The --chain-db check as tdsl verify made it before ledger.chain.embedded_file: web3 over py-evm.
PY_EVM_VERIFY = """
import sys
from pathlib import Path
from ledger.chain.anchoring import RegistryAnchorReader
from ledger.chain.embedded import open_embedded_chain
from ledger.chain.registry import Registry
from ledger.identity import Identity
from ledger.receipt import Receipt
from ledger.verify import ChainRef, check_receipt
receipt, identity, chain_db, origin = sys.argv[1:]
ident = Identity.from_file(Path(identity))
w3, backend = open_embedded_chain(Path(chain_db), read_only=True)
registry = Registry(w3, ident.contract)
registry.verify_code()
chain = ChainRef(ident.chain_id, ident.contract, RegistryAnchorReader(registry))
print("anchor:", check_receipt(Receipt.from_json(Path(receipt).read_bytes()), origin=origin, chain=chain,
                               note_key=ident.note_key))
backend.kv.close()
"""


def tdsl() -> str:
    here = Path(sys.executable).parent / "tdsl"
    return str(here) if here.exists() else shutil.which("tdsl") or "tdsl"


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def make_receipts(tmp: Path, env: dict[str, str]) -> tuple[Path, Path, Path, Path]:
    """A data directory with one record: its receipt before anchoring (``anchor: null``,
    what a verifier without chain access can check) and after; returns (unanchored
    receipt, anchored receipt, identity, chain.db)."""
    t, d = tdsl(), tmp / "data"
    run([t, "init", "--origin", ORIGIN, "--data-dir", str(d)], env)
    out = run([t, "keys", "new", "--out", str(tmp / "p.key")], env)
    address = out.split("address: ")[1].strip()
    run([t, "participant", "add", "--data-dir", str(d), "--address", address, "--name", "Bench supplier",
         "--legal-id", "LEI:529900T8BM49AURSDO55", "--roles", "provider"], env)  # fmt: skip
    payload = tmp / "payload.json"
    payload.write_text(json.dumps({"title": "Cell test data", "content_hash": "sha256:" + "ab" * 32}))
    run([t, "submit", str(payload), "--kind", "dataset", "--key-file", str(tmp / "p.key"), "--data-dir", str(d),
         "--id", "ds-1"], env)  # fmt: skip
    unanchored, anchored = tmp / "unanchored.json", tmp / "anchored.json"
    run([t, "receipt", "ds-1", "--data-dir", str(d), "-o", str(unanchored)], env)  # seals first
    assert json.loads(unanchored.read_text())["anchor"] is None
    run([t, "anchor", "--data-dir", str(d)], env)
    run([t, "receipt", "ds-1", "--data-dir", str(d), "-o", str(anchored)], env)
    assert json.loads(anchored.read_text())["anchor"]["status"] == "final"
    return unanchored, anchored, d / "identity.json", d / "chain.db"


def timed(argv: list[str], env: dict[str, str], runs: int, expect: str | None) -> list[float]:
    run(argv, env)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = run(argv, env)
        times.append(time.perf_counter() - t0)
        if expect is not None:
            assert expect in out, out
    return times


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3 runs per command (smoke test)")
    p.add_argument("--runs", type=int, help="runs per command (default 15; quick 3)")
    p.add_argument("--tmpdir", type=Path, default=None, help="where the data directory goes (default: system temp dir)")
    a = p.parse_args()
    runs = a.runs or (3 if a.quick else 15)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDSL_")}
    env["TDSL_OPERATOR_KEY"] = os.urandom(32).hex()
    tmp = Path(tempfile.mkdtemp(prefix="tdsl-bench-cli-", dir=a.tmpdir))
    try:
        say("== CLI start-up benchmark")
        say(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; {runs} runs per command after one warm-up")
        unanchored, anchored, identity, chain_db = make_receipts(tmp, env)
        verify = [tdsl(), "verify", "--origin", ORIGIN, "--identity", str(identity)]
        cases = [
            ("python -c pass (baseline)", [sys.executable, "-c", "pass"], None),
            ("tdsl --help (baseline)", [tdsl(), "--help"], "usage"),
            ("verify, no chain", [*verify, str(unanchored)], "valid: record ds-1"),
            ("verify --chain-db", [*verify, str(anchored), "--chain-db", str(chain_db)], "(anchor: final)"),
            ("the same via web3 + py-evm (before)",
             [sys.executable, "-c", PY_EVM_VERIFY, str(anchored), str(identity), str(chain_db), ORIGIN], "anchor: final"),
        ]
        rows = []
        base = None
        for label, argv, expect in cases:
            times = timed(argv, env, runs, expect)
            med = statistics.median(times)
            base = base if base is not None else med
            target = TARGETS.get(label)
            verdict = "" if target is None else f"≤ {target:.1f} s: {'met' if med <= target else 'MISSED'}"
            rows.append((label, f"{med:.3f}", f"{max(times):.3f}", f"{med / base:.1f}", verdict))
            say(f"  {label}: median {med:.3f} s")
        say()
        say("Wall time from start to exit, seconds; 'x python' = median against the bare interpreter:")
        table(["command", "median s", "slowest s", "x python", "target (median)"], rows)
        say(f"load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
