"""``tdsl submit --component`` (the roll-up computed for the user), ``tdsl lineage`` (tree
and SVG) and ``tdsl audit`` naming a corrupted derived state — through ``ledger.cli.main``
on a data directory, and ``submit``/``lineage`` over HTTP against a real server."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sqlalchemy import update

from ledger.store.models import StateRow
from pcf_support import footprint
from test_cli import ORIGIN, _clean_env, run  # noqa: F401 - the autouse fixture clears TDSL_* variables

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict:
    monkeypatch.setenv("TDSL_OPERATOR_KEY", os.urandom(32).hex())
    d = tmp_path / "data"
    assert run(capsys, "init", "--origin", ORIGIN, "--data-dir", d)[0] == 0
    keys, addresses = {}, {}
    for name, roles in (("cathode", "producer"), ("cells", "producer"), ("pack", "exporter")):
        key_file = tmp_path / f"{name}.key"
        rc, out, err = run(capsys, "keys", "new", "--out", key_file)
        assert rc == 0, err
        address = out.split("address: ")[1].split()[0]
        rc, _, err = run(capsys, "participant", "add", "--address", address, "--name", name,
                         "--legal-id", "USCC:91320500MA1X0Y2Z3A", "--roles", roles, "--data-dir", d)  # fmt: skip
        assert rc == 0, err
        keys[name], addresses[name] = key_file, address
    return {"dir": d, "keys": keys, "addresses": addresses, "tmp": tmp_path}


def submit(capsys, world: dict, who: str, fp: dict, *extra: str) -> tuple[int, str, str]:
    path = world["tmp"] / f"{fp['id']}.json"
    path.write_text(json.dumps(fp))
    return run(capsys, "submit", path, "--kind", "pcf", "--key-file", world["keys"][who], "--data-dir", world["dir"], *extra)


def test_submit_with_components_computes_the_rollup_and_lineage_draws_it(world: dict, capsys):
    cathode = footprint(name="Cathode", values=("12.5", "12.1", "11.75"))
    assert submit(capsys, world, "cathode", cathode)[0] == 0
    rc, out, err = run(capsys, "disclose", cathode["id"], "--to", world["addresses"]["cells"], "--data-dir", world["dir"],
                       "--key-file", world["keys"]["cathode"])  # fmt: skip
    assert rc == 0 and json.loads(out)["grantees"] == [world["addresses"]["cells"]], err
    cell = footprint(name="Cell", values=("0.5", "0.5", "0.25"))  # the cell maker's own emissions
    rc, out, err = submit(capsys, world, "cells", cell, "--component", f"{cathode['id']}=0.35")
    assert rc == 0, err
    assert json.loads(out)["id"] == cell["id"]
    rc, _, err = run(capsys, "disclose", cell["id"], "--to", world["addresses"]["pack"], "--data-dir", world["dir"],
                     "--key-file", world["keys"]["cells"])  # fmt: skip
    assert rc == 0, err
    pack = footprint(name="Pack", values=("10", "10", "5"))
    rc, out, err = submit(capsys, world, "pack", pack, "--component", f"{cell['id']}=96")
    assert rc == 0, err
    rc, out, err = run(capsys, "receipt", pack["id"], "--data-dir", world["dir"])
    payload = json.loads(out)["payload"]
    # cell = 0.5 + 0.35 × 12.5 = 4.875; pack = 10 + 96 × 4.875 = 478
    assert payload["pcf"]["pcfExcludingBiogenicUptake"] == "478"
    assert payload["extensions"][0]["data"]["own"]["pcfExcludingBiogenicUptake"] == "10"
    svg = world["tmp"] / "pack.svg"
    rc, out, err = run(capsys, "lineage", pack["id"], "--data-dir", world["dir"], "--svg", svg)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith(pack["id"]) and cell["id"] in lines[1] and cathode["id"] in lines[2]
    root = ET.fromstring(svg.read_text())
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert all(fp["id"][:8] in texts for fp in (cathode, cell, pack))
    rc, out, _ = run(capsys, "lineage", cathode["id"], "--direction", "descendants", "--json", "--data-dir", world["dir"])
    assert rc == 0 and {n["id"] for n in json.loads(out)["nodes"]} == {cathode["id"], cell["id"], pack["id"]}


def test_bad_component_flags_fail_cleanly(world: dict, capsys):
    fp = footprint()
    for flag, fragment in (("nonsense", "PFID=QUANTITY"), ("x=-1", "non-negative"), ("x=1e3", "decimal"),
                           ("no-such-id=1", "no record")):  # fmt: skip
        rc, _, err = submit(capsys, world, "cells", fp, "--component", flag)
        assert rc == 1 and fragment in err and "Traceback" not in err, err
    rc, _, err = run(capsys, "lineage", "no-such-id", "--data-dir", world["dir"])
    assert rc == 1 and "no record" in err
    assert submit(capsys, world, "cells", fp)[0] == 0
    rc, _, err = run(capsys, "disclose", fp["id"], "--to", world["addresses"]["pack"], "--data-dir", world["dir"],
                     "--key-file", world["keys"]["pack"])  # fmt: skip
    assert rc == 1 and "no record" in err and "Traceback" not in err  # not its record: it may not even see it
    rc, _, err = run(capsys, "disclose", fp["id"], "--to", world["addresses"]["pack"], "--data-dir", world["dir"])
    assert rc == 1 and "--key-file" in err


def test_audit_names_a_corrupted_derived_state(world: dict, capsys):
    old = footprint()
    assert submit(capsys, world, "cells", old)[0] == 0
    new = footprint(preceding=(old["id"],))
    assert submit(capsys, world, "cells", new)[0] == 0
    rc, out, err = run(capsys, "audit", "--data-dir", world["dir"])
    assert rc == 0 and "match the cached rows" in out, err
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{world['dir'] / 'ledger.db'}")
    with engine.begin() as conn:
        conn.execute(update(StateRow.__table__).where(StateRow.__table__.c.status == "Deprecated").values(status="Active"))
    engine.dispose()
    rc, out, err = run(capsys, "audit", "--data-dir", world["dir"])
    assert rc == 1 and "derived state differs" in err and "cached Active (superseded by" in err, err
    assert f"recomputed Deprecated (superseded by {new['id']})" in err
