"""The ``tdsl`` CLI, run in-process through ``main(argv)`` (output via capsys), plus a few
runs of the installed ``.venv/bin/tdsl`` for the real entry point.

The tamper test takes one real receipt and, for each field in turn, writes a changed copy
and checks that ``tdsl verify`` answers ``invalid:`` with exit code 1.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.checkpoint import NoteSigner
from ledger.cli import main
from ledger.config import Settings
from ledger.datadir import Identity, open_data_dir
from ledger import demo_contracts
from ledger.demo import DATASETS, DEMO_ORIGIN, PARTICIPANTS, load_demo, read_key_file
from ledger.demo_footprints import FOOTPRINTS
from ledger.envelope import address_of
from ledger.errors import Unauthorized

ORIGIN = "cli.tds-ledger.example/log"
TDSL = Path(sys.executable).with_name("tdsl")
ENV_VARS = (
    "TDSL_DATA_DIR", "TDSL_DATABASE_URL", "TDSL_KEYSTORE_PASSWORD", "TDSL_OPERATOR_KEY", "TDSL_URL", "TDSL_TOKEN",
    "TDSL_RPC_URL",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clean_failure(err: str) -> None:
    assert "Traceback" not in err
    assert err.strip(), "a failure says why on stderr"


@pytest.fixture
def operator_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = os.urandom(32).hex()
    monkeypatch.setenv("TDSL_OPERATOR_KEY", key)
    return key


@pytest.fixture
def data_dir(tmp_path: Path, operator_key: str, capsys: pytest.CaptureFixture[str]) -> Path:
    d = tmp_path / "data"
    rc, _, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)
    assert rc == 0, err
    return d


def new_key(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    rc, out, err = run(capsys, "keys", "new", "--out", path)
    assert rc == 0, err
    return out.split("address: ")[1].strip()


def add_provider(capsys: pytest.CaptureFixture[str], data_dir: Path, key_file: Path) -> str:
    address = new_key(capsys, key_file)
    rc, _, err = run(
        capsys, "participant", "add", "--data-dir", data_dir, "--address", address, "--name", "Cell supplier",
        "--legal-id", "LEI:529900T8BM49AURSDO55", "--roles", "provider,producer",
    )  # fmt: skip
    assert rc == 0, err
    return address


def write_payload(path: Path, title: str = "LFP cell test results") -> Path:
    path.write_text(json.dumps({"title": title, "content_hash": "sha256:" + "ab" * 32, "media_type": "text/csv"}))
    return path


def submit_dataset(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path, record_id: str) -> None:
    """Register a provider (key in tmp_path/p.key) and submit one dataset record through the CLI."""
    add_provider(capsys, data_dir, tmp_path / "p.key")
    rc, _, err = run(
        capsys, "submit", write_payload(tmp_path / "payload.json"), "--kind", "dataset",
        "--key-file", tmp_path / "p.key", "--data-dir", data_dir, "--id", record_id,
    )  # fmt: skip
    assert rc == 0, err


# -- usage -------------------------------------------------------------------------------


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys)
    assert rc == 2
    assert "usage: tdsl" in err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "--help")
    assert rc == 0
    for command in ("init", "serve", "demo", "keys", "participant", "token", "submit", "receipt", "verify"):
        assert command in out


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "keys", "new", "--bogus")[0] == 2


# -- init --------------------------------------------------------------------------------


def test_init_prints_identity_and_token_then_refuses_a_second_time(
    tmp_path: Path, operator_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "data"
    rc, out, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)
    assert rc == 0, err
    identity = Identity.from_file(d / "identity.json")
    assert identity.origin == ORIGIN
    for value in (identity.origin, str(identity.chain_id), identity.contract, identity.note_key, identity.operator):
        assert value in out
    assert identity.operator == address_of(bytes.fromhex(operator_key))
    token = out.strip().splitlines()[-1]
    assert token.startswith("tdsl_")
    assert open_data_dir(Settings(data_dir=d)).authenticate(token).roles == {"operator"}

    rc, out, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)
    assert rc == 1
    assert "already holds a ledger" in err
    assert_clean_failure(err)


def test_init_with_chain_id_and_contract(tmp_path: Path, operator_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    rc, _, err = run(capsys, "init", "--origin", ORIGIN, "--chain-id", "31337", "--contract", contract, "--data-dir", tmp_path)
    assert rc == 0, err
    identity = Identity.from_file(tmp_path / "identity.json")
    assert (identity.chain_id, identity.contract) == (31337, contract)


def test_init_without_a_secret_says_which_variable_to_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "init", "--origin", ORIGIN, "--data-dir", tmp_path / "data")
    assert rc == 1
    assert "TDSL_KEYSTORE_PASSWORD" in err and "TDSL_OPERATOR_KEY" in err
    assert_clean_failure(err)
    assert not (tmp_path / "data" / "identity.json").exists()


def test_data_dir_defaults_to_tdsl_data_dir(
    tmp_path: Path, operator_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TDSL_DATA_DIR", str(tmp_path / "env-dir"))
    assert run(capsys, "init", "--origin", ORIGIN)[0] == 0
    rc, out, _ = run(capsys, "keys", "note")
    assert rc == 0
    assert out.strip() == Identity.from_file(tmp_path / "env-dir" / "identity.json").note_key


# -- keys, participants, tokens ----------------------------------------------------------


def test_keys_new_prints_a_key_and_its_address(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "keys", "new")
    assert rc == 0
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert address_of(bytes.fromhex(lines["private key"])) == lines["address"]


def test_keys_new_out_writes_a_private_file_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "author.key"
    address = new_key(capsys, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert address_of(read_key_file(path)) == address
    assert path.read_text().strip() not in capsys.readouterr().out
    before = path.read_text()
    rc, _, err = run(capsys, "keys", "new", "--out", path)
    assert rc == 1
    assert "refusing to overwrite" in err
    assert path.read_text() == before


def test_keys_note_prints_the_logs_verifier_key(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "keys", "note", "--data-dir", data_dir)
    assert rc == 0
    assert out.strip() == Identity.from_file(data_dir / "identity.json").note_key


def test_keys_note_without_a_ledger_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "keys", "note", "--data-dir", tmp_path)
    assert rc == 1
    assert_clean_failure(err)


def test_participant_add_then_token_issue_and_revoke(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = add_provider(capsys, data_dir, tmp_path / "p.key")
    ledger = open_data_dir(Settings(data_dir=data_dir))
    who = ledger.store.participant(ledger.log.id, address)
    assert who is not None and who.roles == {"provider", "producer"} and who.legal_id == "LEI:529900T8BM49AURSDO55"

    rc, out, err = run(capsys, "token", "issue", "--data-dir", data_dir, "--address", address, "--label", "laptop")
    assert rc == 0, err
    token = out.strip()
    assert ledger.authenticate(token).address == address

    rc, _, err = run(capsys, "token", "revoke", "--data-dir", data_dir, token)
    assert rc == 0, err
    with pytest.raises(Unauthorized):
        ledger.authenticate(token)
    rc, _, err = run(capsys, "token", "revoke", "--data-dir", data_dir, token)
    assert rc == 1
    assert_clean_failure(err)


def test_token_issue_for_an_unknown_address_fails(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = address_of(os.urandom(32))
    rc, _, err = run(capsys, "token", "issue", "--data-dir", data_dir, "--address", address)
    assert rc == 1
    assert "not a registered participant" in err


@pytest.mark.parametrize(
    ("legal_id", "roles", "code", "message"),
    [
        ("LEI", "provider", 2, "SCHEME:VALUE"),
        ("NOPE:123", "provider", 1, "legal_id"),
        ("LEI:529900T8BM49AURSDO55", "provider,wizard", 1, "roles"),
    ],
)
def test_participant_add_rejects_bad_input(
    data_dir: Path, capsys: pytest.CaptureFixture[str], legal_id: str, roles: str, code: int, message: str
) -> None:
    address = address_of(os.urandom(32))
    rc, _, err = run(
        capsys, "participant", "add", "--data-dir", data_dir, "--address", address, "--name", "X",
        "--legal-id", legal_id, "--roles", roles,
    )  # fmt: skip
    assert rc == code
    assert message in err
    assert_clean_failure(err)


def test_participant_add_refuses_an_address_without_its_checksum(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = address_of(os.urandom(32)).lower()
    rc, _, err = run(
        capsys, "participant", "add", "--data-dir", data_dir, "--address", address, "--name", "X",
        "--legal-id", "LEI:529900T8BM49AURSDO55", "--roles", "provider",
    )  # fmt: skip
    assert rc == 1
    assert "EIP-55" in err


def test_participant_add_needs_the_operator_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TDSL_OPERATOR_KEY")
    rc, _, err = run(
        capsys, "participant", "add", "--data-dir", data_dir, "--address", address_of(os.urandom(32)), "--name", "X",
        "--legal-id", "LEI:529900T8BM49AURSDO55", "--roles", "provider",
    )  # fmt: skip
    assert rc == 1
    assert "TDSL_OPERATOR_KEY" in err


# -- submit and receipt through the data directory ---------------------------------------


def test_submit_via_data_dir(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    address = add_provider(capsys, data_dir, tmp_path / "p.key")
    payload = write_payload(tmp_path / "payload.json")
    rc, out, err = run(
        capsys, "submit", payload, "--kind", "dataset", "--key-file", tmp_path / "p.key", "--data-dir", data_dir,
        "--id", "ds-1", "--visibility", "private",
    )  # fmt: skip
    assert rc == 0, err
    result = json.loads(out)
    assert result["id"] == "ds-1" and result["leaf_index"] == 2 and result["duplicate"] is False

    rc, out, err = run(
        capsys, "submit", payload, "--kind", "dataset", "--key-file", tmp_path / "p.key", "--data-dir", data_dir,
        "--parent", result["leaf_hash"].upper(), "--id", "ds-2",
    )  # fmt: skip
    assert rc == 0, err
    ledger = open_data_dir(Settings(data_dir=data_dir))
    first = ledger.store.entry_by_record_id(ledger.log.id, "ds-1")
    second = ledger.record("ds-2").envelope
    assert (first.author, first.visibility) == (address, "private")
    assert second.parents == (result["leaf_hash"],)


def test_init_deploys_the_registry_and_anchor_makes_receipts_verifiable_on_chain(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (data_dir / "chain.db").exists()  # tdsl init made the embedded chain and deployed there
    submit_dataset(capsys, data_dir, tmp_path, "ds-1")
    rc, out, err = run(capsys, "anchor", "--data-dir", data_dir)
    assert rc == 0, err
    assert out.startswith("anchored checkpoint 3 in 0x") and "final" in out
    rc, _, err = run(capsys, "receipt", "ds-1", "--data-dir", data_dir, "-o", tmp_path / "r.json")
    assert rc == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["anchor"]["status"] == "final"
    verify = ["verify", tmp_path / "r.json", "--origin", ORIGIN, "--identity", data_dir / "identity.json"]
    rc, out, err = run(capsys, *verify, "--chain-db", data_dir / "chain.db")
    assert rc == 0, err
    assert "(anchor: final)" in out
    receipt = json.loads((tmp_path / "r.json").read_text())
    receipt["anchor"]["block_number"] -= 1
    (tmp_path / "r2.json").write_text(json.dumps(receipt))
    rc, _, err = run(capsys, "verify", tmp_path / "r2.json", "--origin", ORIGIN, "--identity",
                     data_dir / "identity.json", "--chain-db", data_dir / "chain.db")  # fmt: skip
    assert rc == 1 and "anchored in block" in err
    rc, out, err = run(capsys, "anchor", "--data-dir", data_dir)  # nothing new: the same anchor
    assert rc == 0 and "anchored checkpoint 3" in out
    ledger = open_data_dir(Settings(data_dir=data_dir))
    with ledger.store.try_lock_sealer(ledger.log.id):  # a running server holds the log's sealer lock
        rc, out, err = run(capsys, "anchor", "--data-dir", data_dir)
    assert rc == 1 and "another process runs the sealer and anchorer of this log" in err and out == ""
    ledger.store.close()


def test_audit_passes_on_a_sound_log_and_fails_on_a_forged_entry(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    submit_dataset(capsys, data_dir, tmp_path, "ds-1")
    rc, out, err = run(capsys, "audit", "--data-dir", data_dir)
    assert rc == 0, err
    assert out.startswith("ok: 3 entries")
    ledger = open_data_dir(Settings(data_dir=data_dir))
    with ledger.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE entries SET envelope = ? WHERE idx = 2", (b'{"forged":true}',))
    rc, out, err = run(capsys, "audit", "--data-dir", data_dir)
    assert rc == 1 and "entry 2" in err
    assert_clean_failure(err)
    # `tdsl audit store` is the same command, the data directory given before or after it
    for argv in (("audit", "store", "--data-dir", data_dir), ("audit", "--data-dir", data_dir, "store")):
        rc, _, err2 = run(capsys, *argv)
        assert rc == 1 and err2 == err


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("nosuchkind", {"title": "x"}, "unknown record kind"),
        ("dataset", {"title": "x"}, "content_hash"),
        ("participant", {"title": "x"}, "participant"),
    ],
)
def test_submit_refused_by_admission(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, payload: Any, message: str
) -> None:
    add_provider(capsys, data_dir, tmp_path / "p.key")
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    rc, _, err = run(
        capsys, "submit", tmp_path / "payload.json", "--kind", kind, "--key-file", tmp_path / "p.key", "--data-dir", data_dir
    )
    assert rc == 1
    assert message in err
    assert_clean_failure(err)


def test_submit_by_an_unregistered_key_fails(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new_key(capsys, tmp_path / "stranger.key")
    rc, _, err = run(
        capsys, "submit", write_payload(tmp_path / "p.json"), "--kind", "dataset", "--key-file", tmp_path / "stranger.key",
        "--data-dir", data_dir,
    )  # fmt: skip
    assert rc == 1
    assert "not a registered participant" in err


@pytest.mark.parametrize("problem", ["missing payload", "bad payload json", "bad key file"])
def test_submit_bad_files_fail_cleanly(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], problem: str
) -> None:
    key = tmp_path / "p.key"
    add_provider(capsys, data_dir, key)
    payload = write_payload(tmp_path / "p.json")
    if problem == "missing payload":
        payload = tmp_path / "nope.json"
    elif problem == "bad payload json":
        payload.write_text('{"title": "x", "title": "y"}')  # duplicate keys: not strict JSON
    else:
        key.write_text("not hex\n")
    rc, _, err = run(capsys, "submit", payload, "--kind", "dataset", "--key-file", key, "--data-dir", data_dir)
    assert rc == 1
    assert_clean_failure(err)


def test_submit_url_and_data_dir_are_exclusive(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(
        capsys, "submit", "p.json", "--kind", "dataset", "--key-file", "k", "--data-dir", data_dir, "--url", "http://x"
    )
    assert rc == 2
    assert "not allowed with" in err


def test_submit_to_an_unreachable_server_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new_key(capsys, tmp_path / "p.key")
    rc, _, err = run(
        capsys, "submit", write_payload(tmp_path / "p.json"), "--kind", "dataset", "--key-file", tmp_path / "p.key",
        "--url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert rc == 1
    assert "cannot reach" in err
    assert_clean_failure(err)


def test_receipt_via_data_dir_to_stdout_and_file(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_provider(capsys, data_dir, tmp_path / "p.key")
    payload = write_payload(tmp_path / "payload.json")
    run(capsys, "submit", payload, "--kind", "dataset", "--key-file", tmp_path / "p.key", "--data-dir", data_dir, "--id", "ds-1")
    rc, out, err = run(capsys, "receipt", "ds-1", "--data-dir", data_dir)
    assert rc == 0, err
    receipt = json.loads(out)
    assert receipt["type"] == "tds-ledger/receipt@1"
    assert receipt["entry"]["id"] == "ds-1" and receipt["leaf_index"] == 2 and receipt["tree_size"] == 3
    assert receipt["payload"] == json.loads(payload.read_text()) and receipt["anchor"] is None

    rc, out, err = run(capsys, "receipt", "ds-1", "--data-dir", data_dir, "-o", tmp_path / "r.json")
    assert rc == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["entry"] == receipt["entry"]
    assert out == ""


def test_receipt_of_an_unknown_record_fails(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "receipt", "no-such-record", "--data-dir", data_dir)
    assert rc == 1
    assert "no record" in err


# -- verify ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A ledger of 7 entries and the receipt of the entry at leaf 2 (3 proof hashes).

    0: the operator's registration, 1: the provider's, 2..6: datasets (2 is the target).
    """
    tmp = tmp_path_factory.mktemp("world")
    d = tmp / "data"
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_VARS:
            mp.delenv(name, raising=False)
        mp.setenv("TDSL_OPERATOR_KEY", os.urandom(32).hex())
        assert main(["init", "--origin", ORIGIN, "--data-dir", str(d)]) == 0
        assert main(["keys", "new", "--out", str(tmp / "p.key")]) == 0
        address = address_of(read_key_file(tmp / "p.key"))
        assert main([
            "participant", "add", "--data-dir", str(d), "--address", address, "--name", "Cell supplier",
            "--legal-id", "USCC:91320500MA1W2X3Y4Z", "--roles", "provider",
        ]) == 0  # fmt: skip
        for i in range(5):
            payload = write_payload(tmp / f"payload{i}.json", title=f"dataset {i}")
            assert main([
                "submit", str(payload), "--kind", "dataset", "--key-file", str(tmp / "p.key"), "--data-dir", str(d),
                "--id", f"ds-{i}",
            ]) == 0  # fmt: skip
        assert main(["receipt", "ds-0", "--data-dir", str(d), "-o", str(tmp / "receipt.json")]) == 0
        ledger = open_data_dir(Settings(data_dir=d))
        other_leaf = ledger.store.entry_by_record_id(ledger.log.id, "ds-3").leaf_hash.hex()
    receipt = json.loads((tmp / "receipt.json").read_text())
    assert (receipt["leaf_index"], receipt["tree_size"], len(receipt["inclusion_proof"])) == (2, 7, 3)
    assert "payload" in receipt and "salt" in receipt
    yield {
        "dir": tmp, "identity": d / "identity.json", "receipt": receipt, "receipt_file": tmp / "receipt.json",
        "other_leaf": other_leaf, "id": Identity.from_file(d / "identity.json"),
    }  # fmt: skip


def verify_args(world: dict[str, Any], receipt_file: Path, *extra: str) -> list[str | Path]:
    return ["verify", receipt_file, "--origin", ORIGIN, "--identity", world["identity"], *extra]


def test_verify_a_real_receipt(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, *verify_args(world, world["receipt_file"]))
    assert rc == 0, err
    assert out.strip() == "valid: record ds-0 at leaf 2 in tree 7 (anchor: pending, unchecked: no chain access)"


def test_verify_with_explicit_identity_flags(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ident = world["id"]
    rc, out, err = run(
        capsys, "verify", world["receipt_file"], "--origin", ORIGIN, "--note-key", ident.note_key,
        "--chain-id", str(ident.chain_id), "--contract", ident.contract,
    )  # fmt: skip
    assert rc == 0, err
    assert out.startswith("valid: record ds-0")


def test_verify_without_payload_is_still_valid(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    receipt = dict(world["receipt"])
    del receipt["payload"], receipt["salt"]
    (tmp_path / "r.json").write_text(json.dumps(receipt))
    assert run(capsys, *verify_args(world, tmp_path / "r.json"))[0] == 0


def _flip_hex(text: str, at: int) -> str:
    """Change one hex digit of ``text`` at position ``at``."""
    c = text[at]
    new = "0" if c != "0" else "1"
    if c.isupper():
        new = "A" if c != "A" else "B"
    return text[:at] + new + text[at + 1 :]


def _checkpoint_line(receipt: dict[str, Any], line: int, change: Callable[[str], str]) -> None:
    lines = receipt["checkpoint"].split("\n")
    lines[line] = change(lines[line])
    receipt["checkpoint"] = "\n".join(lines)


def _b64_change(text: str, at: int) -> str:
    return text[:at] + ("B" if text[at] != "B" else "C") + text[at + 1 :]


def _set(path: str, value: Any) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def apply(r: dict[str, Any], world: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = r
        for p in parents:
            target = target[p]
        target[last] = value(target[last], world) if callable(value) else value

    return apply


FAKE_ANCHOR = {
    "chain_id": None,  # filled with the log's own chain, so only the chain check can catch it
    "contract": None,
    "tx_hash": "0x" + "11" * 32,
    "block_number": 123,
    "block_hash": "0x" + "22" * 32,
    "status": "final",
}


def _fake_anchor(r: dict[str, Any], world: dict[str, Any]) -> None:
    r["anchor"] = dict(FAKE_ANCHOR, chain_id=world["id"].chain_id, contract=world["id"].contract)


SIGNATURE = "not by the author"
PROOF = "is not in the checkpoint"
NOTE = "does not verify"
COMMITMENT = "do not match the signed commitment"

#: name -> (mutation, a fragment of the reason ``tdsl verify`` must give)
TAMPERS: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str]] = {
    "entry.v": (_set("entry.v", 2), "envelope.v"),
    "entry.log": (_set("entry.log", "other.tds-ledger.example/log"), "is for log"),
    "entry.kind": (_set("entry.kind", "participant"), SIGNATURE),
    "entry.id": (_set("entry.id", "ds-1"), SIGNATURE),
    "entry.author": (_set("entry.author", lambda v, w: w["id"].operator), SIGNATURE),
    "entry.issued_at": (_set("entry.issued_at", lambda v, w: v[:-3] + ("00Z" if v[-3:] != "00Z" else "01Z")), SIGNATURE),
    "entry.commitment": (_set("entry.commitment", lambda v, w: _flip_hex(v, 20)), SIGNATURE),
    "entry.parents-add-one": (_set("entry.parents", lambda v, w: [*v, w["other_leaf"]]), SIGNATURE),
    "entry.sig-r": (_set("entry.sig", lambda v, w: _flip_hex(v, 10)), "signature"),
    "entry.sig-s": (_set("entry.sig", lambda v, w: _flip_hex(v, 100)), "signature"),
    "entry.sig-v": (_set("entry.sig", lambda v, w: v[:-2] + ("1c" if v.endswith("1b") else "1b")), "signature"),
    "leaf_index+1": (_set("leaf_index", lambda v, w: v + 1), PROOF),
    "leaf_index-1": (_set("leaf_index", lambda v, w: v - 1), PROOF),
    "tree_size+1": (_set("tree_size", lambda v, w: v + 1), "differs from its checkpoint's size"),
    "tree_size-1": (_set("tree_size", lambda v, w: v - 1), "differs from its checkpoint's size"),
    **{
        f"inclusion_proof[{i}]": (
            _set("inclusion_proof", lambda v, w, i=i: [_flip_hex(h, 7) if j == i else h for j, h in enumerate(v)]),
            PROOF,
        )
        for i in range(3)
    },
    "inclusion_proof-drop-a-hash": (_set("inclusion_proof", lambda v, w: v[:-1]), "expected 3"),
    "inclusion_proof-add-a-hash": (_set("inclusion_proof", lambda v, w: [*v, "00" * 32]), "expected 3"),
    "inclusion_proof-swap-two-hashes": (_set("inclusion_proof", lambda v, w: [v[1], v[0], *v[2:]]), PROOF),
    "inclusion_proof-bad-hex": (_set("inclusion_proof", lambda v, w: [v[0][:-1] + "g", *v[1:]]), "inclusion_proof"),
    "checkpoint-size": (lambda r, w: _checkpoint_line(r, 1, lambda s: str(int(s) + 1)), NOTE),
    "checkpoint-root": (lambda r, w: _checkpoint_line(r, 2, lambda s: _b64_change(s, 5)), NOTE),
    "checkpoint-origin": (lambda r, w: _checkpoint_line(r, 0, lambda s: "other.tds-ledger.example/log"), NOTE),
    "checkpoint-signature": (lambda r, w: _checkpoint_line(r, 4, lambda s: _b64_change(s, len(s) - 20)), NOTE),
    "checkpoint-signature-removed": (lambda r, w: _checkpoint_line(r, 4, lambda s: ""), "signed note"),
    "payload": (_set("payload", lambda v, w: {**v, "title": v["title"] + "!"}), COMMITMENT),
    "salt": (_set("salt", lambda v, w: _flip_hex(v, 0)), COMMITMENT),
    "payload-without-salt": (lambda r, w: r.pop("salt"), "payload and salt come together"),
    "type": (_set("type", "tds-ledger/receipt@2"), "receipt type"),
    "anchor-fake": (_fake_anchor, "claims an anchor"),
    "anchor-other-chain": (
        lambda r, w: r.__setitem__("anchor", dict(FAKE_ANCHOR, chain_id=1, contract="0x" + "33" * 20)),
        "anchor is on chain 1",
    ),
    "unknown-field": (lambda r, w: r.__setitem__("note", "trust me"), "receipt keys"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_verify_rejects_a_tampered_receipt(
    name: str, world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, reason = TAMPERS[name]
    receipt = copy.deepcopy(world["receipt"])
    mutate(receipt, world)
    assert receipt != world["receipt"], "the mutation changed nothing"
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(receipt))
    rc, out, err = run(capsys, *verify_args(world, path))
    assert rc == 1, f"{name}: {out}{err}"
    assert err.startswith("invalid: "), err
    assert reason in err, f"{name}: expected a reason with {reason!r}, got {err!r}"
    assert out == ""
    assert_clean_failure(err)


def test_verify_with_an_unreachable_rpc_fails_closed(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Given chain access, the verifier reads the chain whatever the receipt claims (issue 8):
    an unreachable node makes even a receipt without an anchor claim invalid, never 'pending'."""
    rc, out, err = run(capsys, *verify_args(world, world["receipt_file"], "--rpc", "http://127.0.0.1:8545"))
    assert rc == 1 and err.startswith("invalid: ")
    assert_clean_failure(err)
    receipt = copy.deepcopy(world["receipt"])
    _fake_anchor(receipt, world)
    (tmp_path / "r.json").write_text(json.dumps(receipt))
    rc, _, err = run(capsys, *verify_args(world, tmp_path / "r.json", "--rpc", "http://127.0.0.1:8545"))
    assert rc == 1
    assert err.startswith("invalid: ")
    assert_clean_failure(err)


def test_verify_wrong_origin(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "verify", world["receipt_file"], "--origin", "other.example/log", "--identity", world["identity"])
    assert rc == 1 and err.startswith("invalid: ")
    ident = world["id"]
    rc, _, err = run(
        capsys, "verify", world["receipt_file"], "--origin", "other.example/log", "--note-key", ident.note_key,
        "--chain-id", str(ident.chain_id), "--contract", ident.contract,
    )  # fmt: skip
    assert rc == 1 and err.startswith("invalid: ")


@pytest.mark.parametrize("what", ["note key", "chain id", "contract", "note key of another origin"])
def test_verify_wrong_log_identity(what: str, world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    ident = world["id"]
    note_key, chain_id, contract = ident.note_key, ident.chain_id, ident.contract
    if what == "note key":
        note_key = NoteSigner.generate(ORIGIN).verifier_key_text
    elif what == "note key of another origin":
        note_key = NoteSigner.generate("other.example/log").verifier_key_text
    elif what == "chain id":
        chain_id = 1
    else:
        contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    rc, out, err = run(
        capsys, "verify", world["receipt_file"], "--origin", ORIGIN, "--note-key", note_key, "--chain-id", str(chain_id),
        "--contract", contract,
    )  # fmt: skip
    assert rc == 1, out
    assert err.startswith("invalid: ")


def test_verify_identity_file_of_another_log(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = dict(world["id"].to_json(), note_key=NoteSigner.generate(ORIGIN).verifier_key_text)
    (tmp_path / "identity.json").write_text(json.dumps(other))
    rc, _, err = run(capsys, "verify", world["receipt_file"], "--origin", ORIGIN, "--identity", tmp_path / "identity.json")
    assert rc == 1 and err.startswith("invalid: ")


@pytest.mark.parametrize(
    "content", [None, b"", b"not json", b"[]", b'{"type": "tds-ledger/receipt@1"}', b"\xff\xfe", b"[" * 10000]
)
def test_verify_unreadable_or_malformed_receipt_file(
    content: bytes | None, world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipt.json"
    if content is not None:
        path.write_bytes(content)
    rc, _, err = run(capsys, *verify_args(world, path))
    assert rc == 1
    assert err.startswith("invalid: ")
    assert_clean_failure(err)


def test_verify_unreadable_identity_file(world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "verify", world["receipt_file"], "--origin", ORIGIN, "--identity", tmp_path / "none.json")
    assert rc == 1 and err.startswith("invalid: ")


@pytest.mark.parametrize(
    "extra",
    [
        [],  # no identity at all
        ["--note-key", "k"],  # incomplete flags
        ["--identity", "identity.json", "--chain-id", "1"],  # both ways at once
        ["--identity", "identity.json", "--chain-id", "one"],  # not an int
    ],
)
def test_verify_usage_errors(extra: list[str], world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "verify", world["receipt_file"], "--origin", ORIGIN, *extra)
    assert rc == 2
    assert "usage:" in err or "error:" in err


def test_verify_without_origin_is_a_usage_error(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "verify", world["receipt_file"], "--identity", world["identity"])[0] == 2


# -- the installed entry point -----------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(extra)
    return env


def test_installed_entry_point(world: dict[str, Any], tmp_path: Path) -> None:
    tdsl = str(TDSL)
    done = subprocess.run([tdsl], env=_env(), capture_output=True, text=True)
    assert done.returncode == 2 and "usage: tdsl" in done.stderr
    done = subprocess.run(
        [tdsl, "init", "--origin", ORIGIN, "--data-dir", tmp_path / "data"], env=_env(), capture_output=True, text=True
    )
    assert done.returncode == 1 and "TDSL_KEYSTORE_PASSWORD" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [tdsl, "verify", world["receipt_file"], "--origin", ORIGIN, "--identity", world["identity"]],
        env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "valid: record ds-0 at leaf 2 in tree 7 (anchor: pending, unchecked: no chain access)\n"
    done = subprocess.run(
        [tdsl, "verify", tmp_path / "missing.json", "--origin", ORIGIN, "--identity", world["identity"]],
        env=_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("invalid: ") and "Traceback" not in done.stderr


@pytest.mark.slow  # three scrypt key derivations of the Ethereum keystore, ~3 s each
def test_installed_entry_point_with_a_keystore_password(tmp_path: Path) -> None:
    tdsl, d = str(TDSL), tmp_path / "data"
    env = _env(TDSL_KEYSTORE_PASSWORD="correct horse battery staple")
    done = subprocess.run([tdsl, "init", "--origin", ORIGIN, "--data-dir", d], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((d / "operator.keystore.json").stat().st_mode) == 0o600
    add = [tdsl, "participant", "add", "--data-dir", d, "--address", address_of(os.urandom(32)), "--name", "X",
           "--legal-id", "EORI:DE123456789012345", "--roles", "consumer"]  # fmt: skip
    done = subprocess.run(add, env=env, capture_output=True, text=True)  # the keystore unlocks with the password
    assert done.returncode == 0, done.stderr
    wrong = subprocess.run(add, env=_env(TDSL_KEYSTORE_PASSWORD="wrong"), capture_output=True, text=True)
    assert wrong.returncode == 1 and "cannot unlock" in wrong.stderr and "Traceback" not in wrong.stderr


# -- serve and demo: a real server process -----------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _server(argv: list[str | Path], env: dict[str, str], log_dir: Path, port: int) -> Iterator[str]:
    """Run ``tdsl <argv>`` until /v1/health answers; yield its URL; terminate it."""
    out, err = open(log_dir / "server.out", "w+"), open(log_dir / "server.err", "w+")
    proc = subprocess.Popen([str(TDSL), *map(str, argv)], env=env, stdout=out, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}: {(log_dir / 'server.err').read_text()}")
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not come up: {(log_dir / 'server.err').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
        err.close()


def test_serve_submit_receipt_verify_over_http(tmp_path: Path, operator_key: str, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "data"
    assert run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)[0] == 0
    address = add_provider(capsys, d, tmp_path / "p.key")
    rc, out, _ = run(capsys, "token", "issue", "--data-dir", d, "--address", address)
    token = out.strip()
    port = _free_port()
    # The server needs neither the operator key nor a password.
    with _server(["serve", "--data-dir", d, "--port", str(port)], _env(), tmp_path, port) as url:
        assert f"{url}/v1" in (tmp_path / "server.out").read_text()
        payload = write_payload(tmp_path / "payload.json")
        rc, out, err = run(
            capsys, "submit", payload, "--kind", "dataset", "--key-file", tmp_path / "p.key", "--url", url,
            "--token", token, "--id", "over-http",
        )  # fmt: skip
        assert rc == 0, err
        assert json.loads(out)["leaf_index"] == 2

        rc, _, err = run(capsys, "submit", payload, "--kind", "dataset", "--key-file", tmp_path / "p.key", "--url", url)
        assert rc == 1 and "401" in err  # no token

        rc, _, err = run(capsys, "receipt", "over-http", "--url", url, "--token", token, "-o", tmp_path / "r.json")
        assert rc == 0, err
        assert json.loads((tmp_path / "r.json").read_text())["payload"] == json.loads(payload.read_text())
        rc, _, err = run(capsys, "receipt", "no-such-record", "--url", url)
        assert rc == 1 and "404" in err

    rc, out, err = run(capsys, "verify", tmp_path / "r.json", "--origin", ORIGIN, "--identity", d / "identity.json")
    assert rc == 0, err
    assert out.startswith("valid: record over-http at leaf 2 in tree 3")


def test_demo_loads_once_and_serves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "data"
    port = _free_port()
    env = _env(TDSL_OPERATOR_KEY=os.urandom(32).hex(), TDSL_PUBLIC_URL=f"http://127.0.0.1:{port}")
    with _server(["demo", "--data-dir", d, "--port", str(port)], env, tmp_path, port) as url:
        shown = (tmp_path / "server.out").read_text()
        passport_uri = f"{url}/01/04012345000306/21/VP48-2026-000123"
        assert passport_uri in shown and str(d / "demo" / "passport-qr.svg") in shown
        assert (d / "demo" / "passport-qr.png").read_bytes()[:4] == b"\x89PNG"
        served = httpx.get(passport_uri, headers={"Accept": "application/vc+ld+json"}).json()
        assert served["credentialSubject"]["emissionsScorecard"]["carbonFootprint"] == 701.32
        assert f"{url}/v1" in shown and f"{url}/docs" in shown and f"curl {url}/v1/log" in shown
        assert str(d / "demo" / "battery-maker.token") in shown
        log = httpx.get(f"{url}/v1/log").json()
        # operator, 5 participants, 2 datasets, 3 footprints (cathode → cell → pack), a contract's offer,
        # request and agreement, 6 access events, the battery pack's passport
        assert log["origin"] == DEMO_ORIGIN and log["tree_size"] == 21
        regulator = {"Authorization": f"Bearer {(d / 'demo' / 'regulator.token').read_text().strip()}"}
        found = httpx.get(f"{url}/v1/violations", headers=regulator).json()["items"]
        assert [(v["event"]["action"], v["verdict"]["rule"], v["verdict"]["value"], v["verdict"]["late"]) for v in found] == [
            ("read", "permission[0]", "marketing", False), ("read", "permission[0]", "US", False),
            ("read", "permission[0]", "5", False), ("distribute", "prohibition[0]", None, True)]
        contract = httpx.get(f"{url}/v1/contracts/{demo_contracts.AGREEMENT}", headers=regulator).json()
        assert [e["verdict"]["status"] for e in contract["events"]].count("permitted") == 2
        assert contract["duties"][0]["status"] in ("open", "overdue")  # delete by 2027-01-31
        assert httpx.get(f"{url}/v1/violations").json()["items"] == []  # anonymous: none
        pack = FOOTPRINTS[-1].pf_id
        assert f"tdsl lineage {pack}" in shown
        graph = httpx.get(f"{url}/v1/records/{pack}/lineage").json()
        assert [n["visible"] for n in graph["nodes"]] == [True, False, False]  # the suppliers' are private
        pack_payload = httpx.get(f"{url}/v1/records/{pack}").json()["payload"]
        assert pack_payload["pcf"]["pcfExcludingBiogenicUptake"] == "701.32"  # 85 + 96 × (1.10 + 0.35 × 15.20)
        assert httpx.get(f"{url}/docs").status_code == 200
        token = (d / "demo" / "cell-supplier.token").read_text().strip()
        deadline = time.monotonic() + 20
        while True:  # the server anchors its checkpoints on its own (embedded chain)
            rc, _, err = run(capsys, "receipt", DATASETS[0].record_id, "--url", url, "--token", token,
                             "-o", tmp_path / "r.json")  # fmt: skip
            assert rc == 0, err
            if json.loads((tmp_path / "r.json").read_text())["anchor"] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    for p in PARTICIPANTS:
        for suffix in (".key", ".token"):
            assert stat.S_IMODE((d / "demo" / f"{p.name}{suffix}").stat().st_mode) == 0o600
    verify = ["verify", tmp_path / "r.json", "--origin", DEMO_ORIGIN, "--identity", d / "identity.json"]
    rc, out, err = run(capsys, *verify, "--chain-db", d / "chain.db")
    assert rc == 0, err
    assert "(anchor: final)" in out
    rc, out, err = run(capsys, *verify)  # a claimed anchor cannot pass unchecked
    assert rc == 1 and "no chain access" in err

    # Loading again changes nothing, and needs no operator key.
    keys = {p.name: (d / "demo" / f"{p.name}.key").read_text() for p in PARTICIPANTS}
    ledger, space = load_demo(Settings(data_dir=d))
    assert not space.created and not space.changed
    assert ledger.store.tree_size(ledger.log.id) == 21
    assert ledger.audit_effects().findings == ()
    assert keys == {p.name: (d / "demo" / f"{p.name}.key").read_text() for p in PARTICIPANTS}
    assert [m.name for m in space.members] == [p.name for p in PARTICIPANTS]


def test_demo_refuses_a_ledger_it_did_not_create(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "demo", "--data-dir", data_dir, "--port", str(_free_port()))
    assert rc == 1
    assert "did not create" in err


def test_demo_without_a_secret_says_which_variable_to_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "demo", "--data-dir", tmp_path / "data", "--port", str(_free_port()))
    assert rc == 1
    assert "TDSL_KEYSTORE_PASSWORD" in err


def test_verify_imports_neither_web3_nor_the_store_without_a_chain(world: dict[str, Any]) -> None:
    """Issue 8: ``tdsl verify`` without chain access must start fast; the command's module
    is imported only when it runs, and verifying needs neither web3, py-evm nor SQLAlchemy."""
    code = (
        "import sys; from ledger.cli import main; "
        f"rc = main(['verify', {str(world['receipt_file'])!r}, '--origin', {ORIGIN!r}, '--identity', {str(world['identity'])!r}]); "
        "heavy = sorted(m for m in ('web3', 'evm', 'eth_tester', 'sqlalchemy', 'fastapi') if m in sys.modules); "
        "print(rc, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout
