#!/usr/bin/env python3
"""Compile contracts/*.sol with the pinned npm ``solc`` into contracts/build/<Name>.json.

    python scripts/compile_contracts.py            # rewrite contracts/build/
    python scripts/compile_contracts.py --out DIR  # write elsewhere (the build test does)

Needs ``node`` and ``node_modules`` (``npm ci``; ``make test`` runs it). The compiler is
the solc-js build pinned in package.json/package-lock.json, driven through standard JSON
with the fixed ``SETTINGS`` below. The output is byte-for-byte reproducible: no CBOR
metadata (and so no metadata hash) is appended to the bytecode, keys are sorted, there
are no timestamps or absolute paths. tests/test_contract_build.py recompiles and
compares with the committed files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "contracts"
BUILD = CONTRACTS / "build"

# Fixed compiler settings, recorded in every build file.
# - evmVersion is pinned (not solc's moving default) to cancun: run by py-evm, anvil,
#   current Besu/QBFT consortium chains and the L2s; no Prague/Osaka-only opcodes.
# - runs=10000: `anchor` and `verifyInclusion` are called far more often than deployed.
# - no CBOR metadata: the metadata hash would change with any comment or path, and the
#   ABI and NatSpec are in the source anyway.
SETTINGS: dict = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 10000},
    "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# Runs solc-js on the standard JSON read from stdin; prints {version, output}.
_NODE_DRIVER = """
const solc = require('solc');
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output}));
});
"""


class CompileError(RuntimeError):
    pass


def compile_sources(sources: dict[str, str]) -> tuple[str, dict]:
    """Compile {file name: source text}; return (solc version, standard JSON output)."""
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": SETTINGS,
    }
    try:
        proc = subprocess.run(
            ["node", "-e", _NODE_DRIVER],
            input=json.dumps(standard_input),
            capture_output=True,
            text=True,
            cwd=ROOT,  # so that require('solc') finds ROOT/node_modules
            check=False,
        )
    except FileNotFoundError as exc:
        raise CompileError("node is not installed (needed to run the npm solc)") from exc
    if proc.returncode != 0:
        raise CompileError(f"solc-js failed (did `npm ci` run?):\n{proc.stderr}")
    result = json.loads(proc.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    return result["version"], output


def build_artifacts() -> dict[str, bytes]:
    """Compile every contracts/*.sol; return {artifact file name: file bytes}."""
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(CONTRACTS.glob("*.sol"))}
    if not sources:
        raise CompileError(f"no .sol files in {CONTRACTS}")
    version, output = compile_sources(sources)
    artifacts: dict[str, bytes] = {}
    for source_name, contracts in sorted(output["contracts"].items()):
        for name, compiled in sorted(contracts.items()):
            artifact = {
                "contractName": name,
                "sourceName": f"contracts/{source_name}",
                "sourceSha256": hashlib.sha256(sources[source_name].encode("utf-8")).hexdigest(),
                "compiler": {"name": "solc-js (npm solc)", "version": version, "settings": SETTINGS},
                "abi": compiled["abi"],
                "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
            }
            text = json.dumps(artifact, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
            artifacts[f"{name}.json"] = text.encode("utf-8")
    return artifacts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD, help="output directory (default: contracts/build)")
    args = parser.parse_args(argv)
    try:
        artifacts = build_artifacts()
    except CompileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in artifacts.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
