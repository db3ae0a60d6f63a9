"""`tdsl` against a real JSON-RPC node (anvil): init bound to the node's chain, `tdsl chain
deploy`, start-up checks (wrong chain, no registry at the address), anchor and verify --rpc.

Issue 3, item 4.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from anvil import anvil_node
from test_cli import ORIGIN, assert_clean_failure, run, submit_dataset


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch):
    for name in ("TDSL_DATA_DIR", "TDSL_DATABASE_URL", "TDSL_KEYSTORE_PASSWORD", "TDSL_URL", "TDSL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    key = os.urandom(32)
    monkeypatch.setenv("TDSL_OPERATOR_KEY", key.hex())
    with anvil_node() as n:
        monkeypatch.setenv("TDSL_RPC_URL", n.url)
        w3 = Web3(Web3.HTTPProvider(n.url))
        funder = Account.from_key(n.dev_keys[0])
        tx = funder.sign_transaction({
            "to": Account.from_key(key).address, "value": 10**20, "gas": 21000, "chainId": w3.eth.chain_id,
            "nonce": w3.eth.get_transaction_count(funder.address), "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
        })  # fmt: skip
        w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(tx.raw_transaction))
        yield n


def test_init_deploy_anchor_verify_over_json_rpc(node, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    d = tmp_path / "data"
    rc, _, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)
    assert rc == 0, err
    identity = json.loads((d / "identity.json").read_text())
    assert identity["chain_id"] == 31337 and not (d / "chain.db").exists()

    # Before the registry exists, the ledger will not anchor: the start-up check stops it.
    rc, _, err = run(capsys, "anchor", "--data-dir", d)
    assert rc == 1 and identity["contract"] in err
    assert_clean_failure(err)

    rc, out, err = run(capsys, "chain", "deploy", "--data-dir", d)
    assert rc == 0, err
    assert f"deployed the registry at {identity['contract']}" in out and "created log" in out
    rc, out, err = run(capsys, "chain", "deploy", "--data-dir", d)  # idempotent
    assert rc == 0 and "already has log" in out

    submit_dataset(capsys, d, tmp_path, "ds-1")
    rc, out, err = run(capsys, "anchor", "--data-dir", d)
    assert rc == 0, err
    assert "mined" in out  # final comes with confirmations (the server's confirmer)
    rc, _, err = run(capsys, "receipt", "ds-1", "--data-dir", d, "-o", tmp_path / "r.json")
    assert rc == 0, err
    rc, out, err = run(capsys, "verify", tmp_path / "r.json", "--origin", ORIGIN, "--identity", d / "identity.json",
                       "--rpc", node.url)  # fmt: skip
    assert rc == 0, err
    assert "(anchor: mined)" in out
    rc, _, err = run(capsys, "verify", tmp_path / "r.json", "--origin", ORIGIN, "--identity", d / "identity.json",
                     "--rpc", node.url, "--confirmations", "5")  # fmt: skip
    assert rc == 1 and "confirmations" in err


def test_a_log_bound_to_another_chain_is_refused(node, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    d = tmp_path / "data"
    rc, _, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", d, "--chain-id", "1")
    assert rc == 0, err
    for argv in (("chain", "deploy", "--data-dir", d), ("anchor", "--data-dir", d)):
        rc, _, err = run(capsys, *argv)
        assert rc == 1 and "31337" in err and "chain 1" in err, err
        assert_clean_failure(err)
