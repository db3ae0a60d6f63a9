"""A throwaway anvil node for integration tests (STYLE: tests against a real node).

``anvil_node()`` starts the anvil binary from npm on a free loopback port, waits until
``eth_chainId`` answers, yields an ``AnvilNode`` (url, pid, the dev accounts' private
keys) and on exit stops the process by its PID: SIGTERM, then SIGKILL after a timeout,
and checks that it is gone.

The dev keys are anvil's defaults, derived from its well-known test mnemonic; they are
public and belong in tests only. If the anvil binary is missing the test is skipped on a
developer's machine and fails under CI (``CI`` set), like the PostgreSQL half of the suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_WRAPPER = REPO_ROOT / "node_modules" / ".bin" / "anvil"


def _binary() -> Path:
    """The native binary that ``@foundry-rs/anvil``'s node wrapper would spawn.

    Started directly, so the PID the tests hold is the node's own: SIGSTOP/SIGKILL reach
    it (through the wrapper they would hit node.js and leave the node running).
    """
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    native = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{platform.system().lower()}-{arch}" / "bin" / "anvil"
    return native if native.exists() else _WRAPPER


ANVIL = _binary()

# anvil's default dev mnemonic and derivation path (public test keys, never for real funds).
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_PATH = "m/44'/60'/0'/0/{}"
DEV_ACCOUNTS = 4
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class AnvilNode:
    url: str
    pid: int
    dev_keys: tuple[bytes, ...]  # private keys of the prefunded dev accounts, in order


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}; CI must not skip the anvil tests (run `npm ci`)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dev_keys(count: int = DEV_ACCOUNTS) -> tuple[bytes, ...]:
    """The private keys of anvil's first ``count`` default dev accounts."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return tuple(bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=DEV_PATH.format(i)).key) for i in range(count))


def _rpc(url: str, method: str, params: list | None = None, timeout: float = 2.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process by its PID, SIGKILL it after STOP_TIMEOUT; check it is gone."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
    assert proc.poll() is not None, f"anvil (pid {proc.pid}) is still running"
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"anvil (pid {proc.pid}) is still running after it was reaped")


@contextmanager
def anvil_node(accounts: int = DEV_ACCOUNTS) -> Iterator[AnvilNode]:
    """A fresh anvil on a free 127.0.0.1 port; stopped (and checked gone) on exit."""
    if not os.access(ANVIL, os.X_OK):
        _missing(f"{ANVIL.relative_to(REPO_ROOT)} not found")
    keys = dev_keys(accounts)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--accounts", str(accounts), "--quiet"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"anvil exited with {proc.returncode} before answering:\n{output}")
                try:
                    _rpc(url, "eth_chainId", timeout=1.0)
                    break
                except (OSError, urllib.error.URLError, RuntimeError, ValueError):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"anvil at {url} did not answer eth_chainId within {START_TIMEOUT} s") from None
                    time.sleep(0.05)
            from eth_account import Account

            expected = [Account.from_key(k).address.lower() for k in keys]
            assert [a.lower() for a in _rpc(url, "eth_accounts")] == expected, "dev keys do not match anvil's accounts"
            yield AnvilNode(url=url, pid=proc.pid, dev_keys=keys)
        finally:
            _stop(proc)
