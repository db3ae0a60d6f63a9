#!/usr/bin/env python
"""Audit bundle benchmark (issue 11): export and verification of the regulator's bundle,
against checking the same records one receipt at a time.

One log is built on SQLite with the embedded chain (``tdsl init``'s layout: a data
directory with ``identity.json`` and ``chain.db``): real signed envelopes with payloads,
pre-signed in a forked process while ``Ledger.submit`` takes them in batches of 1,000.
The mix: ``--agreements`` (10) contracts at the start (dataset, offer, request, agreement,
alternately with two consumers), then 1 ``access_event`` in every ``--event-every`` (10)
records, under one of the agreements in turn and signed by its consumer, and provider
``dataset`` records (about 270 bytes of payload) for the rest. It is sealed and anchored
at ``--entries``/2 (a checkpoint inside the range), at ``--entries``, at each
``--rss-sizes`` size, each anchor at least a second after the one before (the export picks
its range by the anchor blocks' times, whole seconds). The period is from an hour before
the log to the anchor block's time of the last size it should cover.

Figures, each with its baseline from the same run:

- **export rate** — ``export_bundle`` in this process, the whole log ``[0, --entries)``, no
  filter, onto a plain file (best of ``--repeats``) and through ``gzip`` level 6 (as
  ``tdsl audit export -o X.jsonl.gz``); once more with ``scope=Scope(participant=...)``
  (one of the two consumers). Entries of the range per second. Target ≥ 20,000/s.
- **verify rate** — ``verify_bundle(open_bundle(f), identity=..., reader=
  ChainFileAnchorReader(chain.db, ...), jobs=J)`` on the plain whole-log bundle with
  ``jobs`` 1 and 2 (signature recovery in worker processes), the ``.gz`` bundle and the
  participant bundle with 2; the report must be clean. Entries per second, and per CPU
  second (this process and its workers). Target ≥ 10,000/s at 10^5 entries.
  ``tdsl audit verify`` (the CLI, with its JSON and HTML reports) once on the plain bundle.
- **bundle size** — bytes per entry of the plain and the gzip bundle.
- **peak RSS of the export** — the export of ``[0, size)`` for each ``--rss-sizes`` size
  in a fresh interpreter (``python audit_bundle.py --child``: opens the data directory,
  exports onto a file): its ``VmHWM`` before exporting (imports, the open ledger) and
  after, and the peaks of its heap (``RssAnon``) and mapped files (``RssFile``: SQLite reads
  the database through mmap, up to 256 MiB) sampled every 20 ms. Flat means about the same
  at every size. For comparison the same for ``verify_bundle`` (jobs 2) at ``--entries``/2
  and ``--entries``.
- **the baseline** — what a regulator can do today: ``tdsl verify RECEIPT --origin O
  --identity identity.json --chain-db chain.db``, one process per record, for
  ``--receipts`` (default 10; 50 in the documented run) random records of the range (their receipts from
  ``ledger.receipt(id).to_json()``), after one warm-up run. Extrapolated to entries per
  second, against export + verify (jobs 2) of the whole bundle.

    .venv/bin/python scripts/bench/audit_bundle.py            # smoke-sized defaults (< 1 min)
    .venv/bin/python scripts/bench/audit_bundle.py --entries 100000 --rss-sizes 100000,1000000 --receipts 50
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from _fork import in_order  # the folder of this script is sys.path[0]
from _report import cpu_ticks, load, say, table  # the folder of this script is sys.path[0]

TARGET_EXPORT = 20_000  # entries/s
TARGET_VERIFY = 10_000  # entries/s at 10^5
ORIGIN = "bench.tds-ledger.example/audit"
BATCH = 1000  # Ledger.submit's largest batch
COUNT_BOUND = 10**9  # the agreements' count constraint: every event permitted


def z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def vm_hwm_mb() -> float:
    """Peak resident set of this process so far (VmHWM), MiB; ru_maxrss where /proc is absent."""
    return _status().get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _status() -> dict[str, float]:
    """VmHWM, VmRSS, RssAnon, RssFile of this process (MiB), from /proc/self/status."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) / 1024 for k, _, v in (line.partition(":") for line in lines)
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}  # fmt: skip


class RssSampler:
    """The highest RssAnon (the heap: Python objects, SQLite's page cache) and RssFile (mapped
    files: libraries, and SQLite's mmap of the database, at most its 256 MiB ``mmap_size``)
    seen every 20 ms: the kernel keeps a peak of their sum only (VmHWM)."""

    def __init__(self) -> None:
        import threading

        self.peak = {"RssAnon": 0.0, "RssFile": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.02)

    def sample(self) -> None:
        got = _status()
        for k in self.peak:
            self.peak[k] = max(self.peak[k], got.get(k, 0.0))

    def reset(self) -> None:
        self.peak = {k: 0.0 for k in self.peak}
        self.sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def cpu_now() -> float:
    """CPU seconds of this process and its children: the reaped ones, and the verifier's
    signature workers, which are children of multiprocessing's forkserver (a child of this
    process that lives on): its own time and its reaped children's, from /proc."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
    return total


def code_version() -> str:
    """The commit, and whether ledger/ or api/ differ from it (the code measured)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "ledger", "api"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (f", with uncommitted changes to {len(dirty.splitlines())} file(s) of ledger/ and api/" if dirty else "")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TDSL_")}


def tdsl() -> str:
    here = Path(sys.executable).parent / "tdsl"
    return str(here) if here.exists() else shutil.which("tdsl") or "tdsl"


# -- the log ------------------------------------------------------------------------------


class World:
    """A data directory with the embedded chain, its participants and the agreements."""

    def __init__(self, tmp: Path, agreements: int, event_every: int):
        from contract_support import RULES, Space
        from ledger.config import Settings
        from ledger.datadir import init_data_dir
        from pcf_support import add_company

        self.data_dir = tmp / "data"
        self.event_every = event_every
        self.operator_key = os.urandom(32)
        self.settings = Settings(data_dir=self.data_dir, database_url=f"sqlite:///{self.data_dir / 'ledger.db'}",
                                 operator_key=self.operator_key.hex())  # fmt: skip
        self.ledger, _ = init_data_dir(self.settings, origin=ORIGIN, deploy_embedded=True)
        lg, key = self.ledger, self.operator_key
        provider = add_company(lg, key, "Cell Data Provider GmbH", ["provider"], ("LEI", "529900T8BM49AURSDO55"))
        consumer = add_company(lg, key, "Pack Analytics BV", ["consumer"], ("LEI", "724500VKKSH9QOLTFR81"))
        stranger = add_company(lg, key, "Other Consumer SA", ["consumer", "provider"], ("LEI", "969500UP76J52A9OXU27"))
        reg = add_company(lg, key, "Data Space Authority", ["regulator"], ("EORI", "NL123456789000000"))
        self.space = Space(lg, key, provider, consumer, stranger, lg.viewer_for(reg.address), self.settings)
        rules = json.loads(json.dumps(RULES))
        for c in rules["permission"][0]["constraint"][0]["and"]:
            if c["leftOperand"] == "count":
                c["rightOperand"] = COUNT_BOUND
        self.agreements = []  # (agreement submission, consumer company)
        s = self.space
        for k in range(agreements):
            who = (s.consumer, s.stranger)[k % 2]
            ds = s.dataset(f"contracted cell data {k}")
            offer = s.offer(ds, rules)
            req = s.request(offer, who=who)
            agr = s.agreement(offer, req, s.agreement_payload(offer, consumer=who))
            s.submit(ds, offer, req, agr)
            self.agreements.append((agr, who))
        self.participant = s.consumer.address  # the --participant filter of the scoped export

    @property
    def size(self) -> int:
        return self.ledger.store.tree_size(self.ledger.log.id)

    def record(self, i: int):
        """The i-th generated record (deterministic kind; fresh ids, salts and signatures)."""
        s = self.space
        if self.event_every and i % self.event_every == 0:
            agr, who = self.agreements[(i // self.event_every) % len(self.agreements)]
            now = datetime.now(UTC)
            return s.event(agr, who=who, actor=who.address, issued_at=z(now), at=z(now - timedelta(minutes=5)))
        payload = {
            "title": f"Cell test data, batch {i}",
            "content_hash": "sha256:" + f"{i:064x}",
            "media_type": "text/csv",
            "description": "Impedance spectroscopy of LFP cells, 25 °C, one row per cycle.",
            "location": "s3://supplier.example/cells/",
        }
        return s.sign(s.provider, "dataset", payload, record_id=f"urn:uuid:{os.urandom(16).hex()}")


_WORLD: World | None = None  # what a forked signer inherits


def _sign_range(bounds: tuple[int, int]) -> list:
    assert _WORLD is not None
    return [_WORLD.record(i) for i in range(*bounds)]


def grow(world: World, to: int, workers: int, on_chunk: Callable[[int], None]) -> None:
    """Submit generated records until the log holds ``to`` entries; signing runs in
    ``workers`` forked processes ahead of ``Ledger.submit`` (at most two chunks each)."""
    global _WORLD
    start = world.size
    ranges = [(i, min(to, i + BATCH)) for i in range(start, to, BATCH)]
    if not ranges:
        return

    def consume(subs: list) -> None:
        world.ledger.submit(subs)
        on_chunk(world.size)

    _WORLD = world
    in_order(_sign_range, ranges, consume, workers)


def anchor(world: World, after_ts: int | None) -> tuple[int, int, int]:
    """Seal and anchor now, at least a second after ``after_ts``: (tree size, block, block time)."""
    from ledger.chain.access import anchor_reader
    from ledger.cli_commands import seal_and_anchor

    if after_ts is not None:
        while time.time() < after_ts + 1.05:
            time.sleep(0.05)
    cp, a = seal_and_anchor(world.settings, world.ledger)
    assert a is not None and a.status == "final", a
    lg = world.ledger
    found = anchor_reader(world.settings, chain_id=lg.log.chain_id, contract=lg.log.contract).find_head(
        lg.origin, cp.tree_size, cp.root_hash)  # fmt: skip
    assert found is not None and found.final
    return cp.tree_size, found.block_number, found.timestamp


def build(world: World, marks: list[int], workers: int) -> dict[int, int]:
    """Grow the log to each size of ``marks``, anchoring there; returns size → anchor block time."""
    t0 = time.perf_counter()
    last = [t0]

    def progress(size: int) -> None:
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            say(f"  … {size:,} entries in {last[0] - t0:.0f} s (load {load()})")

    times: dict[int, int] = {}
    prev = None
    submit_s = 0.0
    for m in marks:
        t1 = time.perf_counter()
        grow(world, m, workers, progress)
        submit_s += time.perf_counter() - t1
        size, block, ts = anchor(world, prev)
        assert size == m, (size, m)
        times[m], prev = ts, ts
        say(f"  anchored tree size {m:,} in block {block} (block time {z(datetime.fromtimestamp(ts, UTC))})")
    total = time.perf_counter() - t0
    say(f"  built and anchored a log of {marks[-1]:,} entries in {total:.0f} s ({marks[-1] / submit_s:,.0f} entries/s "
        f"through Ledger.submit with signing alongside in {workers} forked process(es))")  # fmt: skip
    return times


# -- export and verify ----------------------------------------------------------------------


def identity_and_reader(world: World):
    from ledger.bundle_verify import VerifierIdentity
    from ledger.chain.embedded_file import ChainFileAnchorReader
    from ledger.identity import Identity

    ident = Identity.from_file(world.data_dir / "identity.json")
    identity = VerifierIdentity(ident.origin, ident.chain_id, ident.contract, ident.note_key, ident.operator)
    return identity, ChainFileAnchorReader(world.data_dir / "chain.db", ident.chain_id, ident.contract)


def export_to(world: World, path: Path, since: datetime, until: datetime, scope, *, gz: bool = False):
    """(summary, wall s, CPU s) of one ``export_bundle`` onto ``path``."""
    from ledger.bundle_export import export_bundle
    from ledger.chain.access import anchor_reader

    lg = world.ledger
    reader = anchor_reader(world.settings, chain_id=lg.log.chain_id, contract=lg.log.contract)
    c0, t0 = cpu_now(), time.perf_counter()
    with path.open("wb") as raw:
        out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) if gz else raw
        summary = export_bundle(lg, reader, out, since=since, until=until, scope=scope)
        if gz:
            out.close()
    return summary, time.perf_counter() - t0, cpu_now() - c0


def verify_file(world: World, path: Path, jobs: int):
    """(report, wall s, CPU s incl. workers) of one ``verify_bundle``."""
    from ledger.bundle import open_bundle
    from ledger.bundle_verify import verify_bundle

    identity, reader = identity_and_reader(world)
    c0, t0 = cpu_now(), time.perf_counter()
    with path.open("rb") as f:
        report = verify_bundle(open_bundle(f), identity=identity, reader=reader, name=path.name, jobs=jobs)
    return report, time.perf_counter() - t0, cpu_now() - c0


def check_clean(report, what: str, entries: int) -> None:
    counts = {s: report.count(s) for s in ("violation", "failure", "finding", "notice")}
    if not report.clean or report.entries != entries:
        shown = [f"{f.severity} {f.check} leaf {f.leaf_index}: {f.message}" for f in report.ordered_findings()[:5]]
        raise AssertionError(f"{what}: not clean or wrong size ({report.entries} entries, {counts}): {shown}")


def child(spec: str) -> None:
    """``--child JSON``: one export or one verification in a fresh process; prints its peak RSS as JSON."""
    a = json.loads(spec)
    before = vm_hwm_mb()
    with RssSampler() as rss:
        got = _child(a, rss)
    print(json.dumps({**got, "python_mb": before, "peak_mb": vm_hwm_mb(), "anon_mb": rss.peak["RssAnon"],
                      "file_mb": rss.peak["RssFile"],
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))  # fmt: skip


def _child(a: dict, rss: RssSampler) -> dict:
    from ledger.config import Settings

    settings = Settings(data_dir=Path(a["data_dir"]), database_url=a["database_url"])
    if a["what"] == "export":
        from ledger.bundle import Scope
        from ledger.bundle_export import export_bundle
        from ledger.chain.access import anchor_reader
        from ledger.datadir import open_data_dir

        ledger = open_data_dir(settings)
        reader = anchor_reader(settings, chain_id=ledger.log.chain_id, contract=ledger.log.contract)
        opened, opened_parts = vm_hwm_mb(), dict(rss.peak)
        rss.reset()
        t0 = time.perf_counter()
        with open(a["out"], "wb") as out:
            s = export_bundle(ledger, reader, out, since=datetime.fromisoformat(a["since"]),
                              until=datetime.fromisoformat(a["until"]), scope=Scope())  # fmt: skip
        got = {"start": s.start, "end": s.end, "bytes": os.path.getsize(a["out"])}
    else:
        from ledger.bundle import open_bundle
        from ledger.bundle_verify import VerifierIdentity, verify_bundle
        from ledger.chain.embedded_file import ChainFileAnchorReader
        from ledger.identity import Identity

        ident = Identity.from_file(settings.data_dir / "identity.json")
        identity = VerifierIdentity(ident.origin, ident.chain_id, ident.contract, ident.note_key, ident.operator)
        reader = ChainFileAnchorReader(settings.data_dir / "chain.db", ident.chain_id, ident.contract)
        opened, opened_parts = vm_hwm_mb(), dict(rss.peak)
        rss.reset()
        t0 = time.perf_counter()
        with open(a["bundle"], "rb") as f:
            report = verify_bundle(open_bundle(f), identity=identity, reader=reader, jobs=a["jobs"])
        got = {"start": report.start.tree_size, "end": report.end.tree_size, "clean": report.clean}
    return {**got, "seconds": time.perf_counter() - t0, "opened_mb": opened, "opened_anon_mb": opened_parts["RssAnon"],
            "opened_file_mb": opened_parts["RssFile"]}


def in_child(world: World, **spec) -> dict:
    """Run ``child`` in a fresh interpreter (not forked: a fork would start with this process's pages)."""
    spec = {"data_dir": str(world.data_dir), "database_url": world.settings.database_url, **spec}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=clean_env(), capture_output=True,
                          text=True, timeout=7200)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{spec['what']} child exited {done.returncode}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the baseline: one receipt at a time -----------------------------------------------------


def receipts_baseline(world: World, tmp: Path, n_entries: int, count: int) -> tuple[list[float], int]:
    """Wall seconds of ``tdsl verify RECEIPT --chain-db`` for ``count`` random records of the
    range, one process each, after one warm-up run; and how many were checked."""
    lg = world.ledger
    rng = random.Random(11)
    idxs = sorted(rng.sample(range(n_entries), min(count, n_entries)))
    files = []
    for e in lg.store.entries_at(lg.log.id, idxs):
        path = tmp / f"receipt-{e.leaf_index}.json"
        path.write_text(json.dumps(lg.receipt(e.record_id, world.space.regulator).to_json()))
        files.append(path)
    argv = [tdsl(), "verify", "--origin", lg.origin, "--identity", str(world.data_dir / "identity.json"), "--chain-db",
            str(world.data_dir / "chain.db")]  # fmt: skip
    env = clean_env()

    def run(path: Path) -> None:
        done = subprocess.run([*argv, str(path)], env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or "valid: record" not in done.stdout:
            raise RuntimeError(f"tdsl verify {path} exited {done.returncode}: {done.stdout} {done.stderr[-2000:]}")

    run(files[0])  # warm-up: the page cache holds the files, as on a machine in use
    times = []
    for path in files:
        t0 = time.perf_counter()
        run(path)
        times.append(time.perf_counter() - t0)
    return times, len(files)


def cli_verify(world: World, path: Path, jobs: int) -> float:
    """Wall seconds of ``tdsl audit verify BUNDLE --identity --chain-db --jobs`` (writes both reports)."""
    argv = [tdsl(), "audit", "verify", str(path), "--identity", str(world.data_dir / "identity.json"),
            "--chain-db", str(world.data_dir / "chain.db"), "--jobs", str(jobs)]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=7200)
    dt = time.perf_counter() - t0
    if done.returncode != 0 or "\nclean: " not in "\n" + done.stdout:
        raise RuntimeError(f"tdsl audit verify exited {done.returncode}: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return dt


# -- the run ----------------------------------------------------------------------------------


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "–"


def met(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=3000, help="entries of the exported and verified range (default %(default)s)")
    ap.add_argument("--rss-sizes", default="2000,6000",
                    help="comma-separated range sizes whose export's peak RSS is measured (default %(default)s)")
    ap.add_argument("--receipts", type=int, default=10,
                    help="tdsl verify RECEIPT runs of the baseline (default %(default)s; the docs' run: 50)")
    ap.add_argument("--agreements", type=int, default=10, help="agreements the access events fall under (default %(default)s)")
    ap.add_argument("--event-every", type=int, default=10,
                    help="one access event per this many records, the rest datasets; 0: none (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=2, help="runs of the whole-log export and verify, best taken (default %(default)s)")
    ap.add_argument("--sign-workers", type=int, default=1, help="forked signing processes while building (default %(default)s)")
    ap.add_argument("--skip-cli", action="store_true", help="skip the one `tdsl audit verify` run")
    ap.add_argument("--quick", action="store_true", help="smoke-sized run (the defaults)")
    ap.add_argument("--tmpdir", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the data directory and bundles (path printed)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child)
        return 0
    if args.quick:
        args.entries, args.rss_sizes, args.receipts = 3000, "2000,6000", 10
    n = args.entries
    half = max(1, n // 2)
    rss_sizes = sorted({int(x) for x in args.rss_sizes.split(",") if x})
    marks = sorted({half, n, *rss_sizes})
    repeats = max(1, args.repeats)

    from ledger.bundle import Scope

    tmp = Path(tempfile.mkdtemp(prefix="tdsl-bench-audit-", dir=args.tmpdir))
    try:
        say(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
            f"load average {load()} (1/5/15 min) at the start")  # fmt: skip
        say(f"code: {code_version()}")
        t_all, ticks = time.perf_counter(), cpu_ticks()

        say(f"\n== the log: {marks[-1]:,} entries, anchored at {', '.join(f'{m:,}' for m in marks)}")
        world = World(tmp, args.agreements, args.event_every)
        t_log0 = datetime.now(UTC)
        times = build(world, marks, args.sign_workers)
        since = (t_log0 - timedelta(hours=1)).replace(microsecond=0)

        def until_of(size: int) -> datetime:
            u = datetime.fromtimestamp(times[size], UTC)
            while datetime.now(UTC) < u:  # block times may run ahead of the clock by a second
                time.sleep(0.1)
            return u

        until = until_of(n)
        lg = world.ledger
        kinds: collections.Counter[str] = collections.Counter()
        for k in range(0, n, BATCH):
            kinds.update(e.kind for e in lg.store.list_entries(lg.log.id, start=k, limit=min(BATCH, n - k)))
        say(f"  kinds in [0, {n:,}): {dict(kinds)}")

        say(f"\n== export of [0, {n:,}): period {z(since)} .. {z(until)}")
        plain, gz, part = tmp / "whole.jsonl", tmp / "whole.jsonl.gz", tmp / "participant.jsonl"
        runs = [export_to(world, plain, since, until, Scope()) for _ in range(repeats)]
        summary, t_exp, c_exp = min(runs, key=lambda r: r[1])
        assert (summary.start, summary.end) == (0, n), summary
        say(f"  whole log: {summary.heads} heads, {summary.context} context, {summary.carried:,} with payload; "
            f"runs {', '.join(f'{r[1]:.2f} s' for r in runs)}")  # fmt: skip
        s_gz, t_gz, c_gz = export_to(world, gz, since, until, Scope(), gz=True)
        s_part, t_part, c_part = export_to(world, part, since, until, Scope(participant=world.participant))
        say(f"  --participant {world.participant} (a consumer): {s_part.in_scope:,} in scope, {s_part.carried:,} with "
            f"payload, {s_part.context} context")  # fmt: skip
        size_plain, size_gz, size_part = plain.stat().st_size, gz.stat().st_size, part.stat().st_size
        table([f"export_bundle, {n:,} entries", "seconds", "entries/s", "per CPU-s", "bytes/entry", "target"], [
            (f"whole log, plain file (best of {repeats})", f"{t_exp:.2f}", rate(n, t_exp), rate(n, c_exp),
             f"{size_plain / n:,.0f}", f"≥ {TARGET_EXPORT:,}/s: {met(n / t_exp, TARGET_EXPORT)}"),
            ("whole log, gzip level 6", f"{t_gz:.2f}", rate(n, t_gz), rate(n, c_gz), f"{size_gz / n:,.0f}",
             met(n / t_gz, TARGET_EXPORT)),
            ("--participant, plain", f"{t_part:.2f}", rate(n, t_part), rate(n, c_part), f"{size_part / n:,.0f}",
             met(n / t_part, TARGET_EXPORT)),
        ])  # fmt: skip
        say(f"  bundle size: {size_plain / n:,.0f} bytes per entry plain, {size_gz / n:,.0f} gzip "
            f"({size_plain / size_gz:.1f}× smaller); {size_plain / 2**20:,.1f} / {size_gz / 2**20:,.1f} MiB in all")

        say(f"\n== verify_bundle of [0, {n:,}) (the chain read from chain.db)")
        rows, vrates = [], {}
        cases = [("plain, jobs=1", plain, 1, repeats), ("plain, jobs=2", plain, 2, repeats), (".gz, jobs=2", gz, 2, 1),
                 ("--participant, jobs=2", part, 2, 1)]  # fmt: skip
        for label, path, jobs, reps in cases:
            got = []
            for _ in range(reps):
                report, dt, cpu = verify_file(world, path, jobs)
                check_clean(report, label, n)
                got.append((dt, cpu))
            dt, cpu = min(got)
            vrates[label] = n / dt
            runs_s = f" (runs {', '.join(f'{g[0]:.2f}' for g in got)} s)" if reps > 1 else ""
            rows.append((label + runs_s, f"{dt:.2f}", rate(n, dt), rate(n, cpu), f"{report.in_scope:,}",
                         f"{len(report.findings)}", f"≥ {TARGET_VERIFY:,}/s: {met(n / dt, TARGET_VERIFY)}"))  # fmt: skip
        table([f"verify_bundle, {n:,} entries", "seconds", "entries/s", "per CPU-s", "in scope", "notices", "target"],
              rows)  # fmt: skip
        say("  (per CPU-s counts this process and its signature workers; every report clean: no violation, failure "
            "or finding, only notices)")  # fmt: skip
        t_cli = None
        if not args.skip_cli:
            t_cli = cli_verify(world, plain, 2)
            say(f"  tdsl audit verify whole.jsonl --jobs 2 (the CLI, JSON and HTML reports written): {t_cli:.2f} s, "
                f"{n / t_cli:,.0f} entries/s")  # fmt: skip

        say(f"\n== baseline: tdsl verify RECEIPT --chain-db, one process per record ({args.receipts} records)")
        times_cli, k = receipts_baseline(world, tmp, n, args.receipts)
        per_receipt = statistics.mean(times_cli)
        base_rate = 1 / per_receipt
        t_bundle = t_exp + n / vrates["plain, jobs=2"]
        rows = [
            (f"tdsl verify RECEIPT ×{k} (median {statistics.median(times_cli):.3f} s, slowest {max(times_cli):.3f} s)"
             " — baseline", f"{per_receipt:.4f}", f"{base_rate:,.2f}", "1"),
            (f"export + verify_bundle (jobs=2), {n:,} entries", f"{t_bundle / n:.7f}", rate(n, t_bundle),
             f"{n / t_bundle / base_rate:,.0f}×"),
        ]  # fmt: skip
        if t_cli is not None:
            rows.append(("export + tdsl audit verify --jobs 2 (the CLI)", f"{(t_exp + t_cli) / n:.7f}",
                         rate(n, t_exp + t_cli), f"{n / (t_exp + t_cli) / base_rate:,.0f}×"))  # fmt: skip
        table(["one regulator's check of the range", "seconds per entry", "entries/s", "speed-up"], rows)
        say(f"  the receipts, one by one, for all {n:,} entries: {n * per_receipt / 3600:,.1f} h extrapolated; "
            f"the bundle: {t_bundle:,.1f} s")  # fmt: skip

        say("\n== peak RSS of the export, whole log [0, size), a fresh process per size")
        rss_rows, peaks, heaps = [], [], []
        for size in rss_sizes:
            got = in_child(world, what="export", since=since.isoformat(), until=until_of(size).isoformat(),
                           out=str(tmp / "rss.jsonl"))  # fmt: skip
            assert (got["start"], got["end"]) == (0, size), got
            peaks.append(got["peak_mb"])
            heaps.append(got["anon_mb"])
            rss_rows.append((f"{size:,}", f"{got['opened_mb']:.0f} ({got['opened_anon_mb']:.0f} + {got['opened_file_mb']:.0f})",
                             f"{got['peak_mb']:.0f}", f"{got['peak_mb'] - got['opened_mb']:.0f}", f"{got['anon_mb']:.0f}",
                             f"{got['file_mb']:.0f}", f"{got['seconds']:.1f}", rate(size, got["seconds"]),
                             f"{got['bytes'] / 2**20:,.0f}"))  # fmt: skip
            (tmp / "rss.jsonl").unlink()
        table(["range size", "MiB ledger open (heap + files)", "MiB peak (VmHWM)", "export's own", "peak heap (RssAnon)",
               "peak files (RssFile)", "seconds", "entries/s", "bundle MiB"], rss_rows)  # fmt: skip
        say("  (a fresh interpreter per size, the same log; 'ledger open' is VmHWM after open_data_dir and the chain reader, "
            f"before exporting; it started at {got['python_mb']:.0f} MiB; the heap and file peaks are sampled every 20 ms)")
        if len(peaks) > 1:
            say(f"  at {rss_sizes[-1]:,} against {rss_sizes[0]:,} ({rss_sizes[-1] / rss_sizes[0]:.0f}× the entries): "
                f"peak RSS {peaks[-1] / peaks[0]:.2f}×, peak heap {heaps[-1] / heaps[0]:.2f}×")  # fmt: skip

        say(f"\n== for comparison: peak RSS of verify_bundle (jobs=2, the main process), [0, {half:,}) and [0, {n:,})")
        half_bundle = tmp / "half.jsonl"
        export_to(world, half_bundle, since, until_of(half), Scope())
        vrows = []
        for size, path in ((half, half_bundle), (n, plain)):
            got = in_child(world, what="verify", bundle=str(path), jobs=2)
            assert got["clean"] and (got["start"], got["end"]) == (0, size), got
            vrows.append((f"{size:,}", f"{got['opened_mb']:.0f}", f"{got['peak_mb']:.0f}",
                          f"{got['peak_mb'] - got['opened_mb']:.0f}", f"{got['anon_mb']:.0f}", f"{got['seconds']:.1f}",
                          rate(size, got["seconds"])))  # fmt: skip
        table(["range size", "MiB before", "MiB peak (VmHWM)", "verify's own", "peak heap (RssAnon)", "seconds",
               "entries/s"], vrows)  # fmt: skip

        now = cpu_ticks()
        steal = "" if ticks is None or now is None or now[0] == ticks[0] else \
            f"; CPU steal {100 * (now[1] - ticks[1]) / (now[0] - ticks[0]):.1f} % of all CPU time during the run"
        say(f"\ndone in {time.perf_counter() - t_all:.0f} s; load average {load()} at the end{steal}; code: {code_version()}")
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
