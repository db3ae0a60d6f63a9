"""``tdsl passport issue|revoke`` and ``tdsl verify`` of a passport (a vc+jwt file and a
Digital Link URL), against a real ``tdsl demo`` server: the battery maker issues a second
pack's passport from its footprint and a YAML file of product facts, a customer verifies
it from the URL, the maker revokes it, and verification then says revoked. Bad input
fails in one line and stores nothing."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from ledger.demo import DEMO_ORIGIN
from ledger.demo_footprints import FOOTPRINTS
from test_cli import _clean_env, _env, _free_port, _server, run

pytestmark = [pytest.mark.usefixtures(_clean_env.__name__), pytest.mark.xdist_group("passport_cli")]  # one demo server
FACTS = """\
name: Battery pack VP-48, 48 V
serial: VP48-2026-000777
productionDate: 2026-04-01
countryOfProduction: DE
conformityClaims:
  - id: https://data.battery-maker.example/claims/vp48-ce
    conformance: true
    conformityTopic: governance.compliance
    description: CE marking
"""


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory):
    """One demo server for the module (starting one takes seconds); tests that add records
    to it do not depend on each other's."""
    tmp = tmp_path_factory.mktemp("passport-cli")
    d, port = tmp / "data", _free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(TDSL_OPERATOR_KEY=os.urandom(32).hex(), TDSL_PUBLIC_URL=url)
    with _server(["demo", "--data-dir", d, "--port", str(port)], env, tmp, port) as served:
        yield {"url": served, "dir": d, "key": d / "demo" / "battery-maker.key",
               "token": (d / "demo" / "battery-maker.token").read_text().strip()}  # fmt: skip


@pytest.fixture
def demo(served_demo, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TDSL_PUBLIC_URL", served_demo["url"])  # what tdsl passport issue writes into the credential
    return served_demo


def _size(url: str) -> int:
    return httpx.get(f"{url}/v1/log").json()["tree_size"]


def test_issue_verify_revoke(demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    url, facts = demo["url"], tmp_path / "facts.yaml"
    facts.write_text(FACTS)
    remote = ["--url", url, "--token", demo["token"], "--key-file", demo["key"]]
    jwt = tmp_path / "vp48.jwt"
    rc, out, err = run(capsys, "passport", "issue", "--footprint", FOOTPRINTS[-1].pf_id, "--facts", facts,
                       "--jwt-out", jwt, *remote)  # fmt: skip
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("appended passport ")
    passport_id = lines[0].split()[2]
    uri = f"{url}/01/04012345000306/21/VP48-2026-000777"
    assert lines[1] == f"digital link: {uri}" and "/v1/qr.svg?link=/01/04012345000306/21/VP48-2026-000777" in lines[2]
    record = httpx.get(f"{url}/v1/records/{passport_id}").json()
    assert record["kind"] == "passport" and record["state"]["facts"]["status_index"] == "1"  # the demo's took 0
    assert record["payload"]["credential"]["credentialSubject"]["product"]["name"] == "Battery pack VP-48, 48 V"
    assert record["payload"]["credential"]["issuer"]["name"] == "Volta Pack Systems GmbH"

    identity = ["--origin", DEMO_ORIGIN, "--identity", demo["dir"] / "identity.json"]
    rc, out, err = run(capsys, "verify", jwt, *identity)  # resolves did:web on the local server
    assert rc == 0 and "valid: passport" in out and "not revoked" in out, err
    rc, out, err = run(capsys, "verify", uri, *identity, "--chain-db", demo["dir"] / "chain.db")
    assert rc == 0, err
    assert out.splitlines()[0].startswith(f"valid: record {passport_id} at leaf ") and "not revoked" in out
    did_doc = tmp_path / "did.json"
    did_doc.write_text(httpx.get(f"{url}/participants/{record['author']}/did.json").text)
    rc, out, err = run(capsys, "verify", jwt, *identity, "--did-document", did_doc, "--no-status")
    assert rc == 0 and "status not checked" in out, err

    rc, out, err = run(capsys, "passport", "revoke", passport_id, "--reason", "recalled", *remote)
    assert rc == 0 and "is revoked" in out, err
    rc, out, err = run(capsys, "verify", uri, *identity, "--chain-db", demo["dir"] / "chain.db")
    assert rc == 1 and err.startswith("invalid: revoked: bit 1 of"), err
    size = _size(url)
    rc, _, err = run(capsys, "passport", "revoke", passport_id, *remote)
    assert rc == 1 and "already revoked" in err and _size(url) == size


@pytest.mark.parametrize(("facts", "fragment"), [
    (None, "cannot read the product facts file"),
    ("name: [unclosed", "is not valid YAML"),
    ("- a list", "must hold a mapping"),
    ("name: X\ncolour: red\n", "unknown product facts ['colour']"),
    ("description: no name\n", "need a name"),
    ("name: X\nserial: 'has space'\n", "21"),
])  # fmt: skip
def test_bad_facts_fail_in_one_line(demo, tmp_path: Path, capsys: pytest.CaptureFixture[str], facts, fragment):
    path = tmp_path / "facts.yaml"
    if facts is not None:
        path.write_text(facts)
    size = _size(demo["url"])
    rc, _, err = run(capsys, "passport", "issue", "--footprint", FOOTPRINTS[-1].pf_id, "--facts", path,
                     "--url", demo["url"], "--token", demo["token"], "--key-file", demo["key"])  # fmt: skip
    assert rc == 1 and fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert _size(demo["url"]) == size


def test_someone_elses_footprint_is_refused(demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "facts.yaml"
    path.write_text("name: Cell\nserial: C-1\n")
    d = demo["dir"] / "demo"
    size = _size(demo["url"])
    rc, _, err = run(capsys, "passport", "issue", "--footprint", FOOTPRINTS[-1].pf_id, "--facts", path, "--url",
                     demo["url"], "--token", (d / "cell-supplier.token").read_text().strip(), "--key-file",
                     d / "cell-supplier.key")  # fmt: skip
    assert rc == 1 and "not the author's" in err and _size(demo["url"]) == size, err
