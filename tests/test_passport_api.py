"""Passports over HTTP (DESIGN §12): the GS1 Digital Link resolver's content negotiation,
redirects and errors, the issuer's did:web document resolved the way a did:web resolver
does it, the Bitstring Status List, and QR codes decoded back. The real app in-process
(``TestClient``) over a real ledger."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger import status_list, vcjose
from ledger.config import Settings
from passport_support import PACK_GTIN, PUBLIC_URL, PassportWorld, make_passport_world

ITEM = f"/01/0{PACK_GTIN}/21/PACK-0001"


@pytest.fixture
def world(tmp_path: Path) -> PassportWorld:
    return make_passport_world(tmp_path)


@pytest.fixture
def http(world: PassportWorld, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, public_url=PUBLIC_URL)
    with TestClient(create_app(world.ledger, settings, start_sealer=False), follow_redirects=False) as client:
        yield client


def _problem(r, status: int, *fragments: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for f in fragments:
        assert f in r.json()["detail"], r.json()


def _issue(world: PassportWorld):
    issued = world.build()
    sub = world.passport(issued)
    world.submit(sub)
    return issued, sub


def test_content_negotiation_and_link_types(world: PassportWorld, http: TestClient):
    issued, sub = _issue(world)
    r = http.get(ITEM, headers={"Accept": "application/vc+jwt"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vc+jwt")
    assert r.text == issued.payload["vc_jwt"]
    assert 'rel="linkset"' in r.headers["link"] and f"{PUBLIC_URL}{ITEM}?linkType=all" in r.headers["link"]
    r = http.get(ITEM, headers={"Accept": "application/vc+ld+json"})
    assert r.headers["content-type"].startswith("application/vc+ld+json") and r.json() == issued.credential
    r = http.get(ITEM, headers={"Accept": "application/linkset+json"})
    assert r.headers["content-type"].startswith("application/linkset+json")
    [entry] = r.json()["linkset"]
    assert entry["anchor"] == PUBLIC_URL + ITEM
    assert {link["type"] for link in entry["https://test.uncefact.org/vocabulary/linkTypes/dpp"]} == {
        "application/vc+jwt", "application/vc+ld+json"}  # fmt: skip
    assert http.get(ITEM, params={"linkType": "all"}).json() == r.json()
    assert http.get(ITEM, params={"linkType": "untp:dpp"}).text == issued.payload["vc_jwt"]
    _problem(http.get(ITEM, params={"linkType": "gs1:recipeInfo"}), 404, "gs1:recipeInfo")
    # GS1 data attributes and custom query parameters are allowed and ignored
    assert http.get(ITEM, params={"15": "230911", "thngId": "x"}, headers={"Accept": "application/vc+jwt"}).status_code == 200


def test_batch_and_model_links_walk_up_to_the_model_passport(world: PassportWorld, http: TestClient):
    model = world.build({"name": "Battery pack, model level"})
    world.submit(world.passport(model))
    assert model.link.path() == f"/01/0{PACK_GTIN}"
    for path in (f"/01/0{PACK_GTIN}", f"/01/0{PACK_GTIN}/10/LOT-7", ITEM):
        r = http.get(path, headers={"Accept": "application/vc+jwt"})
        assert r.status_code == 200 and r.text == model.payload["vc_jwt"], path
    item = world.build()
    world.submit(world.passport(item))
    assert http.get(ITEM, headers={"Accept": "application/vc+jwt"}).text == item.payload["vc_jwt"]


def test_redirects_and_errors(world: PassportWorld, http: TestClient):
    _issue(world)
    r = http.get(f"/01/{PACK_GTIN}/21/PACK-0001", params={"linkType": "untp:dpp"})
    assert r.status_code == 301 and r.headers["location"] == f"{ITEM}?linkType=untp%3Adpp"
    _problem(http.get(f"/01/0{PACK_GTIN[:-1]}7/21/PACK-0001"), 400, "check digit")
    _problem(http.get(f"/01/0{PACK_GTIN}/99/x"), 400, "99")
    _problem(http.get(f"/01/0{PACK_GTIN}/21/PACK%20SPACE"), 400)
    _problem(http.get("/01/09780345418913/21/12345"), 404, "no passport for /01/09780345418913/21/12345")


def test_did_web_resolves_to_the_key_that_verifies_the_passport(world: PassportWorld, http: TestClient):
    issued, _ = _issue(world)
    token = http.get(ITEM, headers={"Accept": "application/vc+jwt"}).text
    did = issued.credential["issuer"]["id"]
    assert did == vcjose.did_web(urlsplit(PUBLIC_URL).netloc, world.exporter.address)
    url = vcjose.did_web_url(did)  # did:web:dpp.example.com:participants:0x… → https://dpp.example.com/…/did.json
    assert url.startswith(PUBLIC_URL + "/participants/")
    r = http.get(urlsplit(url).path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/did+json")
    doc = r.json()
    assert doc["id"] == did
    kid = vcjose.key_id(did)
    [method] = [m for m in doc["verificationMethod"] if m["id"] == kid]
    assert kid in doc["assertionMethod"]
    key = vcjose.public_key_of_jwk(method["publicKeyJwk"])
    assert vcjose.address_of_public_key(key) == world.exporter.address
    assert vcjose.verify_vc_jwt(token, key, kid=kid).credential == issued.credential
    _problem(http.get(f"/participants/{'0x' + 'ab' * 20}/did.json"), 404)


def test_status_list_bits_follow_revocations(world: PassportWorld, http: TestClient):
    issued, sub = _issue(world)
    entry = issued.credential["credentialStatus"]
    path = urlsplit(entry["statusListCredential"]).path
    index = int(entry["statusListIndex"])

    def bit() -> bool:
        r = http.get(path)
        assert r.status_code == 200
        cred = r.json()
        assert cred["id"] == entry["statusListCredential"] and cred["credentialSubject"]["statusPurpose"] == "revocation"
        return status_list.is_set(status_list.decode_list(cred["credentialSubject"]["encodedList"]), index)

    assert bit() is False
    world.submit(world.revocation(sub))
    assert bit() is True
    linkset = http.get(ITEM, params={"linkType": "all"}).json()["linkset"][0]
    assert linkset["status"][0]["title"] == "Status: revoked"


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_qr_codes_encode_the_digital_link_uri(world: PassportWorld, http: TestClient, fmt: str):
    _issue(world)
    r = http.get(f"/v1/qr.{fmt}", params={"link": ITEM})
    assert r.status_code == 200
    if fmt == "svg":
        assert r.headers["content-type"] == "image/svg+xml" and r.text.lstrip().startswith("<svg")
        return
    import zxingcpp
    from PIL import Image

    assert r.headers["content-type"] == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))
    assert code.text == PUBLIC_URL + ITEM


def test_a_qr_code_for_an_unknown_item_is_a_404(world: PassportWorld, http: TestClient):
    _problem(http.get("/v1/qr.png", params={"link": ITEM}), 404, "no passport")
    _problem(http.get("/v1/qr.png", params={"link": "/01/123"}), 400)


def test_the_resolver_answers_any_path_without_a_server_error(world: PassportWorld, http: TestClient):
    """Random Digital Link-ish paths and Accept headers: a page, a redirect, a 400 or a 404
    problem, never a 500 (the resolver is outside /v1, so schemathesis does not reach it)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    _issue(world)
    segment = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#"), max_size=24)
    gtins = st.sampled_from([f"0{PACK_GTIN}", PACK_GTIN, "4012345000307", "123", "40123450003060"]) | st.text("0123456789", max_size=16)
    ais = st.sampled_from(["21", "10", "22", "99", "235", "ser", "lot", "x"])

    @given(gtin=gtins, rest=st.lists(st.tuples(ais, segment), max_size=3),
           accept=st.sampled_from(["text/html", "application/vc+jwt", "application/linkset+json", "*/*", "bogus/x;q=x"]))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(gtin, rest, accept):
        path = f"/01/{gtin}" + "".join(f"/{ai}/{v}" for ai, v in rest)
        r = http.get(path, headers={"Accept": accept})
        assert r.status_code in (200, 301, 400, 404), (path, r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json")

    run()


def test_the_passport_as_json_and_its_credential_show_revocation(world: PassportWorld, http: TestClient):
    issued, sub = _issue(world)
    rid = sub.envelope.id
    body = http.get(f"/v1/passports/{rid}").json()
    assert body["status"]["status"] == "active" and body["product"]["gtin"] == f"0{PACK_GTIN}"
    assert http.get(f"/v1/passports/{rid}/credential").json() == issued.credential
    r = http.get(f"/v1/passports/{rid}/vc.jwt")
    assert r.headers["content-type"].startswith("application/vc+jwt") and r.text == issued.payload["vc_jwt"]
    world.submit(world.revocation(sub, reason="recalled: cell defect"))
    body = http.get(f"/v1/passports/{rid}").json()
    assert body["status"] == {**body["status"], "status": "revoked", "reason": "recalled: cell defect"}
    page = http.get(ITEM, headers={"Accept": "text/html"}).text
    assert "recalled: cell defect" in page
    _problem(http.get(f"/v1/passports/{world.pack.envelope.id}"), 404, "is a pcf")
