#!/usr/bin/env python
"""Footprint benchmark (issue 7): admission with roll-up, a 1,000-node tree, lineage and
list-query latency, and the plain ingest figure against the code before footprints.

Figures, each with its baseline measured in the same run:

- **admission with roll-up** — ``Ledger.submit`` on SQLite of pre-signed footprints with
  5 components each (disclosed by their supplier; exact roll-up, derived-state checks,
  terms, edges and states written), batches of 500. Baseline: the same footprints
  without lineage (no parents). Target ≥ 2,000/s.
- **a 1,000-node tree** — a bill of materials of 1,000 footprints (root, 10 × 10 ×
  ~9 below) admitted bottom-up; then ``Ledger.lineage`` of the root (ancestors, all
  1,000 nodes): median and p95 of repeated queries. Target ≤ 50 ms median.
- **list query at 10⁵ footprints** — ``GET /pact/3/footprints?productId=…`` (10 footprints
  per product) through the real app in-process, and ``Ledger.list_records`` with the
  ``product`` term beneath it, on a log of ``--list-n`` footprints, as a company that sees
  its own: median and p95. Target ≤ 20 ms median. Baseline: a page of 10 by ``kind`` only.
- **plain ingest, before and after** — ``Ledger.submit`` of ``dataset`` records (no
  roll-up) on SQLite at batch 500, run alternately from this tree and from a git
  worktree of ``--baseline REV`` (the commit before issue 7), 5 rounds each, in
  subprocesses. Target: within 10 % of the baseline.

    .venv/bin/python scripts/bench/pcf.py            # full run (several minutes)
    .venv/bin/python scripts/bench/pcf.py --quick    # smoke-sized run
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _report import pct, say, table  # the folder of this script is sys.path[0]
from ledger import merkle
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant, signed_submission
from ledger.envelope import address_of
from ledger.log import Ledger, RecordQuery
from ledger.pcf_builder import Component, with_lineage
from pcf_support import footprint

BASELINE = "6d6f93c"  # main before issue 7 (kinds with effects, footprints)
ORIGIN = "bench.tds-ledger.example/log"

CHILD = r"""
import os, sys, time, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from ledger.config import Settings
from ledger.datadir import init_data_dir, register_participant, signed_submission
from ledger.envelope import address_of
n, batch = int(sys.argv[2]), int(sys.argv[3])
d = Path(tempfile.mkdtemp(dir=sys.argv[4]))
op = os.urandom(32)
ledger, _ = init_data_dir(Settings(data_dir=d, operator_key=op.hex()), origin="bench.example/log", deploy_embedded=False)
key = os.urandom(32)
register_participant(ledger, op, address=address_of(key), name="p", legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"])
subs = [signed_submission(ledger, key, kind="dataset", payload={"title": f"d{i}", "content_hash": "sha256:" + f"{i:064x}"}) for i in range(n)]
t0 = time.perf_counter()
for i in range(0, n, batch):
    ledger.submit(subs[i:i + batch])
print(n / (time.perf_counter() - t0))
"""


def new_ledger(tmp: Path) -> tuple[Ledger, bytes]:
    op = os.urandom(32)
    d = Path(tempfile.mkdtemp(dir=tmp))
    ledger, _ = init_data_dir(Settings(data_dir=d, operator_key=op.hex()), origin=ORIGIN, deploy_embedded=False)
    return ledger, op


def company(ledger: Ledger, op: bytes, name: str, role: str) -> tuple[bytes, str]:
    key = os.urandom(32)
    register_participant(ledger, op, address=address_of(key), name=name, legal_id=("LEI", "5493001KJTIIGC8Y1R12"),
                         roles=[role])  # fmt: skip
    return key, address_of(key)


def admission(tmp: Path, n: int, batch: int = 500) -> None:
    ledger, op = new_ledger(tmp)
    skey, saddr = company(ledger, op, "supplier", "producer")
    xkey, xaddr = company(ledger, op, "exporter", "exporter")
    parts = [footprint(name=f"part {i}", values=(f"{1 + i % 7}.25", f"{1 + i % 5}.5", f"{i % 3}.125")) for i in range(100)]
    subs = [signed_submission(ledger, skey, kind="pcf", payload=p, record_id=p["id"]) for p in parts]
    ledger.submit(subs)
    for p in parts:
        ledger.disclose(p["id"], [xaddr], ledger.viewer_for(saddr))
    comps = [Component(p, merkle.leaf_hash(s.envelope.to_bytes()).hex(), "") for p, s in zip(parts, subs)]
    rng = random.Random(7)
    rolled, plain = [], []
    for i in range(n):
        chosen = rng.sample(comps, 5)
        with_qty = [Component(c.payload, c.leaf_hash, f"{rng.randint(1, 400) / 100}") for c in chosen]
        fp = with_lineage(footprint(name=f"product {i}", values=("0.5", "0.5", "0.25")), with_qty, max_places=6)
        rolled.append(signed_submission(ledger, xkey, kind="pcf", payload=fp, record_id=fp["id"],
                                        parents=tuple(c.leaf_hash for c in with_qty)))  # fmt: skip
        bare = footprint(name=f"bare {i}", values=("1", "1", "1"))
        plain.append(signed_submission(ledger, xkey, kind="pcf", payload=bare, record_id=bare["id"]))
    rows = []
    for label, items in (("plain footprints (no parents) — baseline", plain), ("footprints with 5 components, roll-up", rolled)):
        t0 = time.perf_counter()
        for i in range(0, len(items), batch):
            ledger.submit(items[i : i + batch])
        rows.append((label, f"{len(items) / (time.perf_counter() - t0):,.0f}"))
    table(["Ledger.submit on SQLite, batch 500", "records/s"], rows)
    rate, base = float(rows[1][1].replace(",", "")), float(rows[0][1].replace(",", ""))
    say(f"  roll-up admission: {rate:,.0f}/s (target ≥ 2,000/s: {'met' if rate >= 2000 else 'MISSED'}); "
        f"{rate / base:.2f}× the plain-footprint rate")  # fmt: skip
    report = ledger.audit_effects()
    say(f"  audit of the derived effects afterwards: {report.records} records, {len(report.findings)} findings")


def tree(tmp: Path, repeats: int) -> None:
    ledger, op = new_ledger(tmp)
    key, addr = company(ledger, op, "maker", "producer")
    levels: list[list[dict]] = []
    leaves = [footprint(name=f"leaf {i}", values=("2.5", "2.25", "1.125")) for i in range(889)]
    subs = [signed_submission(ledger, key, kind="pcf", payload=p, record_id=p["id"]) for p in leaves]
    built: dict[str, str] = {p["id"]: merkle.leaf_hash(s.envelope.to_bytes()).hex() for p, s in zip(leaves, subs)}
    levels.append(leaves)
    for width in (100, 10, 1):
        below = levels[-1]
        level = []
        for j in range(width):
            kids = below[j * len(below) // width : (j + 1) * len(below) // width]
            fp = with_lineage(footprint(name=f"node {len(levels)}.{j}", values=("0.5", "0.5", "0.25")),
                              [Component(k, built[k["id"]], "2") for k in kids], max_places=6)  # fmt: skip
            sub = signed_submission(ledger, key, kind="pcf", payload=fp, record_id=fp["id"],
                                    parents=tuple(built[k["id"]] for k in kids))  # fmt: skip
            built[fp["id"]] = merkle.leaf_hash(sub.envelope.to_bytes()).hex()
            subs.append(sub)
            level.append(fp)
        levels.append(level)
    t0 = time.perf_counter()
    for i in range(0, len(subs), 500):
        ledger.submit(subs[i : i + 500])
    admit = time.perf_counter() - t0
    root = levels[-1][0]["id"]
    viewer = ledger.viewer_for(addr)
    graph = ledger.lineage(root, viewer, direction="ancestors", depth=8)
    assert len(graph.nodes) == len(subs), (len(graph.nodes), len(subs))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ledger.lineage(root, viewer, direction="ancestors", depth=8)
        times.append((time.perf_counter() - t0) * 1000)
    json_t = []
    for _ in range(max(5, repeats // 4)):
        t0 = time.perf_counter()
        ledger.lineage(root, viewer, direction="ancestors", depth=8).to_json()
        json_t.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    table(["1,000-node tree", "value"], [
        ("footprints admitted", f"{len(subs):,} in {admit:.2f} s ({len(subs) / admit:,.0f}/s)"),
        ("lineage of the root (ancestors), median", f"{med:.1f} ms"),
        ("  p95", f"{pct(times, 0.95):.1f} ms"),
        ("  with to_json, median", f"{statistics.median(json_t):.1f} ms"),
        ("nodes, edges", f"{len(graph.nodes):,}, {len(graph.edges):,}"),
    ])  # fmt: skip
    say(f"  lineage median {med:.1f} ms (target ≤ 50 ms: {'met' if med <= 50 else 'MISSED'})")


def listing(tmp: Path, n: int, repeats: int) -> None:
    ledger, op = new_ledger(tmp)
    key, addr = company(ledger, op, "maker", "producer")
    products = max(1, n // 10)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        batch = []
        for i in range(start, min(n, start + 1000)):
            fp = footprint(name=f"p{i}", product=f"urn:gtin:{i % products:013d}", pf_id=str(uuid.uuid4()))
            batch.append(signed_submission(ledger, key, kind="pcf", payload=fp, record_id=fp["id"]))
        ledger.submit(batch)
    say(f"  built a log of {n:,} footprints in {time.perf_counter() - t0:.0f} s (signing included)")
    viewer = ledger.viewer_for(addr)
    rng = random.Random(3)
    by_term, by_kind = [], []
    for _ in range(repeats):
        q = RecordQuery(kind="pcf", terms=(("product", f"urn:gtin:{rng.randrange(products):013d}"),))
        t0 = time.perf_counter()
        views, _ = ledger.list_records(viewer, limit=100, query=q)
        by_term.append((time.perf_counter() - t0) * 1000)
        assert len(views) == 10, len(views)
        t0 = time.perf_counter()
        ledger.list_records(viewer, start=rng.randrange(n), limit=10, query=RecordQuery(kind="pcf"))
        by_kind.append((time.perf_counter() - t0) * 1000)
    pact = pact_latencies(ledger, addr, products, repeats)
    med = statistics.median(pact)
    table([f"list query at {n:,} footprints", "median", "p95"], [
        ("GET /pact/3/footprints?productId=… (10 matches, in-process ASGI)", f"{med:.2f} ms", f"{pct(pact, 0.95):.2f} ms"),
        ("  Ledger.list_records with the product term beneath it", f"{statistics.median(by_term):.2f} ms",
         f"{pct(by_term, 0.95):.2f} ms"),
        ("kind only, a page of 10 — baseline", f"{statistics.median(by_kind):.2f} ms", f"{pct(by_kind, 0.95):.2f} ms"),
    ])  # fmt: skip
    say(f"  PACT productId-filtered list median {med:.2f} ms (target ≤ 20 ms: {'met' if med <= 20 else 'MISSED'})")


def pact_latencies(ledger: Ledger, addr: str, products: int, repeats: int) -> list[float]:
    """``GET /pact/3/footprints?productId=…`` through the real app (``TestClient``, no network)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from api.app import create_app

    settings = Settings(data_dir=Path(tempfile.mkdtemp()))
    headers = {"Authorization": f"Bearer {ledger.issue_token(addr, 'bench')}"}
    rng = random.Random(4)
    out = []
    with TestClient(create_app(ledger, settings, start_sealer=False), base_url="https://bench.example") as client:
        for _ in range(repeats):
            product = f"urn:gtin:{rng.randrange(products):013d}"
            t0 = time.perf_counter()
            r = client.get("/pact/3/footprints", params={"productId": product}, headers=headers)
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200 and len(r.json()["data"]) == 10, (r.status_code, r.text[:300])
    return out


def ingest_before_after(tmp: Path, rev: str, n: int, rounds: int) -> None:
    worktree = tmp / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), rev],
                   check=True, capture_output=True)  # fmt: skip
    try:
        script = tmp / "child.py"
        script.write_text(CHILD)
        figures: dict[str, list[float]] = {"baseline": [], "now": []}
        for _ in range(rounds):  # alternating, so drift in the machine's speed hits both
            for label, root in (("baseline", worktree), ("now", REPO)):
                out = subprocess.run([sys.executable, str(script), str(root), str(n), "500", str(tmp)],
                                     check=True, capture_output=True, text=True)  # fmt: skip
                figures[label].append(float(out.stdout.strip().splitlines()[-1]))
        base, now = statistics.median(figures["baseline"]), statistics.median(figures["now"])
        table(["plain dataset ingest, SQLite, batch 500", "records/s (median)", "rounds"], [
            (f"baseline {rev}", f"{base:,.0f}", ", ".join(f"{x:,.0f}" for x in figures["baseline"])),
            ("this tree", f"{now:,.0f}", ", ".join(f"{x:,.0f}" for x in figures["now"])),
        ])  # fmt: skip
        say(f"  now / baseline = {now / base:.3f} (target ≥ 0.90: {'met' if now / base >= 0.9 else 'MISSED'})")
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke-sized run")
    ap.add_argument("--tmpdir", type=Path, default=None)
    ap.add_argument("--n", type=int, default=None, help="footprints with roll-up to admit (default 10,000)")
    ap.add_argument("--list-n", type=int, default=None, help="footprints in the list-query log (default 100,000)")
    ap.add_argument("--baseline", default=BASELINE, help="commit for the before/after ingest (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the before/after ingest")
    args = ap.parse_args()
    quick = args.quick
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as t:
        tmp = Path(t)
        say("== admission with roll-up")
        admission(tmp, args.n or (300 if quick else 10_000))
        say("\n== a 1,000-node tree")
        tree(tmp, 5 if quick else 50)
        say("\n== list query")
        listing(tmp, args.list_n or (2_000 if quick else 100_000), 20 if quick else 200)
        if not args.no_baseline:
            say("\n== plain ingest before and after issue 7")
            ingest_before_after(tmp, args.baseline, 1_000 if quick else 10_000, 1 if quick else 5)


if __name__ == "__main__":
    main()
