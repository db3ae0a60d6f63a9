"""The ``passport`` and ``passport_revocation`` kinds (DESIGN §8, §12): admission of a
VC-JOSE secured UNTP passport against its footprint, one passport per Digital Link path
unless it supersedes the last, status indexes unique per issuer, revocation, and the
audit's recomputation. Each refusal is an otherwise valid passport with one thing wrong,
and stores nothing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from ledger import vcjose
from ledger.errors import Conflict, InvalidRecord, InvalidSignature, LedgerError
from ledger.store.models import StateRow
from passport_support import FACTS, PACK_GTIN, PassportWorld, make_passport_world, raw_token

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> PassportWorld:
    return make_passport_world(tmp_path, database_url)


@pytest.fixture
def sqlite_world(tmp_path: Path) -> PassportWorld:
    return make_passport_world(tmp_path)


def _refused(w: PassportWorld, sub, error: type[LedgerError], *fragments: str) -> str:
    size = w.ledger.tree_size()
    with pytest.raises(error) as e:
        w.submit(sub)
    assert w.ledger.tree_size() == size, "nothing is stored"
    for f in fragments:
        assert f in str(e.value), str(e.value)
    return str(e.value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_passport_is_admitted_with_its_effects(world: PassportWorld):
    issued = world.build()
    [a] = world.submit(world.passport(issued))
    path = f"/01/0{PACK_GTIN}/21/PACK-0001"
    assert issued.link.path() == path
    assert a.state.status == "active" and a.state.fact("item") == path and a.state.fact("status_index") == "0"
    view = world.ledger.record(a.record_id)
    assert {(t.name, t.value) for t in view.terms} == {
        ("item", path), ("passport_root", path), ("product", f"urn:gtin:0{PACK_GTIN}"),
        ("status_index", f"{world.exporter.address.lower()}:0"),
    }  # fmt: skip
    assert view.payload_visible and view.entry.visibility == "public"  # a passport is public
    assert issued.credential["credentialSubject"]["emissionsScorecard"]["carbonFootprint"] == 40.5  # 16 × 2.5 + 0.5


def test_one_passport_per_item_unless_it_supersedes_the_last(world: PassportWorld):
    first = world.passport()
    world.submit(first)
    _refused(world, world.passport(), Conflict, "passport_root", first.envelope.id)
    second = world.passport(supersedes=first)
    [a] = world.submit(second)
    assert a.state.status == "active"
    old = world.ledger.record(first.envelope.id).state
    assert old.status == "superseded" and old.fact("superseded_by") == second.envelope.id
    _refused(world, world.passport(supersedes=first), InvalidRecord, "already superseded")
    # a stranger cannot supersede the exporter's passport
    _refused(world, world.passport(who=world.stranger, supersedes=second), InvalidRecord)


def test_a_revoked_passport_is_superseded_once(sqlite_world: PassportWorld):
    w = sqlite_world
    first = w.passport()
    w.submit(first)
    w.submit(w.revocation(first))
    second = w.passport(supersedes=first)
    w.submit(second)
    state = w.ledger.record(first.envelope.id).state
    assert state.status == "revoked" and state.fact("superseded_by") == second.envelope.id
    assert state.reason == "recalled"  # the revocation's reason is kept
    _refused(w, w.passport(supersedes=first), InvalidRecord, "already superseded")


def test_status_index_is_unique_per_issuer(sqlite_world: PassportWorld):
    w = sqlite_world
    w.submit(w.passport(w.build(index=7)))
    other = w.build({**FACTS, "serial": "PACK-0002"}, index=7)
    _refused(w, w.passport(other), Conflict, "status_index", ":7")


def test_revocation_by_the_issuer_only_and_once(sqlite_world: PassportWorld):
    w = sqlite_world
    p = w.passport()
    w.submit(p)
    _refused(w, w.revocation(p, who=w.stranger), InvalidRecord, "only the issuer")
    w.submit(w.revocation(p, reason="recalled: faulty BMS"))
    state = w.ledger.record(p.envelope.id).state
    assert state.status == "revoked" and state.reason == "recalled: faulty BMS" and state.fact("status_index") == "0"
    _refused(w, w.revocation(p), InvalidRecord, "already revoked")


def _scorecard(value):
    def change(c):
        c["credentialSubject"]["emissionsScorecard"]["carbonFootprint"] = value
    return change


@pytest.mark.parametrize(("case", "change", "error", "fragment"), [
    ("scorecard contradicts the footprint", _scorecard(41.5), InvalidRecord, "gives 40.5 kg CO2e"),
    ("scorecard unit", lambda c: c["credentialSubject"]["emissionsScorecard"].update(declaredUnit="LTR"), InvalidRecord,
     "declaredUnit"),
    ("bad GTIN check digit", lambda c: c["credentialSubject"]["product"].update(
        id="https://dpp.example.com/01/04012345000307/21/PACK-0001"), InvalidRecord, "check digit"),
    ("granularity", lambda c: c["credentialSubject"].update(granularityLevel="model"), InvalidRecord, "granularityLevel"),
    ("serial differs from the link", lambda c: c["credentialSubject"]["product"].update(serialNumber="X1"),
     InvalidRecord, "serialNumber"),
    ("not VC 2.0", lambda c: c.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}), InvalidRecord, "context"),
    ("issuer is not the author", lambda c: c["issuer"].update(
        id=vcjose.did_web("dpp.example.com", "0x" + "11" * 20)), InvalidRecord, "issuer"),
    ("status list of another issuer", lambda c: c["credentialStatus"].update(
        statusListCredential="https://dpp.example.com/participants/0x" + "11" * 20 + "/status/revocation"),
     InvalidRecord, "credentialStatus"),
])  # fmt: skip
def test_refusals_of_the_credential(sqlite_world: PassportWorld, case, change, error, fragment):
    w = sqlite_world
    _refused(w, w.passport(payload=w.tamper(change)), error, fragment)


def test_a_passport_for_someone_elses_product_is_refused(sqlite_world: PassportWorld):
    w = sqlite_world
    _refused(w, w.passport(who=w.stranger), InvalidRecord, "product", "not the author's")


def test_the_footprint_must_list_the_gtin(sqlite_world: PassportWorld):
    w = sqlite_world
    # the exporter's pack footprint names GTIN 4012345000306; a credential for the cell's GTIN is refused
    change = lambda c: c["credentialSubject"]["product"].update(  # noqa: E731
        id="https://dpp.example.com/01/04012345000207/21/PACK-0001")
    _refused(w, w.passport(payload=w.tamper(change)), InvalidRecord, "not GTIN 04012345000207")


def _token(header: dict, credential: dict, key: bytes) -> str:
    return raw_token(header, credential, key)


@pytest.mark.parametrize("case", ["typ", "cty", "kid", "payload", "alg none", "other key", "malformed"])
def test_refusals_of_the_jws(sqlite_world: PassportWorld, case: str):
    w = sqlite_world
    issued = w.build()
    cred, key = issued.credential, w.exporter.key
    kid = vcjose.key_id(cred["issuer"]["id"])
    good = {"alg": "ES256K", "kid": kid, "typ": "vc+jwt", "cty": "vc"}
    if case == "typ":
        token = _token(good | {"typ": "JWT"}, cred, key)
    elif case == "cty":
        token = _token(good | {"cty": "json"}, cred, key)
    elif case == "kid":
        token = _token(good | {"kid": kid.replace("#key-1", "#key-2")}, cred, key)
    elif case == "payload":
        token = _token(good, {**cred, "validUntil": "2099-01-01T00:00:00Z"}, key)
    elif case == "alg none":
        token = f"{_b64(json.dumps({'alg': 'none', 'typ': 'vc+jwt', 'kid': kid}).encode())}.{_b64(json.dumps(cred).encode())}."
    elif case == "other key":
        token = _token(good, cred, w.stranger.key)
    else:
        token = issued.payload["vc_jwt"][:-5]
    error = InvalidSignature if case == "other key" else LedgerError
    fragment = {"typ": "typ", "cty": "cty", "kid": "kid", "payload": "not the credential", "alg none": "none",
                "other key": "not signed by the author", "malformed": "vc_jwt"}[case]  # fmt: skip
    _refused(w, w.passport(payload={"credential": cred, "vc_jwt": token}), error, fragment)


def test_the_audit_recomputes_passport_states_and_names_a_tampered_one(sqlite_world: PassportWorld):
    w = sqlite_world
    p = w.passport()
    w.submit(p)
    w.submit(w.revocation(p))
    assert w.ledger.audit_effects().clean
    idx = w.ledger.record(p.envelope.id).entry.leaf_index
    with w.ledger.store.engine.begin() as conn:
        conn.execute(update(StateRow).where(StateRow.idx == idx).values(status="active", reason=""))
    report = w.ledger.audit_effects()
    assert not report.clean and any(f"entry {idx}" in f and "revoked" in f for f in report.findings), report.findings


@pytest.mark.parametrize("name", sorted(str(p.relative_to(VECTORS / "untp")) for p in (VECTORS / "untp").glob("dpp*/*.json")
                                        if "schema" not in p.name))  # fmt: skip
def test_every_untp_instance_is_answered_clearly(sqlite_world: PassportWorld, name: str):
    """Each UNTP DPP instance, signed by the exporter as its issuer, is either admitted or
    refused with a one-line InvalidRecord; none crashes admission. (They describe other
    products than the exporter's footprint, so none passes the footprint check.)"""
    w = sqlite_world
    cred = json.loads((VECTORS / "untp" / name).read_text())
    own = w.build().credential
    if isinstance(cred.get("issuer"), dict):
        cred["issuer"]["id"] = own["issuer"]["id"]
    token = vcjose.sign_vc_jwt(cred, w.exporter.key, vcjose.key_id(own["issuer"]["id"])) if "issuer" in cred else "x.y.z"
    size = w.ledger.tree_size()
    with pytest.raises(LedgerError) as e:
        w.submit(w.passport(payload={"credential": cred, "vc_jwt": token}))
    assert "\n" not in str(e.value) and w.ledger.tree_size() == size
