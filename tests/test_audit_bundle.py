"""The regulator's audit bundle (issue 11, DESIGN §11): export, verify, the tamper matrix.

One demo data space (every kind: participants, datasets, a contract with violating
events, footprints with a roll-up, a passport) on its embedded chain, anchored twice with
more events between, so that a bundle can start at leaf 0 or at a non-empty frontier.
Each tamper edits a real bundle the way an operator would, recomputes the trailer's
digest (so only the semantic checks can catch it) and must be caught naming what broke.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.bundle import MalformedBundle, Scope, open_bundle
from ledger.bundle_export import NotYetAnchored, export_bundle
from ledger.bundle_report import BundleReport, Severity
from ledger.bundle_verify import BundleFailed, VerifierIdentity, verify_bundle
from ledger.canonical import canonicalize
from ledger.chain.access import anchor_reader, open_chain
from ledger.chain.artifact import log_id
from ledger.chain.embedded_file import ChainFileAnchorReader
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cli import main
from ledger.cli_commands import seal_and_anchor
from ledger.config import Settings
from ledger.datadir import load_operator_key, signed_submission
from ledger.demo import load_demo, read_key_file
from ledger.demo_contracts import AGREEMENT, CONSUMER, DATASET
from ledger.identity import Identity

pytestmark = pytest.mark.xdist_group("audit_bundle")
ROOT = Path(__file__).resolve().parents[1]
TDSL = ROOT / ".venv" / "bin" / "tdsl"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class World:
    data_dir: Path
    settings: Settings
    ledger: object
    identity: VerifierIdentity
    identity_file: Path
    chain_db: Path
    first: int  # tree size of the first anchor
    end: int  # tree size of the second
    between: datetime  # a time after the first anchor's block and before the second's
    until: datetime  # a time covered by the second anchor
    bundle: bytes  # the whole log, no filter
    late_bundle: bytes  # from the first anchor on, with context proofs: a non-empty frontier
    other_anchor: tuple[int, str]  # (block, hash) of another log's anchor on the same chain


def _extra_event(ledger, key: bytes, addresses: dict[str, str], n: int):
    body = {"agreement": AGREEMENT, "actor": addresses[CONSUMER], "action": "read", "dataset": DATASET,
            "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "purpose": "battery-passport", "spatial": "DE",
            "transfer_process_id": f"extra-transfer-{n}"}  # fmt: skip
    operator = ledger.viewer_for(ledger.log.operator)
    parent = ledger.record(AGREEMENT, operator).entry.leaf_hash.hex()
    return signed_submission(ledger, key, kind="access_event", payload=body, parents=(parent,), record_id=f"extra-{n}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    d = tmp_path_factory.mktemp("audit") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TDSL_OPERATOR_KEY", os.urandom(32).hex())
        s = Settings(data_dir=d)
        ledger, space = load_demo(s)
        ident = Identity.from_file(d / "identity.json")
        seal_and_anchor(s, ledger)
        first = ledger.store.tree_size(ledger.log.id)
        # The period's points are the anchors' block times (the chain's clock, whole seconds).
        between = _anchor_time(d, ident, ledger, first)
        key = read_key_file(d / "demo" / f"{CONSUMER}.key")
        addresses = {m.name: m.address for m in space.members}
        ledger.submit([_extra_event(ledger, key, addresses, n) for n in range(3)])
        seal_and_anchor(s, ledger)
        end = ledger.store.tree_size(ledger.log.id)
        until = _anchor_time(d, ident, ledger, end)
        assert until > between
        other = _anchor_another_log(s, ledger)
        identity = VerifierIdentity(ident.origin, ident.chain_id, ident.contract, ident.note_key, ident.operator)
        reader = anchor_reader(s, chain_id=ident.chain_id, contract=ident.contract)
        whole, late = io.BytesIO(), io.BytesIO()
        export_bundle(ledger, reader, whole, since=SINCE, until=until)
        export_bundle(ledger, reader, late, since=between, until=until, context_proofs=True)
        return World(d, s, ledger, identity, d / "identity.json", d / "chain.db", first, end, between, until,
                     whole.getvalue(), late.getvalue(), other)  # fmt: skip


def _anchor_time(d: Path, ident: Identity, ledger, size: int) -> datetime:
    root = ledger.store.checkpoint_at(ledger.log.id, size).root_hash
    found = ChainFileAnchorReader(d / "chain.db", ident.chain_id, ident.contract).find_head(ident.origin, size, root)
    return datetime.fromtimestamp(found.timestamp, UTC)


def _anchor_another_log(s: Settings, ledger) -> tuple[int, str]:
    """Another log on the same registry, anchored at the same tree size: its anchor block."""
    chain = open_chain(s, chain_id=ledger.log.chain_id, contract=ledger.log.contract, operator_key=load_operator_key(s))
    try:
        other = log_id("another.example/log")
        chain.registry.create_log(chain.account, other)
        size = ledger.store.tree_size(ledger.log.id)
        tx = chain.registry.anchor(chain.account, other, size, hashlib.sha256(b"another tree").digest(), [])
        return tx.block_number, "0x" + bytes(tx.block_hash).hex()
    finally:
        chain.close()


def check(w: World, data: bytes, **kw) -> BundleReport:
    reader = ChainFileAnchorReader(w.chain_db, w.identity.chain_id, w.identity.contract)
    return verify_bundle(open_bundle(io.BufferedReader(io.BytesIO(data))), identity=w.identity, reader=reader, jobs=1, **kw)


# -- editing a bundle as an attacker would -----------------------------------------------------


def lines_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode().splitlines()]


def rebuild(lines: list[dict]) -> bytes:
    """The bundle of these lines, the trailer's count and digest recomputed for them."""
    body = b"".join(canonicalize(line) + b"\n" for line in lines if "trailer" not in line)
    trailer = {"trailer": "tds-ledger/audit-bundle@1", "lines": body.count(b"\n"), "sha256": hashlib.sha256(body).hexdigest()}
    return body + canonicalize(trailer) + b"\n"


def entries(lines: list[dict]) -> list[dict]:
    return [line for line in lines if "leaf" in line]


def entry_of(lines: list[dict], record_id: str) -> dict:
    return next(line for line in entries(lines) if json.loads(line["envelope"])["id"] == record_id)


def failing(report: BundleReport, check_name: str) -> list:
    return [f for f in report.findings if f.check == check_name and f.severity != Severity.NOTICE]


# -- the genuine bundle ----------------------------------------------------------------------


def test_the_genuine_bundle_verifies_and_flags_the_demo_violations(world: World) -> None:
    report = check(world, world.bundle)
    assert report.start.tree_size == 0 and report.end.tree_size == world.end
    assert report.entries == world.end and report.in_scope == world.end
    assert report.start.final and report.end.final
    assert not [f for f in report.findings if f.severity == Severity.FAILURE], report.findings
    violations = sorted(f.record_id for f in report.findings if f.severity == Severity.VIOLATION)
    # the demo's four, and the extra events past the agreement's count limit of 4 uses
    assert violations == sorted(["demo-access-e2", "demo-access-e3", "demo-access-e5", "demo-access-e6",
                                 "extra-0", "extra-1", "extra-2"]), violations  # fmt: skip
    assert {f.record_id for f in report.findings if f.check == "late"} == {"demo-access-e6"}
    assert not report.clean
    kinds = {k.kind: k for k in report.kinds}
    assert kinds["access_event"].entries == 9 and kinds["access_event"].violations == 7
    assert kinds["pcf"].recomputed == kinds["pcf"].entries > 0
    assert kinds["passport"].recomputed == 1
    assert not failing(report, "state"), "the ledger's derived states are the recomputed ones"


def test_a_bundle_with_context_proofs_starts_at_a_frontier(world: World) -> None:
    report = check(world, world.late_bundle)
    assert report.start.tree_size == world.first and report.end.tree_size == world.end
    assert report.context > 0, "the agreement and its earlier events come as context with inclusion proofs"
    assert not [f for f in report.findings if f.severity == Severity.FAILURE], report.findings
    assert sorted(f.record_id for f in report.findings if f.severity == Severity.VIOLATION) == ["extra-0", "extra-1", "extra-2"]
    assert any("frontier" in c for c in report.checks)
    [notice] = [f for f in report.findings if f.check == "context"]
    assert notice.severity == Severity.NOTICE and "rest on the ledger" in notice.message


def test_by_default_the_range_reaches_back_to_prove_the_history(world: World) -> None:
    """The period starts at the first anchor, but its events' agreement and the events
    before them are at leaves 12..20: the range starts at 0 and no record comes as context."""
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    out = io.BytesIO()
    summary = export_bundle(world.ledger, reader, out, since=world.between, until=world.until)
    assert (summary.start, summary.context, summary.in_scope) == (0, 0, world.end - world.first)
    report = check(world, out.getvalue())
    assert report.start.tree_size == 0 and report.context == 0 and report.in_scope == world.end - world.first
    assert not [f for f in report.findings if f.severity == Severity.FAILURE], report.findings
    # only the period's own events are judged; the earlier ones are carried as history
    assert sorted(f.record_id for f in report.findings if f.severity == Severity.VIOLATION) == ["extra-0", "extra-1", "extra-2"]
    assert any(f"from leaf {world.first}" in c for c in report.checks), report.checks
    # an earlier event under the agreement withheld: the count cannot be trusted, and it says so
    lines = lines_of(out.getvalue())
    e1 = entry_of(lines, "demo-access-e1")
    for k in ("payload", "salt", "state"):
        e1.pop(k, None)
    report = check(world, rebuild(lines))
    [f] = failing(report, "withheld")
    assert f.record_id == "demo-access-e1" and "changes the state of contract_agreement" in f.message


def test_export_is_deterministic_and_gzip_reads_the_same(world: World) -> None:
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    again = io.BytesIO()
    export_bundle(world.ledger, reader, again, since=SINCE, until=world.until)
    assert again.getvalue() == world.bundle
    assert check(world, gzip.compress(world.bundle)).findings == check(world, world.bundle).findings


def test_a_period_not_yet_anchored_or_backwards_is_refused(world: World) -> None:
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    with pytest.raises(NotYetAnchored, match="future"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=SINCE, until=datetime.now(UTC) + timedelta(hours=1))
    later = world.until + timedelta(seconds=1)  # after the last anchor's block, and (as now= says) past
    with pytest.raises(NotYetAnchored, match="no final anchored checkpoint covers"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=SINCE, until=later, now=later + timedelta(seconds=1))
    with pytest.raises(ValueError, match="after until"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=world.until, until=SINCE)


def test_scopes_carry_what_they_select_and_what_it_depends_on(world: World) -> None:
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    consumer = next(m for m in load_demo(world.settings)[1].members if m.name == CONSUMER).address
    scopes = (Scope(kind="access_event"), Scope(participant=consumer), Scope(agreement=AGREEMENT),
              Scope(product="urn:gtin:04012345000306"))  # fmt: skip
    for since, scope in [(since, scope) for since in (SINCE, world.between) for scope in scopes]:
        out = io.BytesIO()
        export_bundle(world.ledger, reader, out, since=since, until=world.until, scope=scope)
        report = check(world, out.getvalue())
        assert not [f for f in report.findings if f.severity == Severity.FAILURE], (scope, report.findings)
        violations = sorted(f.record_id for f in report.findings if f.severity == Severity.VIOLATION)
        if scope.product is None:
            assert len(violations) == (7 if since == SINCE else 3), (since, scope, violations)
        else:
            assert violations == [], scope
        lines = lines_of(out.getvalue())
        kinds = {json.loads(line["envelope"])["kind"] for line in entries(lines) if "payload" in line}
        if since == SINCE:
            assert report.in_scope < report.entries, scope
        if scope.kind == "access_event" and since == SINCE:  # the agreement they are judged under comes with them
            assert kinds == {"access_event", "contract_agreement", "contract_offer", "contract_request", "dataset"}, kinds
        if scope.product is not None and since == SINCE:
            assert {"pcf", "passport"} <= kinds and "access_event" not in kinds, kinds
        if since != SINCE and scope.product is None:  # the agreement and its earlier events, in the range
            history = [json.loads(line["envelope"])["id"] for line in entries(lines) if "payload" in line]
            assert lines[0]["start"] == 0 and lines[0]["context"] == 0, scope
            assert AGREEMENT in history and "demo-access-e1" in history, (scope, history)


# -- the tamper matrix (docs/security.md) ---------------------------------------------------


def test_an_entry_dropped_from_the_middle_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    middle = entries(lines)[world.end // 2]
    lines.remove(middle)
    with pytest.raises(MalformedBundle, match=f"expected entry {middle['leaf']}, found entry {middle['leaf'] + 1}"):
        check(world, rebuild(lines))
    # renumbered and another entry repeated at the end to keep the count: the range breaks
    for line in entries(lines):
        if line["leaf"] > middle["leaf"]:
            line["leaf"] -= 1
    lines.insert(len(lines) - 1, dict(entries(lines)[-1], leaf=world.end - 1))
    report = check(world, rebuild(lines))
    assert failing(report, "range"), report.findings


def test_two_entries_swapped_are_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    a, b = entries(lines)[3], entries(lines)[4]
    a["envelope"], b["envelope"] = b["envelope"], a["envelope"]
    for k in ("payload", "salt", "state"):
        a[k], b[k] = b.get(k), a.get(k)
        for line in (a, b):
            if line[k] is None:
                del line[k]
    report = check(world, rebuild(lines))
    assert failing(report, "range")
    assert "do not lead to the end checkpoint's root" in failing(report, "range")[-1].message


def test_an_entry_added_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    extra = dict(entries(lines)[5])
    at = lines.index(entries(lines)[6])
    lines.insert(at, extra)
    with pytest.raises(MalformedBundle, match="expected entry 6, found entry 5"):
        check(world, rebuild(lines))
    for line in entries(lines)[6:]:
        line["leaf"] += 1
    with pytest.raises(MalformedBundle, match="expected the trailer"):
        check(world, rebuild(lines))


def test_a_payload_edited_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    e = entry_of(lines, "demo-access-e2")
    e["payload"] = e["payload"].replace("marketing", "battery-passport")
    report = check(world, rebuild(lines))
    [f] = failing(report, "commitment")
    assert f.record_id == "demo-access-e2" and f.expected != f.found


def test_a_verdict_flipped_to_permitted_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    e = entry_of(lines, "demo-access-e3")
    assert e["state"]["status"] == "violation"
    e["state"] = {"status": "permitted", "reason": "permission[0] permits read", "by": None,
                  "facts": {"count": "3", "late": "false"}}  # fmt: skip
    report = check(world, rebuild(lines))
    [f] = failing(report, "state")
    assert f.record_id == "demo-access-e3" and f.found.startswith("permitted") and f.expected.startswith("violation")
    assert "demo-access-e3" in {x.record_id for x in report.findings if x.severity == Severity.VIOLATION}


def test_a_rollup_edited_with_its_declared_value_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    pcfs = [line for line in entries(lines) if json.loads(line["envelope"])["kind"] == "pcf"]
    pack = pcfs[-1]  # the pack: rolled up from its cells
    payload = json.loads(pack["payload"])
    declared = payload["pcf"]["pcfExcludingBiogenicUptake"]
    lineage = next(x for x in payload["extensions"] if x["dataSchema"].endswith("/lineage/v1"))
    lower = str(float(declared) - 1)
    payload["pcf"]["pcfExcludingBiogenicUptake"] = lower
    own = lineage["data"]["own"]
    own["pcfExcludingBiogenicUptake"] = str(float(own["pcfExcludingBiogenicUptake"]) - 1)
    pack["payload"] = canonicalize(payload).decode()
    report = check(world, rebuild(lines))
    [f] = failing(report, "commitment")
    assert f.record_id == json.loads(pack["envelope"])["id"]


def test_the_frontier_replaced_is_caught(world: World) -> None:
    lines = lines_of(world.late_bundle)
    lines[0]["frontier"] = [hashlib.sha256(b"x%d" % i).hexdigest() for i in range(len(lines[0]["frontier"]))]
    report = check(world, rebuild(lines))
    [f] = failing(report, "frontier")
    assert "does not hash to the start checkpoint's root" in f.message


def test_an_unanchored_fork_checkpoint_as_the_end_is_caught(world: World) -> None:
    """A validly signed checkpoint (the log's own note key) of a forked tree never anchored."""
    lines = lines_of(world.bundle)
    leaves = [merkle.leaf_hash(line["envelope"].encode()) for line in entries(lines)]
    leaves[-1] = merkle.leaf_hash(b"a forked last entry")
    fork_root = merkle.root_hash(leaves)
    note = sign_checkpoint(Checkpoint(world.identity.origin, world.end, fork_root), world.ledger.note_signer)
    lines[-2 - world.end]["checkpoint"] = note  # the end head line: just before the entries
    assert lines[-2 - world.end]["head"] == world.end
    report = check(world, rebuild(lines))
    [f] = failing(report, "anchor")
    assert "the chain anchors root" in f.message and fork_root.hex() in f.message


def test_anchor_claims_swapped_to_another_logs_anchor_are_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    head = next(line for line in lines if line.get("head") == world.end)
    block, block_hash = world.other_anchor
    head["anchor"] = {"block_number": block, "block_hash": block_hash}
    report = check(world, rebuild(lines))
    [f] = failing(report, "anchor")
    assert "anchored elsewhere than the bundle says" in f.message and str(block) in f.expected


def test_an_issued_at_rewritten_into_the_past_is_caught(world: World) -> None:
    lines = lines_of(world.bundle)
    e = entry_of(lines, "extra-1")
    env = json.loads(e["envelope"])
    env["issued_at"] = "2026-01-02T00:00:00Z"
    e["envelope"] = canonicalize(env).decode()
    report = check(world, rebuild(lines))
    assert failing(report, "range")
    [sig] = failing(report, "signature")
    assert sig.record_id == "extra-1"


def test_a_record_in_scope_made_to_look_out_of_scope_is_caught(world: World) -> None:
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    consumer = next(m for m in load_demo(world.settings)[1].members if m.name == CONSUMER).address
    out = io.BytesIO()
    export_bundle(world.ledger, reader, out, since=world.between, until=world.until, scope=Scope(participant=consumer))
    lines = lines_of(out.getvalue())
    e = entry_of(lines, "extra-2")
    env = json.loads(e["envelope"])
    env["author"] = "0x" + "11" * 20
    e["envelope"] = canonicalize(env).decode()
    for k in ("payload", "salt", "state"):
        e.pop(k)
    report = check(world, rebuild(lines))
    assert failing(report, "range") and failing(report, "signature")
    # and withholding the payload alone, envelope untouched, is a named failure too
    lines = lines_of(out.getvalue())
    e = entry_of(lines, "extra-2")
    for k in ("payload", "salt", "state"):
        e.pop(k)
    report = check(world, rebuild(lines))
    [f] = failing(report, "scope")
    assert f.record_id == "extra-2" and "withheld" in f.message


def test_an_edit_without_recomputing_the_digest_is_caught_by_the_trailer(world: World) -> None:
    data = world.bundle.replace(b'"marketing', b'"marketinG', 1)
    with pytest.raises(MalformedBundle, match="altered or damaged after export"):
        check(world, data)


def _harmless(original: bytes, flipped: bytes) -> bool:
    """A flip the verifier may accept: the report's claims stay true. Only the header's
    period and scope (the report states them as found, and the range still covers that
    period) and the case of the contract's hex letters (EIP-55 checksum case) qualify."""
    a, b = lines_of(original), lines_of(flipped)
    if a[1:] != b[1:]:
        return False
    ha, hb = dict(a[0]), dict(b[0])
    if ha["contract"].lower() == hb["contract"].lower():
        ha["contract"] = hb["contract"]
    for k in ("period", "scope"):
        ha.pop(k), hb.pop(k)
    return ha == hb


@settings(max_examples=int(os.environ.get("TDSL_BUNDLE_FLIPS", "60")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_random_byte_flips_are_caught_or_harmless(world: World, data: st.DataObject) -> None:
    bundle = world.late_bundle
    body_end = bundle.rindex(b"\n", 0, len(bundle) - 1) + 1  # the trailer is recomputed: flip the lines before it
    at = data.draw(st.integers(0, body_end - 1), label="offset")
    bit = data.draw(st.integers(0, 7), label="bit")
    flipped = bytearray(bundle[:body_end])
    flipped[at] ^= 1 << bit
    body = bytes(flipped)
    if data.draw(st.booleans(), label="recompute the digest"):
        trailer = {"trailer": "tds-ledger/audit-bundle@1", "lines": body.count(b"\n"),
                   "sha256": hashlib.sha256(body).hexdigest()}  # fmt: skip
        tampered = body + canonicalize(trailer) + b"\n"
    else:
        tampered = body + bundle[body_end:]
    try:
        report = check(world, tampered)
    except (MalformedBundle, BundleFailed):
        return  # caught: not a bundle of this log, or not well-formed
    baseline = check(world, bundle)
    caught = [f for f in report.findings if f not in baseline.findings and f.severity != Severity.NOTICE]
    if not caught:
        assert _harmless(bundle, tampered), f"flip at byte {at} bit {bit} went unnoticed"


# -- bad input, the CLI, independence --------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _verify_args(w: World, path: Path, tmp: Path) -> list:
    return ["audit", "verify", path, "--identity", w.identity_file, "--chain-db", w.chain_db,
            "--json-report", tmp / "r.json", "--html-report", tmp / "r.html", "--jobs", "1"]  # fmt: skip


def test_cli_verify_writes_both_reports_and_exits_1_on_violations(world: World, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = tmp_path / "b.jsonl"
    path.write_bytes(world.bundle)
    rc, out, err = run(capsys, *_verify_args(world, path, tmp_path))
    assert rc == 1, err
    assert "NOT clean" in out and "7 violations, 0 failures" in out
    assert "violation: verdict: leaf" in err and "demo-access-e2" in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["type"] == "tds-ledger/audit-report@1" and report["clean"] is False
    assert report["findings"][0]["severity"] == "violation"
    assert report["bundle_sha256"] == hashlib.sha256(world.bundle).hexdigest()
    html = (tmp_path / "r.html").read_text()
    assert "demo-access-e2" in html and "<svg" in html


def test_cli_verify_of_a_clean_period_exits_0(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # no passport was issued in the period (the demo's is at leaf 20): the bundle proves that much, and is clean
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    out = io.BytesIO()
    export_bundle(world.ledger, reader, out, since=world.between, until=world.until, scope=Scope(kind="passport"))
    path = tmp_path / "clean.jsonl"
    path.write_bytes(out.getvalue())
    rc, stdout, err = run(capsys, *_verify_args(world, path, tmp_path))
    assert rc == 0, err
    assert stdout.startswith("clean:") or "\nclean:" in stdout


@pytest.mark.parametrize("case", ["truncated", "other origin", "future version", "gzip bomb", "zip archive",
                                  "path traversal zip", "empty", "not json"])  # fmt: skip
def test_bad_bundles_get_a_clear_message_and_exit_1(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    case: str) -> None:  # fmt: skip
    path = tmp_path / "bad.jsonl"
    expected = {
        "truncated": "truncated", "other origin": "is for log", "future version": "audit-bundle@2",
        "gzip bomb": "longer than", "zip archive": "ZIP archive", "path traversal zip": "ZIP archive",
        "empty": "not an audit bundle", "not json": "not an audit bundle",
    }[case]  # fmt: skip
    if case == "truncated":
        path.write_bytes(world.bundle[: len(world.bundle) // 2])
    elif case == "other origin":
        lines = lines_of(world.bundle)
        lines[0]["origin"] = "another.example/log"
        path.write_bytes(rebuild(lines))
    elif case == "future version":
        lines = lines_of(world.bundle)
        lines[0]["type"] = "tds-ledger/audit-bundle@2"
        path.write_bytes(rebuild(lines))
    elif case == "gzip bomb":  # 64 MiB of one line in ~64 KiB
        with gzip.open(path, "wb", compresslevel=9) as f:
            f.write(b'{"type":"' + b" " * (64 << 20))
    elif case in ("zip archive", "path traversal zip"):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("../../etc/evil" if case == "path traversal zip" else "bundle.jsonl", world.bundle)
    elif case == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"hello\n")
    started = time.monotonic()
    rc, out, err = run(capsys, *_verify_args(world, path, tmp_path))
    assert rc == 1, (out, err)
    assert expected in err, err
    assert "Traceback" not in err
    assert time.monotonic() - started < 30
    assert not (tmp_path.parent / "etc").exists()


def test_cli_usage_errors_exit_2(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "audit", "export", "--data-dir", world.data_dir, "--since", "2026-12-01",
                     "--until", "2026-11-01", "-o", tmp_path / "b.jsonl")  # fmt: skip
    assert rc == 2 and "is after --until" in err
    assert not (tmp_path / "b.jsonl").exists()
    rc, _, err = run(capsys, "audit", "export", "--data-dir", world.data_dir, "--since", "yesterday",
                     "--until", "now", "-o", tmp_path / "b.jsonl")  # fmt: skip
    assert rc == 2 and "--since must be" in err
    path = tmp_path / "b.jsonl"
    path.write_bytes(world.bundle)
    rc, _, err = run(capsys, "audit", "verify", path, "--identity", world.identity_file)
    assert rc == 2 and "--rpc URL or --chain-db FILE" in err


def test_cli_export_writes_the_same_bundle(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    until = world.until.strftime("%Y-%m-%dT%H:%M:%SZ")
    rc, out, err = run(capsys, "audit", "export", "--data-dir", world.data_dir, "--since", "2026-01-01",
                       "--until", until, "-o", tmp_path / "b.jsonl.gz")  # fmt: skip
    assert rc == 0, err
    assert f"entries [0, {world.end})" in out
    assert gzip.decompress((tmp_path / "b.jsonl.gz").read_bytes()) == world.bundle
    # --until anchored: up to the latest final anchor's block time, here the same period
    rc, out, err = run(capsys, "audit", "export", "--data-dir", world.data_dir, "--since", "2026-01-01",
                       "--until", "anchored", "-o", tmp_path / "c.jsonl")  # fmt: skip
    assert rc == 0, err
    assert f"→ {until}" in out
    assert (tmp_path / "c.jsonl").read_bytes() == world.bundle
    # a period the last anchor does not cover, with nothing newer to anchor: says where a bundle can end
    rc, out, err = run(capsys, "audit", "export", "--data-dir", world.data_dir, "--since", "2026-01-01",
                       "--until", "now", "-o", tmp_path / "d.jsonl")  # fmt: skip
    if rc == 0:  # the embedded chain's block times run ahead of the clock when blocks come fast (here: 3 s)
        assert "entries [0, " in out and world.until >= datetime.now(UTC) - timedelta(seconds=5)
    else:
        assert rc == 1 and f"anchored at {until}" in err and "'anchored'" in err, err
        assert not (tmp_path / "d.jsonl").exists()


def test_verify_runs_with_the_database_deleted_and_imports_no_store(world: World, tmp_path: Path) -> None:
    """Independence: only the pure core and a chain read. The bundle, identity and chain
    file are copied out and the data directory is gone; no server runs."""
    away = tmp_path / "regulator"
    away.mkdir()
    (away / "bundle.jsonl").write_bytes(world.late_bundle)
    (away / "identity.json").write_bytes(world.identity_file.read_bytes())
    for suffix in ("", "-wal"):  # the chain file as a regulator would copy it (SQLite: with its WAL, if any)
        if (src := world.chain_db.with_name("chain.db" + suffix)).exists():
            (away / src.name).write_bytes(src.read_bytes())
    code = (
        "import sys; from ledger.cli import main; "
        "rc = main(['audit', 'verify', 'bundle.jsonl', '--identity', 'identity.json', '--chain-db', 'chain.db', "
        "'--jobs', '2']); "
        "heavy = sorted(m for m in ('sqlalchemy', 'sqlmodel', 'fastapi', 'web3', 'eth_tester', 'evm') if m in sys.modules); "
        "print(rc, heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=away, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("TDSL_")})  # fmt: skip
    assert done.stdout.strip().splitlines()[-1] == "1 []", (done.stdout, done.stderr)
    assert "3 violations, 0 failures" in done.stdout
    assert (away / "bundle.report.html").exists() and (away / "bundle.report.json").exists()
    assert "ledger.db" not in os.listdir(away)


# -- GET /v1/audit/bundle --------------------------------------------------------------------


def _z(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_api_serves_the_bundle_to_regulators_and_the_operator_only(world: World) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    tokens = {name: (world.data_dir / "demo" / f"{name}.token").read_text().strip()
              for name in ("regulator", "battery-maker")}  # fmt: skip
    tokens["operator"] = (world.data_dir / "demo" / "operator.token").read_text().strip()
    period = {"since": _z(SINCE), "until": _z(world.until)}
    with TestClient(create_app(world.ledger, world.settings, start_sealer=False)) as client:
        for who, params in (("regulator", period), ("operator", period | {"until": "anchored"})):
            r = client.get("/v1/audit/bundle", params=params, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/x-ndjson")
            assert r.content == world.bundle
        regulator = {"Authorization": f"Bearer {tokens['regulator']}"}
        cases = [
            ({}, period, 401, "token"),
            ({"Authorization": f"Bearer {tokens['battery-maker']}"}, period, 403, "only regulators and the operator"),
            (regulator, {"since": _z(world.until), "until": _z(SINCE)}, 400, "after until"),
            (regulator, {"since": _z(SINCE), "until": "2099-01-01"}, 409, "future"),
            (regulator, period | {"limit": "5"}, 400, "limit"),
            (regulator, period | {"participant": "0x12"}, 400, "participant"),
            (regulator, {"since": _z(SINCE)}, 400, "until"),
        ]
        for headers, params, status, words in cases:
            r = client.get("/v1/audit/bundle", params=params, headers=headers)
            assert r.status_code == status, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), r.headers
            assert words in r.text, r.text


def test_an_agreement_scope_needs_the_agreement(world: World) -> None:
    from ledger.errors import NotFound

    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    with pytest.raises(NotFound, match="no agreement"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=SINCE, until=world.until, scope=Scope(agreement="nope"))
    with pytest.raises(ValueError, match="not a contract_agreement"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=SINCE, until=world.until,
                      scope=Scope(agreement="demo-access-e1"))  # fmt: skip
    out = io.BytesIO()
    export_bundle(world.ledger, reader, out, since=world.between, until=world.until, scope=Scope(agreement=AGREEMENT),
                  context_proofs=True)  # fmt: skip
    lines = lines_of(out.getvalue())
    # the operator drops the agreement's context line: the events under it can no longer be scoped or judged
    agreement = next(line for line in lines if "context" in line and "envelope" in line
                     and json.loads(line["envelope"])["id"] == AGREEMENT)  # fmt: skip
    lines.remove(agreement)
    lines[0]["context"] -= 1
    report = check(world, rebuild(lines))
    assert any(f.check == "scope" and AGREEMENT in f.message for f in failing(report, "scope")), report.findings
    assert failing(report, "context"), "the events' parent is not in the bundle"


def test_a_unique_term_held_twice_is_a_finding() -> None:
    """The store refuses a second passport for one Digital Link path at admission; a log
    that holds one anyway (an operator that skipped the check) is named by the verifier."""
    from ledger.bundle_state import BundleEntry, StateJudge
    from ledger.bundle_report import BundleReport, Head

    found = []
    judge = StateJudge("0x" + "00" * 20, lambda *a, **k: found.append((a, k)))
    for idx in (3, 9):
        judge.entries[idx] = BundleEntry(idx, f"p{idx}", "passport", "0x" + "11" * 20, "2026-01-01T00:00:00Z",
                                         bytes(32), True, True, False, False, None)  # fmt: skip
    judge.replay.out.terms |= {(3, "passport_root", "/01/04012345000306/21/A"), (9, "passport_root", "/01/04012345000306/21/A"),
                               (9, "item", "/01/04012345000306/21/A"), (3, "status_index", "x:1"), (9, "status_index", "x:2")}  # fmt: skip
    report = BundleReport("b", "", "o", 1, "0x", "s", "u", {}, Head(0, ""), Head(10, ""))
    judge.judge(report, None)
    [(args, kwargs)] = found
    assert args[1] == "unique" and "passport_root" in args[2] and kwargs == {"leaf": 9, "expected": "only leaf 3",
                                                                              "found": "leaf 3 and 9"}  # fmt: skip


def test_dependencies_inside_the_range_do_not_count_against_the_context_limit(world: World, monkeypatch) -> None:
    """Records of the range an in-scope record depends on are carried in place; only those
    before the period are held in memory and limited (issue 11 review: an agreement scope
    with many events was refused)."""
    from ledger import bundle_export

    monkeypatch.setattr(bundle_export, "MAX_CONTEXT", 2)
    reader = anchor_reader(world.settings, chain_id=world.identity.chain_id, contract=world.identity.contract)
    out = io.BytesIO()
    export_bundle(world.ledger, reader, out, since=SINCE, until=world.until, scope=Scope(agreement=AGREEMENT))
    assert not [f for f in check(world, out.getvalue()).findings if f.severity == Severity.FAILURE]
    from ledger.errors import Conflict

    with pytest.raises(Conflict, match="more than 2 records before the period"):
        export_bundle(world.ledger, reader, io.BytesIO(), since=world.between, until=world.until,
                      scope=Scope(agreement=AGREEMENT))  # fmt: skip
