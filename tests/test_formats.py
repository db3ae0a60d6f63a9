"""One place for wire formats (issue 8, item 3; ``ledger.formats``).

Every field of every format the ledger parses, fed with a trailing ``\\n``, ``\\r``,
NUL, and a non-ASCII digit (in place of an ASCII one, or appended), must be refused:
the patterns themselves, envelopes, submissions, receipts, checkpoints, tile paths,
participant records, the verifier's identity file, and the API's paths and query
parameters.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from test_api_support import make_api_env

from ledger import formats
from ledger.checkpoint import Checkpoint
from ledger.envelope import Domain, Envelope
from ledger.errors import ConfigError, InvalidRecord, MalformedCheckpoint, MalformedEnvelope, MalformedInput, MalformedReceipt, MalformedTilePath
from ledger.identity import Identity
from ledger.kinds import get_kind
from ledger.receipt import Receipt
from ledger.submission import Submission
from ledger.tiles import parse_tile_path

#: What must never pass: appended (or, for digits, in place of an ASCII digit).
SUFFIXES = ("\n", "\r", "\x00", "\u0661", "\uff11", " ")
UNICODE_DIGITS = ("\u0661", "\u0967", "\uff11", "\U0001d7cf")  # Arabic-Indic, Devanagari, fullwidth, math bold 1

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
DOMAIN = Domain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
ORIGIN = "formats.tds-ledger.example/log"


def spoiled(value: str) -> list[str]:
    """``value`` with each bad suffix, and with its first ASCII digit replaced by each non-ASCII digit."""
    out = [value + s for s in SUFFIXES]
    digit = re.search(r"[0-9]", value)
    if digit is not None:
        i = digit.start()
        out += [value[:i] + d + value[i + 1 :] for d in UNICODE_DIGITS]
    return out


VALID = {
    "HEX32": "ab" * 32,
    "TX_HASH": "0x" + "cd" * 32,
    "ADDRESS": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "SIGNATURE": "0x" + "ef" * 65,
    "COMMITMENT": "sha256:" + "01" * 32,
    "ORIGIN": "example.com/log",
    "KIND": "pcf",
    "RECORD_ID": "urn:uuid:4a1c0f1e-0b2e-4f8e-9e2a-5c0f3a2b1c4d",
    "ISSUED_AT": "2026-12-02T10:11:12.5Z",
    "DATE": "2026-12-02",
    "TILE_PATH": "tile/0/x001/234.p/9",
    "CHECKPOINT_SIZE": "12345",
    "BASE64": "q83vASNFZ4k=",
    "HEX8": "0a1b2c3d",
    "DECIMAL_COUNT": "1024",
}


#: Patterns that are searched for, not field formats.
SEARCHED = {"CONTROL_CHARACTER"}


def test_every_pattern_is_listed_with_a_valid_example():
    patterns = {name for name in formats.__all__ if isinstance(getattr(formats, name), re.Pattern)}
    assert patterns - SEARCHED == set(VALID)


def test_control_characters_are_c0_and_del_only():
    found = {chr(c) for c in range(0x100) if formats.CONTROL_CHARACTER.search(f"a{chr(c)}b")}
    assert found == {chr(c) for c in range(0x20)} | {"\x7f"}


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_pattern_matches_whole_ascii_values_only(name):
    pattern = getattr(formats, name)
    assert formats.matches(pattern, VALID[name])
    assert not pattern.pattern.startswith("^") and "\\d" not in pattern.pattern and "\\w" not in pattern.pattern
    for bad in spoiled(VALID[name]) + ["\n" + VALID[name], "\u200b" + VALID[name]]:
        assert not formats.matches(pattern, bad), (name, bad)
    assert not formats.matches(pattern, VALID[name].encode())  # bytes are not str


# -- envelopes and submissions ----------------------------------------------------------


def _submission() -> Submission:
    return Submission.sign(origin=ORIGIN, domain=DOMAIN, private_key=KEY, kind="dataset",
                           payload={"title": "t", "content_hash": "sha256:" + "ab" * 32},
                           parents=("12" * 32,), record_id="rec-1")  # fmt: skip


ENVELOPE_STRINGS = ("log", "kind", "id", "author", "issued_at", "commitment", "sig")


@pytest.mark.parametrize("field", [*ENVELOPE_STRINGS, "parents[0]"])
def test_every_envelope_field_refuses_spoiled_values(field):
    good = _submission().envelope.to_json()
    Envelope.from_json(good)
    value = good["parents"][0] if field == "parents[0]" else good[field]
    for bad in spoiled(value):
        env = dict(good)
        if field == "parents[0]":
            env["parents"] = [bad]
        else:
            env[field] = bad
        with pytest.raises(MalformedEnvelope):
            Envelope.from_json(env)


def test_a_submission_salt_refuses_spoiled_values():
    good = _submission().to_json()
    Submission.from_json(good)
    for bad in spoiled(good["salt"]):
        with pytest.raises(MalformedEnvelope):
            Submission.from_json(good | {"salt": bad})


# -- receipts ----------------------------------------------------------------------------


def _receipt_json() -> dict:
    sub = _submission()
    return {
        "type": "tds-ledger/receipt@1", "entry": sub.envelope.to_json(), "leaf_index": 3, "tree_size": 4,
        "inclusion_proof": ["aa" * 32, "bb" * 32], "checkpoint": f"{ORIGIN}\n4\n{'A' * 43}=\n",
        "anchor": {"chain_id": 31337, "contract": DOMAIN.verifying_contract, "tx_hash": "0x" + "cc" * 32,
                   "block_number": 7, "block_hash": "0x" + "dd" * 32, "status": "final"},
        "payload": sub.payload, "salt": sub.salt.hex(),
    }  # fmt: skip


@pytest.mark.parametrize("path", ["salt", "inclusion_proof.0", "anchor.contract", "anchor.tx_hash", "anchor.block_hash",
                                  "anchor.status", *(f"entry.{f}" for f in ENVELOPE_STRINGS)])  # fmt: skip
def test_every_receipt_field_refuses_spoiled_values(path):
    good = _receipt_json()
    Receipt.from_json(good)
    *parents, last = path.split(".")
    for bad in spoiled(_get(good, path)):
        doc = json.loads(json.dumps(good))
        holder = doc
        for p in parents:
            holder = holder[p]
        holder[int(last) if last.isdigit() else last] = bad
        with pytest.raises(MalformedReceipt):
            Receipt.from_json(doc)


def _get(doc: dict, path: str):
    for p in path.split("."):
        doc = doc[int(p) if p.isdigit() else p]
    return doc


def test_every_checkpoint_line_refuses_spoiled_values():
    root = "q" * 42 + "o="  # 32 bytes
    text = f"{ORIGIN}\n12345\n{root}\n"
    assert Checkpoint.from_text(text).tree_size == 12345
    lines = [ORIGIN, "12345", root]
    for i, line in enumerate(lines):
        for bad in spoiled(line):
            spoilt = "\n".join(lines[:i] + [bad] + lines[i + 1 :]) + "\n"
            if i == 0 and bad[-1] not in "\n\r\x00":
                # C2SP lets an origin be any non-empty line without control characters, so
                # the parser (which also reads other logs' checkpoints) keeps it; what refuses
                # it is the verifier's comparison with the log's origin, exact to the byte.
                assert Checkpoint.from_text(spoilt).origin != ORIGIN
                continue
            with pytest.raises(MalformedCheckpoint):
                Checkpoint.from_text(spoilt)


# -- tile paths, participants, identity ---------------------------------------------------


@pytest.mark.parametrize("path", ["tile/0/000", "tile/1/x001/234", "tile/0/x001/234.p/9", "tile/entries/000.p/255"])
def test_tile_paths_refuse_spoiled_values(path):
    parse_tile_path(path)
    for bad in spoiled(path):
        with pytest.raises(MalformedTilePath):
            parse_tile_path(bad)


def test_a_participant_address_refuses_spoiled_values():
    kind = get_kind("participant")
    good = {"address": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "name": "Cell supplier",
            "legal_id": {"scheme": "LEI", "value": "5493001KJTIIGC8Y1R12"}, "roles": ["provider"]}  # fmt: skip
    kind.parse(good)
    for bad in spoiled(good["address"]):
        with pytest.raises(InvalidRecord):
            kind.parse(good | {"address": bad})


def _identity(tmp_path: Path, **changes) -> Path:
    doc = {"origin": ORIGIN, "chain_id": 31337, "contract": DOMAIN.verifying_contract,
           "note_key": f"{ORIGIN}+0a1b2c3d+AW" + "A" * 42 + "=", "operator": DOMAIN.verifying_contract} | changes  # fmt: skip
    path = tmp_path / "identity.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_identity_file_refuses_spoiled_values(tmp_path):
    Identity.from_file(_identity(tmp_path))
    for field, value in (("origin", ORIGIN), ("contract", DOMAIN.verifying_contract),
                         ("operator", DOMAIN.verifying_contract)):  # fmt: skip
        for bad in spoiled(value):
            with pytest.raises(ConfigError):
                Identity.from_file(_identity(tmp_path, **{field: bad}))
    for bad in ["31337", "31337\n", "\u0663\u0661\u0663\u0663\u0667", 1.5, True, -1]:
        with pytest.raises(ConfigError):
            Identity.from_file(_identity(tmp_path, chain_id=bad))


# -- the API: paths and query parameters ---------------------------------------------------


def test_api_paths_and_query_parameters_refuse_spoiled_values(tmp_path):
    with make_api_env(tmp_path / "data") as env:
        c = env.client
        sub = env.submission(env.alice, record_id="rec-1")
        assert env.submit(env.alice, sub).status_code == 201
        assert c.get("/v1/records/rec-1").status_code == 200
        for bad in spoiled("rec-1"):
            r = c.get(f"/v1/records/{quote(bad)}")
            assert r.status_code in (400, 404), (bad, r.status_code)
        for path in ("/v1/log", "/v1/records"):
            for suffix in ("%0A", "%0D", "%00"):
                assert c.get(path + suffix).status_code in (400, 404), path + suffix
        queries = {"author": env.alice.address, "kind": "dataset", "since": "2026-01-01", "until": "2026-12-31",
                   "start": "0", "limit": "10", "dataset": "rec-1"}  # fmt: skip
        assert c.get("/v1/records", params=queries).status_code == 200
        for name, value in queries.items():
            for bad in spoiled(value):
                r = c.get("/v1/records", params=queries | {name: bad})
                assert r.status_code == 400, (name, bad, r.status_code, r.text[:200])
                assert r.headers["content-type"].startswith("application/problem+json")
        for bad in spoiled("1"):
            assert c.get(f"/v1/tlog/tile/0/00{quote(bad)}").status_code in (400, 404)


def test_content_length_must_be_ascii_digits():
    for bad in spoiled("1024"):
        assert not formats.matches(formats.DECIMAL_COUNT, bad)


def test_no_module_keeps_its_own_copy_of_a_wire_pattern():
    """Every pattern of ``ledger.formats`` lives there only: no other module of ``ledger/``
    or ``api/`` spells one out again as a string literal, bare or anchored (``^…$``, as
    JSON Schema and pydantic take them); they call ``formats.anchored`` instead."""
    root = Path(__file__).resolve().parents[1]
    patterns = {name: getattr(formats, name).pattern for name in formats.__all__
                if isinstance(getattr(formats, name), re.Pattern)}  # fmt: skip
    assert "CONTROL_CHARACTER" in patterns  # searched patterns count too
    assert {"HEX32", "ADDRESS", "KIND", "RECORD_ID", "COMMITMENT", "SIGNATURE", "TILE_PATH"} <= set(patterns)
    copies = []
    for py in [*(root / "ledger").rglob("*.py"), *(root / "api").rglob("*.py")]:
        if py == root / "ledger" / "formats.py":
            continue
        text = py.read_text()
        for name, pattern in patterns.items():
            for spelled in (pattern, f"^{pattern}$", f"^(?:{pattern})$"):
                if f'"{spelled}"' in text or f"'{spelled}'" in text:
                    copies.append(f"{py.relative_to(root)}: {name} as {spelled!r}")
    assert copies == []


def test_anchored_patterns_mean_to_pydantic_what_fullmatch_means():
    """``formats.anchored`` is what pydantic models and FastAPI parameters check with."""
    from pydantic import BaseModel, Field, ValidationError

    for name in ("HEX32", "ADDRESS", "KIND", "RECORD_ID", "COMMITMENT", "SIGNATURE"):
        pattern = getattr(formats, name)
        model = type(name, (BaseModel,), {"__annotations__": {"v": str}, "v": Field(pattern=formats.anchored(pattern))})
        good = {"HEX32": "ab" * 32, "ADDRESS": "0x" + "Ab" * 20, "KIND": "pcf", "RECORD_ID": "ds-1",
                "COMMITMENT": "sha256:" + "0" * 64, "SIGNATURE": "0x" + "1" * 130}[name]  # fmt: skip
        assert model(v=good).v == good and formats.matches(pattern, good)
        for bad in (good + "!", "!" + good, good + "\n", "\n" + good, good + "\n" + good, good[:-1] + "\u0663"):
            assert not formats.matches(pattern, bad), (name, bad)
            with pytest.raises(ValidationError):
                model(v=bad)


def test_envelope_dataclass_refuses_spoiled_values_too():
    """The checks run in ``__post_init__``: an ``Envelope`` built in code is held to them as well."""
    env = _submission().envelope
    for bad in spoiled(env.author):
        with pytest.raises(MalformedInput):
            replace(env, author=bad)
