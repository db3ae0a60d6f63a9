"""The committed contracts/build/ is exactly what scripts/compile_contracts.py makes.

Recompiles contracts/*.sol with the npm solc pinned in package-lock.json into a temporary
directory and compares byte for byte with the committed files (DESIGN §4). Needs node and
node_modules (`make test` runs `npm ci` first).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "contracts" / "build"
SCRIPT = ROOT / "scripts" / "compile_contracts.py"


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.fail("node and node_modules/solc are required: run `npm ci` (make test does)")
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out


def test_build_is_reproduced_byte_for_byte(rebuilt: Path):
    committed = sorted(p.name for p in BUILD.glob("*.json"))
    assert committed == sorted(p.name for p in rebuilt.glob("*.json")) == ["AnchorRegistry.json"]
    for name in committed:
        assert (rebuilt / name).read_bytes() == (BUILD / name).read_bytes(), (
            f"contracts/build/{name} is stale: run `python scripts/compile_contracts.py` and commit"
        )


def test_build_records_the_pinned_compiler(rebuilt: Path):
    artifact = json.loads((BUILD / "AnchorRegistry.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/solc"]["version"]
    assert artifact["compiler"]["version"].startswith(pinned + "+commit.")
    pragma = next(line for line in (ROOT / "contracts" / "AnchorRegistry.sol").read_text().splitlines() if line.startswith("pragma solidity"))
    assert pragma == f"pragma solidity {pinned};"
    settings = artifact["compiler"]["settings"]
    assert settings["metadata"] == {"appendCBOR": False, "bytecodeHash": "none"}
    assert settings["optimizer"] == {"enabled": True, "runs": 10000}
    assert settings["evmVersion"] == "cancun"
