#!/usr/bin/env python
"""Ingest benchmark: signed records per second into the ledger.

What is measured (each a figure and a ratio against a baseline measured in the same run):

- **client signing** — ``ledger.datadir.signed_submission`` (payload commitment, EIP-712
  digest, secp256k1 signature): what a client spends; done before any timing below.
- **raw store append** (the baseline) — ``SQLStore.append`` of pre-built ``NewEntry``
  rows made from the same records: no signature check, no admission, but the same SQL,
  tiles and durable commit.
- **library** — ``Ledger.submit`` of pre-signed submissions: signature check, JCS,
  admission (roles, parents, payload schema), append, durable commit. Per backend
  (SQLite file in a temp dir, PostgreSQL scratch database) and batch size.
- **HTTP** — the real API (``api.app.create_app`` under uvicorn, in a subprocess, on a
  free loopback port, sealer off unless ``--http-sealer``), ``POST /v1/records/batch``
  with the author's bearer token, bodies serialised before timing, from 1..N client
  threads (httpx) in this process.
- **single POSTs** (group commit) — ``POST /v1/records``, one record per request, 50 in
  flight, from a load generator in a process of its own (``_load.py``: keep-alive
  connections, bodies built before timing), against the same server with group commit
  off (``TDSL_GROUP_COMMIT=false``: every request its own transaction), in the same run.
  Latency percentiles are per request, as the client saw them. With ``--single-workers
  N`` also against ``tdsl serve --workers N`` (uvicorn worker processes sharing the port,
  one sealer among them; ``api.app.app_from_environment``); a server's CPU is then that
  of all its processes.
- **breakdown** — microseconds per record of each admission step, timed in isolation
  (no profiler), plus the cost of faster equivalents where one exists.
- **profile** — cProfile of ``Ledger.submit`` and of the HTTP handler's work, grouped.

Every configuration starts from a fresh store (a new data directory, or a new
PostgreSQL database), except HTTP where one server per backend takes consecutive slices.
The scratch PostgreSQL databases are dropped at the end.

    .venv/bin/python scripts/bench/ingest.py            # full run (a few minutes)
    .venv/bin/python scripts/bench/ingest.py --quick    # smoke-sized run
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import hashlib
import json
import os
import platform
import pstats
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The server process of --baseline-rev serves that worktree's code (see serve_main).
CODE = Path(sys.argv[8]) if __name__ == "__main__" and sys.argv[1:2] == ["--serve"] and len(sys.argv) > 8 else REPO
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

from _report import say, table  # the folder of this script is sys.path[0]
from ledger import merkle
from ledger.canonical import canonicalize
from ledger.config import Settings
from ledger.datadir import (
    EMBEDDED_CHAIN_ID,
    first_contract_address,
    init_data_dir,
    open_data_dir,
    register_participant,
    signed_submission,
)
from ledger.envelope import (
    Domain,
    address_of,
    make_commitment,
    verify_envelope,
)
from ledger.kinds import AdmissionContext, get_kind
from ledger.log import Ledger, Submission
from ledger.store import NewEntry, SQLStore

ORIGIN = "bench.tds-ledger.example/log"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_LIBRARY_SQLITE = 5000  # records/s through Ledger.submit on SQLite
TARGET_HTTP = 2000  # records/s through POST /v1/records/batch
TARGET_SINGLE = {"sqlite": 2500, "postgres": 2000}  # records/s, single POST /v1/records at 50 in flight
TARGET_SINGLE_P99 = 0.150  # seconds, SQLite


# -- output ----------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


# -- worlds: a fresh initialised ledger on one backend ---------------------------------


class Backends:
    """Makes fresh stores: SQLite files under a temp dir, PostgreSQL scratch databases."""

    def __init__(self, tmp: Path, pg_url: str):
        self.tmp = tmp
        self.pg_url = pg_url
        self.pg_databases: list[str] = []
        self._n = 0

    def pg_reachable(self) -> str | None:
        import psycopg

        try:
            with psycopg.connect(self._admin_conninfo(), connect_timeout=5, autocommit=True):
                return None
        except psycopg.Error as e:
            return str(e).strip()

    def _admin_conninfo(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.pg_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def new(self, backend: str) -> tuple[Path, str]:
        """A new data directory and the database URL of a new, empty database."""
        self._n += 1
        data_dir = self.tmp / f"{backend}-{self._n}"
        if backend == "sqlite":
            return data_dir, f"sqlite:///{data_dir / 'ledger.db'}"
        import psycopg
        from psycopg import sql
        from sqlalchemy.engine import make_url

        name = f"tdsl_bench_{os.getpid()}_{self._n}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.pg_databases.append(name)
        return data_dir, make_url(self.pg_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.pg_databases:
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._admin_conninfo(), autocommit=True) as admin:
            for name in self.pg_databases:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self.pg_databases.clear()


class Keys:
    """Fixed keys for one run, so one pre-signed pool is valid in every fresh world.

    The EIP-712 domain is (embedded chain id, operator's first contract address): the
    same operator key and origin give the same domain in every data directory.
    """

    def __init__(self) -> None:
        self.operator = os.urandom(32)
        self.provider = os.urandom(32)
        self.provider_address = address_of(self.provider)
        self.domain = Domain(chain_id=EMBEDDED_CHAIN_ID, verifying_contract=first_contract_address(address_of(self.operator)))


def make_world(backends: Backends, backend: str, keys: Keys) -> tuple[Ledger, Settings, str]:
    """A fresh ledger with the provider registered; returns (ledger, settings, provider token)."""
    data_dir, url = backends.new(backend)
    settings = Settings(data_dir=data_dir, database_url=url, operator_key=keys.operator.hex())
    ledger, _ = init_data_dir(settings, origin=ORIGIN)
    assert ledger.domain == keys.domain
    register_participant(
        ledger, keys.operator, address=keys.provider_address, name="Bench provider",
        legal_id=("LEI", "5493001KJTIIGC8Y1R12"), roles=["provider"],
    )  # fmt: skip
    token = ledger.issue_token(keys.provider_address, "bench")
    return ledger, settings, token


# -- the records -------------------------------------------------------------------------


def payload_for(i: int) -> dict:
    return {
        "title": f"Cell test data, batch {i}",
        "content_hash": "sha256:" + hashlib.sha256(b"dataset %d" % i).hexdigest(),
        "media_type": "text/csv",
        "description": "Impedance spectroscopy of LFP cells, 25 °C, one row per cycle.",
        "location": "s3://supplier.example/cells/",
    }


def sign_pool(keys: Keys, n: int) -> tuple[list[Submission], float, float]:
    """n pre-signed dataset submissions by the provider, and the CPU and wall seconds it took."""
    signer = types.SimpleNamespace(origin=ORIGIN, domain=keys.domain)
    c0, t0 = time.process_time(), time.perf_counter()
    subs = [signed_submission(signer, keys.provider, kind="dataset", payload=payload_for(i)) for i in range(n)]  # type: ignore[arg-type]
    return subs, time.process_time() - c0, time.perf_counter() - t0


def new_entry(sub: Submission) -> NewEntry:
    """The row admission (``ledger.admission``) builds for this submission (for the raw baseline)."""
    env = sub.envelope
    leaf_input = env.to_bytes()
    return NewEntry(
        record_id=env.id, kind=env.kind, author=env.author, issued_at=env.issued_at,
        leaf_hash=merkle.leaf_hash(leaf_input), envelope=leaf_input, payload=canonicalize(sub.payload),
        salt=sub.salt, visibility="public",
    )  # fmt: skip


def submission_json(sub: Submission) -> dict:
    out = {"envelope": sub.envelope.to_json(), "payload": sub.payload, "salt": sub.salt.hex()}
    if sub.visibility is not None:
        out["visibility"] = sub.visibility
    return out


def batches(seq: Sequence, size: int) -> list[Sequence]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]


# -- library and raw store ---------------------------------------------------------------


def run_library(ledger: Ledger, subs: Sequence[Submission], batch: int) -> tuple[float, float]:
    """(records per wall second, records per CPU second of this process)."""
    chunks = batches(subs, batch)
    c0, t0 = time.process_time(), time.perf_counter()
    for chunk in chunks:
        ledger.submit(chunk)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    assert ledger.store.tree_size(ledger.log.id) == 2 + len(subs)  # operator + provider registrations
    return len(subs) / dt, len(subs) / dc


def run_raw(ledger: Ledger, rows: Sequence[NewEntry], batch: int) -> tuple[float, float]:
    store, log = ledger.store, ledger.log.id
    chunks = batches(rows, batch)
    c0, t0 = time.process_time(), time.perf_counter()
    for chunk in chunks:
        store.append(log, chunk)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    assert store.tree_size(log) == 2 + len(rows)
    return len(rows) / dt, len(rows) / dc


# -- HTTP --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_main(argv: Sequence[str]) -> None:
    """The server process: ``ingest.py --serve DATA_DIR DATABASE_URL PORT SEALER GROUP_COMMIT WORKERS [CODE_DIR]``.

    CODE_DIR: serve the ledger code of that checkout (a worktree of ``--baseline-rev``)
    instead of this one; settings it does not know (group commit) are ignored there.
    WORKERS > 1: ``tdsl serve --workers``'s way, each worker process opening the data
    directory from the ``TDSL_*`` environment (its sealer seals nothing in the run: the
    interval and entry count are set out of reach, as SEALER 0 does for one process).
    """
    import uvicorn

    data_dir, url, port, sealer, group_commit, workers = argv[:6]
    if int(workers) > 1:
        os.environ.update(TDSL_DATA_DIR=data_dir, TDSL_DATABASE_URL=url, TDSL_GROUP_COMMIT=group_commit,
                          TDSL_SEAL_INTERVAL_SECONDS="86400", TDSL_SEAL_EVERY_ENTRIES="100000000")  # fmt: skip
        uvicorn.run("api.app:app_from_environment", factory=True, workers=int(workers), host="127.0.0.1",
                    port=int(port), log_level="warning", access_log=False)  # fmt: skip
        return
    from api.app import create_app

    settings = Settings(data_dir=Path(data_dir), database_url=url, group_commit=group_commit == "1")
    ledger = open_data_dir(settings)
    app = create_app(ledger, settings, start_sealer=sealer == "1")
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


@contextmanager
def server(settings: Settings, sealer: bool, *, group_commit: bool = True, code: Path | None = None, workers: int = 1):
    """A server process on a free port; ``code``: a checkout to serve instead of this one."""
    import httpx

    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", str(settings.data_dir),
           settings.resolved_database_url(), str(port), "1" if sealer else "0", "1" if group_commit else "0",
           str(workers), *([str(code)] if code is not None else [])]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TDSL_")}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not become healthy within 60 s")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live descendants (all their
    threads; worker processes of a multi-worker server), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(c)) for c in children)


def run_http(base: str, pid: int, token: str, subs: Sequence[Submission], batch: int, threads: int) -> tuple[float, float, float]:
    """Post the records in batches from ``threads`` clients.

    Returns (records per wall second, per server CPU second, per client CPU second).
    """
    import httpx

    bodies = [json.dumps({"records": [submission_json(s) for s in chunk]}).encode() for chunk in batches(subs, batch)]
    work: queue.Queue[bytes] = queue.Queue()
    for b in bodies:
        work.put(b)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors: list[str] = []
    appended = [0] * threads
    start = threading.Barrier(threads + 1)

    def client(k: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
            c.get("/v1/health")  # open the connection before the clock starts
            start.wait()
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                r = c.post("/v1/records/batch", content=body)
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:300]}")
                    return
                appended[k] += len(r.json())

    ts = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    s0, c0, t0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
    for t in ts:
        t.join()
    dt, dc, ds = time.perf_counter() - t0, time.process_time() - c0, cpu_seconds(pid) - s0
    if errors:
        raise RuntimeError(f"HTTP batch failed: {errors[0]}")
    assert sum(appended) == len(subs), (sum(appended), len(subs))
    return len(subs) / dt, len(subs) / ds, len(subs) / dc


@dataclasses.dataclass(frozen=True)
class SingleRun:
    rate: float  # records per wall second
    p50: float
    p95: float
    p99: float
    server_cpu: float  # records per CPU second of the server process
    client_cpu: float  # CPU seconds of the load generator


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100) of sorted values."""
    k = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * q // 100) - 1))
    return sorted_values[int(k)]


def run_single(base: str, pid: int, token: str, subs: Sequence[Submission], concurrency: int, tmp: Path) -> SingleRun:
    """One ``POST /v1/records`` per record, ``concurrency`` in flight, from the load
    generator (``_load.py``) in a process of its own; every answer must be 201."""
    bodies = tmp / f"single-{uuid.uuid4().hex}.jsonl"
    bodies.write_bytes(b"".join(json.dumps(submission_json(s)).encode() + b"\n" for s in subs))
    port = base.rsplit(":", 1)[1]
    cmd = [sys.executable, str(Path(__file__).resolve().with_name("_load.py")), "--port", port, "--path", "/v1/records",
           "--token", token, "--bodies", str(bodies), "--concurrency", str(concurrency)]  # fmt: skip
    s0 = cpu_seconds(pid)
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    server = cpu_seconds(pid) - s0
    bodies.unlink()
    out = json.loads(done.stdout)
    if out["statuses"] != {"201": len(subs)}:
        raise RuntimeError(f"single POSTs answered {out['statuses']}: {out['errors'][:2]}")
    lat = sorted(out["latencies"])
    return SingleRun(len(subs) / out["wall"], percentile(lat, 50), percentile(lat, 95), percentile(lat, 99),
                     len(subs) / server, out["cpu"])  # fmt: skip


def http_config(backends: Backends, keys: Keys, pool: Sequence[Submission], backend: str, batch: int, threads: int,
                n: int, repeat: int, sealer: bool, code: Path | None) -> tuple[float, float, float]:  # fmt: skip
    """Best of ``repeat`` batch runs on one fresh store and server: (records/s, per server CPU-s, per client CPU-s)."""
    ledger, settings, token = make_world(backends, backend, keys)
    ledger.store.close()
    rate = server_cpu = client_cpu = 0.0
    start = 0
    with server(settings, sealer, code=code) as (base, pid):
        for _ in range(repeat):
            chunk = pool[start : start + n]
            start += n
            w, sc, cc = run_http(base, pid, token, chunk, batch, threads)
            rate, server_cpu, client_cpu = max(rate, w), max(server_cpu, sc), max(client_cpu, cc)
            say(f"  HTTP {backend} batch {batch} clients {threads}{'' if code is None else ' (baseline)'}: "
                f"{fmt_rate(w)}/s (load {os.getloadavg()[0]:.2f})")  # fmt: skip
    check_size(settings, 2 + start)
    return rate, server_cpu, client_cpu


def check_size(settings: Settings, expected: int) -> None:
    check = SQLStore(settings.resolved_database_url())
    size = check.tree_size(check.get_log(ORIGIN).id)
    check.close()
    assert size == expected, f"the server's log holds {size} entries, expected {expected}"


def single_rows(backends: Backends, keys: Keys, pool: Sequence[Submission], http_backends: Sequence[str], n: int,
                concurrency: int, repeat: int, tmp: Path, codes: Sequence[tuple[str, Path | None]],
                workers: Sequence[int] = ()) -> None:  # fmt: skip
    """Single ``POST /v1/records``, ``concurrency`` in flight: group commit on (the server's
    default) against off (each request its own transaction) in the same server code, and
    against the ``--baseline-rev`` code if given (with group commit on, which code from before
    group commit ignores); the same run."""
    rows = []
    for backend in http_backends:
        # The baseline code runs with group commit on; code from before it ignores the setting.
        configs = [(label, code, True, 1) for label, code in codes if code is not None]
        configs += [("group commit off", None, False, 1), ("group commit on", None, True, 1)]
        configs += [(f"on, {w} workers", None, True, w) for w in workers if w > 1]
        runs: list[tuple[str, SingleRun]] = []
        for label, code, grouped, procs in configs:
            ledger, settings, token = make_world(backends, backend, keys)
            ledger.store.close()
            best: SingleRun | None = None
            start = 0
            with server(settings, False, group_commit=grouped, code=code, workers=procs) as (base, pid):
                for _ in range(repeat):
                    r = run_single(base, pid, token, pool[start : start + n], concurrency, tmp)
                    start += n
                    say(f"  single {backend} {label}: {fmt_rate(r.rate)}/s, p99 {r.p99 * 1e3:.0f} ms "
                        f"(load {os.getloadavg()[0]:.2f})")  # fmt: skip
                    best = r if best is None or r.rate > best.rate else best
            check_size(settings, 2 + start)
            assert best is not None
            runs.append((label, best))
        first = runs[0][1]
        target = TARGET_SINGLE[backend]

        def verdict(r: SingleRun) -> str:
            text = f"≥ {target:,}/s: {'met' if r.rate >= target else 'MISSED'}"
            if backend == "sqlite":
                text += f"; p99 ≤ {TARGET_SINGLE_P99 * 1e3:.0f} ms: {'met' if r.p99 <= TARGET_SINGLE_P99 else 'MISSED'}"
            return text

        for label, r in runs:
            rows.append((backend, label, fmt_rate(r.rate), f"{r.rate / first.rate:.2f}", f"{r.p50 * 1e3:.0f}",
                         f"{r.p95 * 1e3:.0f}", f"{r.p99 * 1e3:.0f}", fmt_rate(r.server_cpu),
                         verdict(r) if label.startswith(("group commit on", "on,")) else ""))  # fmt: skip
    say()
    say(f"Single POST /v1/records, {n:,} records, {concurrency} in flight, best of {repeat} (by rate): records/s (wall clock),")
    say("latency from the load generator (a process of its own), records per CPU second of the server process;")
    say(f"'vs first' = against the first row ({runs[0][0] if http_backends else ''}), the in-run baseline:")
    table(["backend", "server", "records/s", "vs first", "p50 ms", "p95 ms", "p99 ms", "server CPU-s", "target"], rows)
    say()


# -- growth: append rate as the log grows --------------------------------------------------


def growth(backends: Backends, keys: Keys, rows: Sequence[NewEntry], backend: str, steps: int, analyze: bool) -> list[float]:
    """Raw append rate (batches of 1000) over ``steps`` equal chunks of ``rows``, one fresh store.

    With ``analyze`` (PostgreSQL), ``ANALYZE entries`` runs after each chunk, as autovacuum
    would on a server where it is on, so the planner has statistics.
    """
    from sqlalchemy import text

    ledger, _, _ = make_world(backends, backend, keys)
    store, log = ledger.store, ledger.log.id
    per = len(rows) // steps
    rates = []
    for k in range(steps):
        chunk = rows[k * per : (k + 1) * per]
        t0 = time.perf_counter()
        for b in batches(chunk, 1000):
            store.append(log, b)
        rates.append(len(chunk) / (time.perf_counter() - t0))
        if analyze:
            with store.engine.begin() as conn:
                conn.execute(text("ANALYZE entries"))
    store.close()
    return rates


def pg_autovacuum(url: str) -> str:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            value = conn.execute(text("SHOW autovacuum")).scalar_one()
        engine.dispose()
        return str(value)
    except Exception as e:  # noqa: BLE001 - informational only
        return f"unknown ({e})"


# -- breakdown (no profiler) -------------------------------------------------------------


def per_call_us(fn: Callable[[object], object], items: Sequence, repeat: int = 3) -> float:
    """Best of ``repeat`` passes over items: microseconds per item."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, time.perf_counter() - t0)
    return best / len(items) * 1e6


def breakdown(keys: Keys, subs: Sequence[Submission], library_rate: float) -> None:
    import coincurve

    from ledger.eip712 import keccak256

    envs = [s.envelope for s in subs]
    domain = keys.domain
    kind = get_kind("dataset")
    ctx = AdmissionContext("0x" + "00" * 19 + "01", keys.provider_address, "bench", "2026-01-01T00:00:00Z", ())
    sigs = [(bytes.fromhex(e.sig[2:]), e.signing_digest(domain)) for e in envs]
    pubs = [coincurve.PublicKey.from_signature_and_message(s[:64] + bytes((s[64] - 27,)), d, hasher=None) for s, d in sigs]
    short = [e.id.encode() for e in envs]
    fast_envelope_bytes = lambda e: json.dumps(
        e.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    same = all(fast_envelope_bytes(e) == e.to_bytes() for e in envs)
    sub_json = [json.dumps(submission_json(s)).encode() for s in subs]

    from ledger.canonical import parse_json

    steps = [
        ("verify_envelope (all of the signature check)", lambda e: verify_envelope(e, domain), envs),
        ("  EIP-712 signing_digest (7 keccak256 + concat)", lambda e: e.signing_digest(domain), envs),
        ("  secp256k1 recover (coincurve)", lambda sd: coincurve.PublicKey.from_signature_and_message(
            sd[0][:64] + bytes((sd[0][64] - 27,)), sd[1], hasher=None), sigs),
        ("  address = keccak256(pubkey) (coincurve format + keccak)", lambda p: keccak256(p.format(compressed=False)[1:]), pubs),
        ("keccak256 of a short string (pycryptodome via eth-hash)", keccak256, short),
        ("  same length sha3_256 from hashlib (C, no wrapper) [alt]", lambda b: hashlib.sha3_256(b).digest(), short),
        ("Envelope.to_bytes (JCS via rfc8785)", lambda e: e.to_bytes(), envs),
        ("  json.dumps(sort_keys, compact) of the envelope [alt]", fast_envelope_bytes, envs),
        ("make_commitment (JCS of payload + sha256)", lambda s: make_commitment(s.payload, s.salt), subs),
        ("canonicalize(payload) again for storage", lambda s: canonicalize(s.payload), subs),
        ("kind.admit (pydantic strict schema + check)", lambda s: kind.admit(s.payload, ctx), subs),
        ("leaf_hash (sha256 of the envelope bytes)", merkle.leaf_hash, [e.to_bytes() for e in envs]),
        ("HTTP only: parse_json of one submission", parse_json, sub_json),
        ("HTTP only: Submission.from_json (Envelope checks, EIP-55 keccak)", Submission.from_json, [json.loads(b) for b in sub_json]),
    ]
    rows = []
    for name, fn, items in steps:
        rows.append((name, f"{per_call_us(fn, items):.1f}"))
    say("Per-record cost of each step, timed alone (best of 3 passes, no profiler):")
    table(["step", "µs/record"], rows)
    say(f"  (measured Ledger.submit on SQLite at batch 500: {1e6 / library_rate:.1f} µs/record)")
    say(f"  json.dumps(sort_keys=True, separators=(',',':'), ensure_ascii=False) == JCS for all {len(envs)} envelopes: {same}")


# -- profile -----------------------------------------------------------------------------

# (label, file suffix, function name); cumulative time, so nested rows overlap their parent.
GROUPS = [
    ("Ledger.submit (total)", "ledger/log.py", "submit"),
    ("  BatchAdmission.admit (per-record admission)", "ledger/admission.py", "admit"),
    ("    verify_envelope (signature check)", "ledger/envelope.py", "verify_envelope"),
    ("      signing_digest (EIP-712 keccak)", "ledger/envelope.py", "signing_digest"),
    ("      secp256k1 recover", "coincurve/keys.py", "from_signature_and_message"),
    ("    make_commitment (JCS + sha256)", "ledger/envelope.py", "make_commitment"),
    ("    Envelope.to_bytes (JCS)", "ledger/envelope.py", "to_bytes"),
    ("    kind.admit (pydantic)", "ledger/kinds/base.py", "admit"),
    ("  SQLStore.append (SQL, tiles, commit)", "ledger/store/sql.py", "append"),
    ("    _write_tiles (tile hashing + SQL)", "ledger/store/sql.py", "_write_tiles"),
    ("    commit (fsync)", "sqlalchemy/engine/base.py", "_commit_impl"),
    ("  entries_by_leaf_hash (parents)", "ledger/store/sql.py", "entries_by_leaf_hash"),
    ("all canonicalize calls (rfc8785)", "ledger/canonical.py", "canonicalize"),
    ("all keccak256 calls (pycryptodome)", "ledger/eip712.py", "keccak256"),
    ("HTTP: parse_json (strict JSON)", "ledger/canonical.py", "parse_json"),
    ("HTTP: batch_from_json (Envelope construction)", "api/schemas.py", "batch_from_json"),
    ("  Envelope.__post_init__ (field checks, EIP-55)", "ledger/envelope.py", "__post_init__"),
    ("HTTP: ledger.authenticate (token lookup)", "ledger/log.py", "authenticate"),
    ("HTTP: response models (AppendedOut)", "<handler>", "responses"),
]


def grouped(prof: cProfile.Profile, total_label_fn: tuple[str, str]) -> None:
    st = pstats.Stats(prof)
    stats = st.stats  # type: ignore[attr-defined]
    total = 0.0
    for (file, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if file.replace("\\", "/").endswith(total_label_fn[0]) and fn == total_label_fn[1]:
            total = max(total, ct)
    rows = []
    for label, suffix, name in GROUPS:
        ct = sum(v[3] for (file, _l, fn), v in stats.items() if file.replace("\\", "/").endswith(suffix) and fn == name)
        if ct:
            rows.append((label, f"{ct * 1000:.0f}", f"{100 * ct / total:.0f}%" if total else "-"))
    table(["where (cumulative, nested rows overlap)", "ms", "share"], rows)
    say("top 15 functions by own time:")
    out = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    for (file, line, fn), (_cc, nc, tt, ct, _c) in out:
        short = file.split("site-packages/")[-1].replace(str(REPO) + "/", "")
        say(f"  {tt * 1000:7.1f} ms own {ct * 1000:7.1f} ms cum {nc:8d} calls  {short}:{line}({fn})")


def profile_library(backends: Backends, keys: Keys, subs: Sequence[Submission], batch: int) -> None:
    ledger, _, _ = make_world(backends, "sqlite", keys)
    prof = cProfile.Profile()
    prof.enable()
    for chunk in batches(subs, batch):
        ledger.submit(chunk)
    prof.disable()
    ledger.store.close()
    say(f"cProfile of Ledger.submit, SQLite, {len(subs)} records in batches of {batch} "
        "(profiler overhead inflates Python-heavy rows):")  # fmt: skip
    grouped(prof, ("ledger/log.py", "submit"))


def profile_http_handler(backends: Backends, keys: Keys, subs: Sequence[Submission], batch: int) -> None:
    """The work POST /v1/records/batch does per request, called directly (no ASGI, no socket)."""
    try:
        from api.routers.records import check_may_submit
        from api.schemas import AppendedOut, batch_from_json
        from ledger.canonical import parse_json
    except ImportError as e:
        say(f"(HTTP handler profile skipped: {e})")
        return
    ledger, _, token = make_world(backends, "sqlite", keys)
    bodies = [json.dumps({"records": [submission_json(s) for s in chunk]}).encode() for chunk in batches(subs, batch)]

    def responses(appended):  # named so the profile can find it
        return json.dumps([AppendedOut(id=a.record_id, leaf_index=a.leaf_index, leaf_hash=a.leaf_hash.hex(),
                                       duplicate=a.duplicate).model_dump() for a in appended])  # fmt: skip

    responses.__code__ = responses.__code__.replace(co_filename="<handler>")
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for body in bodies:
        caller = ledger.authenticate(token)
        subs_ = batch_from_json(parse_json(body))
        check_may_submit(caller, subs_)
        responses(ledger.submit(subs_))
    prof.disable()
    dt = time.perf_counter() - t0
    ledger.store.close()
    say(f"cProfile of the handler's work for {len(subs)} records in bodies of {batch} "
        f"(parse, build, authenticate, submit, respond; no server): {len(subs) / dt:,.0f} records/s under the profiler")  # fmt: skip
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    stats = st.stats  # type: ignore[attr-defined]
    rows = []
    for label, suffix, name in GROUPS:
        ct = sum(v[3] for (file, _l, fn), v in stats.items() if file.replace("\\", "/").endswith(suffix) and fn == name)
        if ct:
            rows.append((label, f"{ct * 1000:.0f}", f"{100 * ct / total:.0f}%"))
    rows.insert(0, ("whole handler work (profiled)", f"{total * 1000:.0f}", "100%"))
    table(["where (cumulative, nested rows overlap)", "ms", "share"], rows)


# -- main --------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve_main(sys.argv[2:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, fewer configurations (smoke test)")
    p.add_argument("--records", type=int, help="records per library/raw measurement (default 10000; quick 1000)")
    p.add_argument("--batches", help="batch sizes, comma-separated (default 100,500,1000; quick 100,500)")
    p.add_argument("--backends", help="sqlite,postgres (default both; PostgreSQL skipped if unreachable)")
    p.add_argument("--postgres-url", default=os.environ.get("TDSL_TEST_POSTGRES_URL") or DEFAULT_PG,
                   help="server where scratch databases are created and dropped (default: %(default)s)")  # fmt: skip
    p.add_argument("--http-records", type=int, help="records per HTTP measurement (default 5000; quick 1000)")
    p.add_argument("--http-batches", help="HTTP batch sizes (default 100,500,1000; quick 500)")
    p.add_argument("--http-threads", help="client thread counts (default 1,2; quick 2)")
    p.add_argument("--http-backends", help="backends for HTTP (default: as --backends)")
    p.add_argument("--http-sealer", action="store_true", help="run the background sealer in the server")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP measurements")
    p.add_argument("--single", type=int, help="records per single-POST measurement (default 2000; quick 300)")
    p.add_argument("--single-concurrency", type=int, default=50, help="single POSTs in flight (default %(default)s)")
    p.add_argument("--single-workers", default="2",
                   help="also serve the single POSTs with these worker counts (tdsl serve --workers), comma-separated; "
                        "'' for none (default %(default)s; quick: none)")  # fmt: skip
    p.add_argument("--no-single", action="store_true", help="skip the single-POST (group commit) measurements")
    p.add_argument("--baseline-rev", help="also serve the HTTP runs from a git worktree of this commit (the code before a change)")
    p.add_argument("--no-profile", action="store_true", help="skip breakdown and cProfile (quick skips them)")
    p.add_argument("--growth", type=int, help="entries for the append-rate-vs-log-size run (default 50000; quick 0 = skip)")
    p.add_argument("--repeat", type=int, help="runs of each configuration, best reported (default 3; quick 1)")
    p.add_argument("--tmpdir", type=Path, default=None, help="where SQLite files go (default: system temp dir)")
    a = p.parse_args()

    ints = lambda s: [int(x) for x in s.split(",") if x]
    records = a.records or (1000 if a.quick else 10000)
    batch_sizes = ints(a.batches or ("100,500" if a.quick else "100,500,1000"))
    backend_list = (a.backends or "sqlite,postgres").split(",")
    http_records = a.http_records or (1000 if a.quick else 5000)
    http_batches = ints(a.http_batches or ("500" if a.quick else "100,500,1000"))
    http_threads = ints(a.http_threads or ("2" if a.quick else "1,2"))
    http_backends = (a.http_backends or ",".join(backend_list)).split(",")
    repeat = a.repeat or (1 if a.quick else 3)
    growth_n = a.growth if a.growth is not None else (0 if a.quick else 50000)
    do_http = not a.no_http
    single_n = a.single or (300 if a.quick else 2000)
    do_single = do_http and not a.no_single
    do_profile = not (a.no_profile or a.quick)
    for b in backend_list + http_backends:
        if b not in ("sqlite", "postgres"):
            p.error(f"unknown backend {b!r}")

    tmp = Path(tempfile.mkdtemp(prefix="tdsl-bench-ingest-", dir=a.tmpdir))
    backends = Backends(tmp, a.postgres_url)
    if "postgres" in backend_list + http_backends:
        why = backends.pg_reachable()
        if why is not None:
            say(f"PostgreSQL at {a.postgres_url} is not reachable ({why}); PostgreSQL runs skipped")
            backend_list = [b for b in backend_list if b != "postgres"]
            http_backends = [b for b in http_backends if b != "postgres"]

    fs = subprocess.run(["df", "-T", str(tmp)], check=False, capture_output=True, text=True).stdout.splitlines()[-1].split()
    say("== ingest benchmark")
    say(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; SQLite files in {tmp} ({fs[1]}); "
        f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    say(f"library: {records} records per configuration, batches {batch_sizes}, backends {backend_list}, best of {repeat}")
    if do_http:
        say(f"HTTP: {http_records} records per configuration, batches {http_batches}, client threads "
            f"{http_threads}, backends {http_backends}, sealer {'on' if a.http_sealer else 'off'}")  # fmt: skip
    say()

    codes: list[tuple[str, Path | None]] = [("this tree", None)]
    if a.baseline_rev:
        worktree = tmp / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), a.baseline_rev],
                       check=True, capture_output=True)  # fmt: skip
        codes.insert(0, (f"{a.baseline_rev} (before)", worktree))
    keys = Keys()
    n_http_cfg = len(http_batches) * len(http_threads) if do_http and http_backends else 0
    n_single = repeat * single_n if do_single else 0  # per server, each on a fresh store
    pool_size = max(records, http_records * repeat if n_http_cfg else 0, n_single, 3000 if do_profile else 0)
    try:
        pool, sign_cpu, sign_wall = sign_pool(keys, pool_size)
        sign_rate = pool_size / sign_cpu
        say(f"client signing (signed_submission: JCS commitment + EIP-712 digest + secp256k1 sign), one thread, "
            f"{pool_size} records: {fmt_rate(pool_size / sign_wall)} signatures/s wall, {fmt_rate(sign_rate)} per CPU second")  # fmt: skip
        lib_subs = pool[:records]
        raw_rows = [new_entry(s) for s in lib_subs]
        # Distinct record ids over the pre-built rows (leaf hashes repeat; the store does not mind).
        raw_growth = [dataclasses.replace(raw_rows[i % len(raw_rows)], record_id=f"g{i}") for i in range(growth_n)]
        say()

        results: dict[tuple[str, int], tuple[float, float]] = {}
        rows = []
        for backend in backend_list:
            for batch in batch_sizes:
                raw = raw_cpu = lib = lib_cpu = 0.0
                for _ in range(repeat):  # best of `repeat`, each on a fresh store
                    ledger, _, _ = make_world(backends, backend, keys)
                    r, rc = run_raw(ledger, raw_rows, batch)
                    ledger.store.close()
                    ledger, _, _ = make_world(backends, backend, keys)
                    lr, lc = run_library(ledger, lib_subs, batch)
                    ledger.store.close()
                    raw, raw_cpu, lib, lib_cpu = max(raw, r), max(raw_cpu, rc), max(lib, lr), max(lib_cpu, lc)
                    say(f"  {backend} batch {batch}: raw {fmt_rate(r)}/s, library {fmt_rate(lr)}/s "
                        f"(load {os.getloadavg()[0]:.2f})")  # fmt: skip
                results[(backend, batch)] = (raw, lib)
                target = ""
                if backend == "sqlite":
                    target = f"≥ {TARGET_LIBRARY_SQLITE:,}: {'met' if lib >= TARGET_LIBRARY_SQLITE else 'MISSED'}"
                rows.append((backend, batch, fmt_rate(raw), fmt_rate(lib), f"{lib / raw:.2f}", fmt_rate(raw_cpu),
                             fmt_rate(lib_cpu), f"{lib_cpu / sign_rate:.2f}", target))  # fmt: skip
        say()
        say(f"Library ingest, best of {repeat}: records/s (wall clock) and records per CPU second of this process (robust to other load;")
        say("on PostgreSQL the server's CPU is not counted). raw = SQLStore.append of pre-built rows, the in-run baseline;")
        say("submit/raw = the share of the raw rate left after verification and admission:")
        table(["backend", "batch", "raw/s", "submit/s", "submit/raw", "raw/CPU-s", "submit/CPU-s",
               "submit/signing (CPU)", "target (wall)"], rows)  # fmt: skip
        say()

        if do_http and http_backends:
            hrows = []
            for backend in http_backends:
                for batch in http_batches:
                    for threads in http_threads:
                        for code_label, code in codes:
                            rate, server_cpu, client_cpu = http_config(backends, keys, pool, backend, batch, threads,
                                                                       http_records, repeat, a.http_sealer, code)  # fmt: skip
                            lib = results.get((backend, batch), (None, None))[1]
                            ratio = f"{rate / lib:.2f}" if lib else "-"
                            target = f"≥ {TARGET_HTTP:,}: {'met' if rate >= TARGET_HTTP else 'MISSED'}"
                            hrows.append((backend, batch, threads, code_label, fmt_rate(rate), ratio,
                                          fmt_rate(server_cpu), fmt_rate(client_cpu), target))  # fmt: skip
            say()
            say(f"HTTP ingest, POST /v1/records/batch, best of {repeat}: records/s (wall clock); HTTP/library = against Ledger.submit at the")
            say("same batch size; records per CPU second of the server process and of this (client) process:")
            table(["backend", "batch", "clients", "code", "records/s", "HTTP/library", "server CPU-s", "client CPU-s",
                   "target (wall)"], hrows)  # fmt: skip
            say()

        if do_single and http_backends:
            workers = [] if a.quick else [int(w) for w in a.single_workers.split(",") if w.strip()]
            single_rows(backends, keys, pool, http_backends, single_n, a.single_concurrency, repeat, tmp, codes, workers)

        if growth_n:
            steps = 5
            cols = {b: growth(backends, keys, raw_growth, b, steps, False) for b in backend_list}
            if "postgres" in backend_list:
                cols["postgres + ANALYZE"] = growth(backends, keys, raw_growth, "postgres", steps, True)
            per = growth_n // steps
            say(f"Raw append rate (SQLStore.append, batches of 1000) while one log grows to {growth_n:,} entries, per chunk of {per:,}:")
            if "postgres" in backend_list:
                say(f"(PostgreSQL autovacuum on this server: {pg_autovacuum(a.postgres_url)}; the last column runs ANALYZE after each chunk)")
            table(["log size after chunk", *cols], [(f"{(k + 1) * per:,}", *(fmt_rate(c[k]) for c in cols.values()))
                                                    for k in range(steps)])  # fmt: skip
            say()

        if do_profile:
            ref = results.get(("sqlite", 500)) or next(iter(results.values()))
            breakdown(keys, pool[:2000], ref[1])
            say()
            profile_library(backends, keys, pool[:3000], 500)
            say()
            if do_http:
                profile_http_handler(backends, keys, pool[:3000], 500)
                say()
    finally:
        backends.drop_all()
        if a.baseline_rev:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tmp / "baseline")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
