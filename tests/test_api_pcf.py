"""Footprints over HTTP (issue 7): disclosure, queries (terms, period, unknown parameters),
lineage, and clear 4xx answers for bad input — with nothing stored on a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pcf_support import footprint, leaf_of, product_footprint
from test_api_support import ApiEnv, Party, _party, make_api_env, to_json

PROBLEM = "application/problem+json"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[ApiEnv]:
    with make_api_env(tmp_path, database_url) as e:
        yield e


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_url: str) -> Iterator[ApiEnv]:
    with make_api_env(tmp_path, sqlite_url) as e:
        yield e


def parties(env: ApiEnv) -> tuple[Party, Party, Party]:
    key = env.operator.key
    supplier = _party(env.ledger, key, "supplier", ["producer"], ("USCC", "91320500MA1X0Y2Z3A"))
    exporter = _party(env.ledger, key, "exporter", ["exporter"], ("EORI", "DE999999999999999"))
    stranger = _party(env.ledger, key, "stranger", ["producer"], ("LEI", "529900HNOAA1KXQJUQ27"))
    return supplier, exporter, stranger


def post_pcf(env: ApiEnv, party: Party, fp: dict, parents: tuple[str, ...] = (), visibility: str | None = None):
    sub = env.submission(party, kind="pcf", payload=fp, record_id=fp["id"], parents=parents, visibility=visibility)
    return env.submit(party, sub), sub


def test_disclosure_lets_a_customer_read_and_roll_up_and_nobody_else(env: ApiEnv):
    supplier, exporter, stranger = parties(env)
    c = env.client
    raw = footprint(name="Cathode", values=("10", "9", "8"))
    r, raw_sub = post_pcf(env, supplier, raw)
    assert r.status_code == 201, r.text
    missing = c.get("/v1/records/no-such-record", headers=stranger.auth).json()
    private = c.get(f"/v1/records/{raw['id']}", headers=exporter.auth)
    assert private.status_code == 404 and private.json()["detail"] == missing["detail"].replace("no-such-record", raw["id"])
    # the exporter cannot roll up what it may not read
    pack = product_footprint([(raw, "2")])
    r, _ = post_pcf(env, exporter, pack, (leaf_of(raw_sub),))
    assert r.status_code == 422 and "not disclosed" in r.json()["detail"]
    assert r.headers["content-type"].startswith(PROBLEM)
    # disclosed: the exporter sees the record and its payload, and rolls it up
    r = c.post(f"/v1/records/{raw['id']}/disclosures", json={"grantees": [exporter.address]}, headers=supplier.auth)
    assert r.status_code == 200 and r.json()["grantees"] == [exporter.address]
    seen = c.get(f"/v1/records/{raw['id']}", headers=exporter.auth).json()
    assert seen["payload"]["pcf"]["pcfExcludingBiogenicUptake"] == "10"
    r, _ = post_pcf(env, exporter, pack, (leaf_of(raw_sub),))
    assert r.status_code == 201, r.text
    # an unrelated participant still gets exactly the missing-record answer, receipt too
    for path in (f"/v1/records/{raw['id']}", f"/v1/records/{raw['id']}/receipt", f"/v1/records/{raw['id']}/lineage"):
        r = c.get(path, headers=stranger.auth)
        assert r.status_code == 404 and r.json()["detail"] == f"no record {raw['id']!r}"
    assert c.get(f"/v1/records/{raw['id']}/disclosures", headers=stranger.auth).status_code == 404
    # regulators see everything
    assert "payload" in c.get(f"/v1/records/{raw['id']}", headers=env.regulator.auth).json()
    # only the author discloses; withdrawal ends it
    r = c.post(f"/v1/records/{raw['id']}/disclosures", json={"grantees": [stranger.address]}, headers=exporter.auth)
    assert r.status_code == 403
    r = c.delete(f"/v1/records/{raw['id']}/disclosures/{exporter.address}", headers=supplier.auth)
    assert r.status_code == 200 and r.json()["grantees"] == []
    assert c.get(f"/v1/records/{raw['id']}", headers=exporter.auth).status_code == 404
    r = c.delete(f"/v1/records/{raw['id']}/disclosures/{exporter.address}", headers=supplier.auth)
    assert r.status_code == 404


def test_disclosure_bad_input_is_a_clear_4xx(sqlite_env: ApiEnv):
    supplier, exporter, _ = parties(sqlite_env)
    c = sqlite_env.client
    raw = footprint()
    post_pcf(sqlite_env, supplier, raw)
    url = f"/v1/records/{raw['id']}/disclosures"
    for body, status in (({"grantees": []}, 400), ({"grantees": ["0x12"]}, 400), ({"who": []}, 400),
                         ({"grantees": ["0x" + "ab" * 20]}, 422)):  # fmt: skip
        r = c.post(url, json=body, headers=supplier.auth)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
    assert c.post(url, json={"grantees": [exporter.address]}).status_code == 401


def test_public_footprint_payload_is_public(sqlite_env: ApiEnv):
    supplier, _, stranger = parties(sqlite_env)
    fp = footprint()
    post_pcf(sqlite_env, supplier, fp, visibility="public")
    for headers in ({}, stranger.auth):
        body = sqlite_env.client.get(f"/v1/records/{fp['id']}", headers=headers).json()
        assert body["payload"]["id"] == fp["id"] and body["state"]["status"] == "Active"


def test_records_query_by_term_kind_author_and_period(env: ApiEnv):
    supplier, exporter, _ = parties(env)
    c = env.client
    a = footprint(product="urn:gtin:4012345000016")
    b = footprint(product="urn:gtin:4012345000023")
    post_pcf(env, supplier, a, visibility="public")
    post_pcf(env, supplier, b)
    ids = lambda r: [x["id"] for x in r.json()["records"]]  # noqa: E731
    assert ids(c.get("/v1/records", params={"product": "urn:gtin:4012345000016"})) == [a["id"]]
    # b is private: the anonymous caller does not see it, its author and a regulator do
    assert ids(c.get("/v1/records", params={"product": "urn:gtin:4012345000023"})) == []
    assert ids(c.get("/v1/records", params={"product": "urn:gtin:4012345000023"}, headers=supplier.auth)) == [b["id"]]
    assert ids(c.get("/v1/records", params={"kind": "pcf", "author": supplier.address},
                     headers=env.regulator.auth)) == [a["id"], b["id"]]  # fmt: skip
    assert ids(c.get("/v1/records", params={"kind": "pcf", "until": "2000-01-01"}, headers=env.regulator.auth)) == []
    assert ids(c.get("/v1/records", params={"kind": "pcf", "since": "2000-01-01T00:00:00Z"},
                     headers=env.regulator.auth)) == [a["id"], b["id"]]  # fmt: skip
    # product and company URNs compare case-insensitively (as PACT filters them)
    assert ids(c.get("/v1/records", params={"product": "URN:GTIN:4012345000016"})) == [a["id"]]
    rec = c.get(f"/v1/records/{a['id']}").json()
    assert {"name": "product", "value": "urn:gtin:4012345000016"} in rec["terms"]


@pytest.mark.parametrize(
    "path", ["/v1/records", "/v1/log", "/v1/checkpoint", "/v1/participants", "/v1/health", "/v1/records/x/lineage"]
)
def test_an_unknown_query_parameter_is_a_400_naming_it(sqlite_env: ApiEnv, path: str):
    r = sqlite_env.client.get(path, params={"prodcut": "urn:gtin:1"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(PROBLEM) and "'prodcut'" in r.json()["detail"]


@pytest.mark.parametrize("params", [{"since": "yesterday"}, {"until": "2026-13-01"}, {"limit": "0"},
                                    {"since": "2026-02-01", "until": "2026-01-01"}])  # fmt: skip
def test_bad_query_values_are_a_400(sqlite_env: ApiEnv, params: dict):
    r = sqlite_env.client.get("/v1/records", params=params)
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith(PROBLEM), r.text


def test_lineage_over_http_hides_what_the_caller_may_not_see(env: ApiEnv):
    supplier, exporter, stranger = parties(env)
    c = env.client
    raw = footprint(values=("4", "3", "2"))
    _, raw_sub = post_pcf(env, supplier, raw)
    c.post(f"/v1/records/{raw['id']}/disclosures", json={"grantees": [exporter.address]}, headers=supplier.auth)
    pack = product_footprint([(raw, "3")])
    r, pack_sub = post_pcf(env, exporter, pack, (leaf_of(raw_sub),), visibility="public")
    assert r.status_code == 201, r.text
    g = c.get(f"/v1/records/{pack['id']}/lineage", params={"direction": "ancestors"}, headers=stranger.auth).json()
    assert g["root"] == leaf_of(pack_sub)
    nodes = {n["leaf_hash"]: n for n in g["nodes"]}
    assert nodes[leaf_of(raw_sub)] == {"leaf_hash": leaf_of(raw_sub), "visible": False, "depth": 1}
    assert nodes[leaf_of(pack_sub)]["receipt"] == f"/v1/records/{pack['id']}/receipt"
    assert g["edges"] == [{"source": leaf_of(pack_sub), "target": leaf_of(raw_sub), "type": "component_of", "position": 0}]
    mine = c.get(f"/v1/records/{raw['id']}/lineage", params={"direction": "descendants"}, headers=supplier.auth).json()
    assert {n["id"] for n in mine["nodes"]} == {raw["id"], pack["id"]}
    receipt = c.get(nodes[leaf_of(pack_sub)]["receipt"], headers=stranger.auth)
    assert receipt.status_code in (200, 409)  # 409 only while no checkpoint covers it (sealer off)
    for params in ({"direction": "up"}, {"depth": "-1"}, {"depth": "65"}):
        assert c.get(f"/v1/records/{pack['id']}/lineage", params=params).status_code in (400, 422)


@pytest.mark.parametrize("breakage", ["number", "missing", "enum", "urn", "offbyone"])
def test_a_bad_footprint_is_a_4xx_and_nothing_is_stored(sqlite_env: ApiEnv, breakage: str):
    supplier, _, _ = parties(sqlite_env)
    part = footprint(values=("1.5", "1.25", "1.125"))
    _, part_sub = post_pcf(sqlite_env, supplier, part)
    fp = product_footprint([(part, "2")], places=3)
    if breakage == "number":
        fp["pcf"]["declaredUnitAmount"] = 1
    elif breakage == "missing":
        del fp["companyIds"]
    elif breakage == "enum":
        fp["pcf"]["declaredUnitOfMeasurement"] = "furlong"
    elif breakage == "urn":
        fp["productIds"] = ["gtin:123"]
    else:
        v = fp["pcf"]["fossilGhgEmissions"]
        fp["pcf"]["fossilGhgEmissions"] = f"{float(v) + 0.001:.3f}"
    size = sqlite_env.tree_size()
    r, _ = post_pcf(sqlite_env, supplier, fp, (leaf_of(part_sub),))
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    assert sqlite_env.tree_size() == size
    assert sqlite_env.client.get(f"/v1/records/{fp['id']}", headers=sqlite_env.regulator.auth).status_code == 404


def test_batch_with_one_bad_footprint_stores_nothing(sqlite_env: ApiEnv):
    supplier, _, _ = parties(sqlite_env)
    good, bad = footprint(), footprint()
    bad["pcf"]["pcfExcludingBiogenicUptake"] = 1.0
    subs = [sqlite_env.submission(supplier, kind="pcf", payload=fp, record_id=fp["id"]) for fp in (good, bad)]
    size = sqlite_env.tree_size()
    r = sqlite_env.client.post("/v1/records/batch", json={"records": [to_json(s) for s in subs]}, headers=supplier.auth)
    assert r.status_code == 422 and "record 1" in r.json()["detail"]
    assert sqlite_env.tree_size() == size
