"""The benchmark scripts still run (at smoke size); their figures live in docs/benchmarks.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("proofs.py", ["--quick", "--no-pymerkle"], "median inclusion proof ≤ 1.0 ms"),
        ("ingest.py", ["--quick", "--backends", "sqlite", "--no-http"], "Library ingest"),
        ("ingest.py", ["--quick", "--backends", "sqlite", "--records", "200", "--batches", "100", "--http-records", "200",
                       "--http-batches", "100", "--http-threads", "1", "--single", "100"], "Single POST /v1/records"),
        ("cli.py", ["--quick"], "verify --chain-db"),
        ("gas.py", ["--quick"], "anchor with a 30-hash proof"),
        ("anchoring.py", ["--quick"], "seal"),
        ("pcf.py", ["--quick", "--no-baseline"], "roll-up admission"),
        ("contracts.py", ["--quick"], "GET /v1/violations median"),
        ("passports.py", ["--quick"], "resolver → HTML median"),
        ("audit_bundle.py", ["--quick", "--skip-cli", "--repeats", "1"], "export + verify_bundle"),
    ],
)
def test_benchmark_runs_at_smoke_size(script, args, expect, tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench" / script), *args, "--tmpdir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert expect in out.stdout, out.stdout[-3000:]
