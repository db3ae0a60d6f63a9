"""The contract endpoints (issue 9): ``GET /v1/contracts/{id}``, ``GET /v1/violations``,
``GET /v1/datasets/{id}/agreements``, the provider/consumer filters of ``/v1/records`` —
who sees what — and bad contract input answered as a 4xx problem that stores nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contract_support import RULES, Space, make_space
from test_duties import DELETE_BY_JUNE


@pytest.fixture
def space(tmp_path: Path, database_url: str) -> Iterator[Space]:
    s = make_space(tmp_path, database_url)
    yield s
    s.ledger.store.close()


@pytest.fixture
def sqlite_space(tmp_path: Path, sqlite_url: str) -> Iterator[Space]:
    s = make_space(tmp_path, sqlite_url)
    yield s
    s.ledger.store.close()


def client_for(s: Space) -> TestClient:
    return TestClient(create_app(s.ledger, s.settings, start_sealer=False))


def bearer(s: Space, address: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {s.ledger.issue_token(address)}"}


def regulator(s: Space) -> dict[str, str]:
    return bearer(s, s.regulator.address)


def test_contract_shows_both_signatures_state_duties_and_events(space: Space):
    s = space
    ds, offer, req, agr = s.concluded(DELETE_BY_JUNE)
    s.submit(s.event(agr), s.event(agr, purpose="marketing"))
    with client_for(s) as c:
        for who in (s.consumer.address, s.provider.address, s.regulator.address):
            r = c.get(f"/v1/contracts/{agr.envelope.id}", headers=bearer(s, who))
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["signatures"]["provider"]["sig"] == agr.envelope.sig
            assert body["signatures"]["consumer"]["sig"] == req.envelope.sig
            assert body["signatures"]["consumer"]["author"] == s.consumer.address
            assert body["offer"]["id"] == offer.envelope.id and body["request"]["id"] == req.envelope.id
            assert body["state"]["status"] == "in_force" and body["state"]["facts"]["events"] == "2"
            [duty] = body["duties"]
            assert duty["duty"] == "permission[0].duty[0]" and duty["deadline"] == "2026-06-30T23:59:59Z"
            assert duty["status"] == "overdue"  # open, and today is after June 2026
            first, second = body["events"]
            assert first["verdict"]["status"] == "permitted" and first["verdict"]["count"] == 1
            assert first["verdict"]["duties"] == [{"duty": "permission[0].duty[0]", "status": "overdue"}]
            assert second["verdict"]["status"] == "violation" and second["verdict"]["value"] == "marketing"
            assert second["event"]["purpose"] == "marketing"
        # a stranger, and nobody at all, see no such agreement
        assert c.get(f"/v1/contracts/{agr.envelope.id}", headers=bearer(s, s.stranger.address)).status_code == 404
        r = c.get(f"/v1/contracts/{agr.envelope.id}")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert c.get(f"/v1/contracts/{ds.envelope.id}", headers=regulator(s)).status_code == 404  # not an agreement


def test_violations_by_period_and_party_and_who_sees_them(space: Space):
    s = space
    _, _, _, agr = s.concluded()
    _, _, _, other = s.concluded()
    s.submit(s.event(agr, purpose="marketing", issued_at="2026-06-01T12:00:00Z"),
             s.event(agr, issued_at="2026-06-01T12:00:00Z"),
             s.event(agr, spatial="US", at="2026-06-02T10:00:00Z", issued_at="2026-06-02T12:00:00Z"),
             s.event(other, purpose="ads", at="2026-06-03T10:00:00Z", issued_at="2026-06-03T12:00:00Z"))  # fmt: skip
    with client_for(s) as c:
        r = c.get("/v1/violations", headers=regulator(s))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [i["verdict"]["value"] for i in items] == ["marketing", "US", "ads"]
        assert all(i["verdict"]["status"] == "violation" for i in items)
        got = c.get("/v1/violations", params={"since": "2026-06-02", "until": "2026-06-02"}, headers=regulator(s)).json()
        assert [i["verdict"]["value"] for i in got["items"]] == ["US"]
        got = c.get("/v1/violations", params={"agreement": other.envelope.id}, headers=regulator(s)).json()
        assert [i["verdict"]["value"] for i in got["items"]] == ["ads"]
        got = c.get("/v1/violations", params={"provider": s.provider.address, "consumer": s.consumer.address,
                                              "dataset": agr.payload["target"]}, headers=regulator(s)).json()  # fmt: skip
        assert [i["verdict"]["value"] for i in got["items"]] == ["marketing", "US"]
        got = c.get("/v1/violations", params={"consumer": s.stranger.address}, headers=regulator(s)).json()
        assert got["items"] == []
        # the parties see theirs; a stranger and an anonymous caller see none
        assert len(c.get("/v1/violations", headers=bearer(s, s.consumer.address)).json()["items"]) == 3
        assert len(c.get("/v1/violations", headers=bearer(s, s.provider.address)).json()["items"]) == 3
        assert c.get("/v1/violations", headers=bearer(s, s.stranger.address)).json()["items"] == []
        assert c.get("/v1/violations").json()["items"] == []
        # pages
        page = c.get("/v1/violations", params={"limit": 2}, headers=regulator(s)).json()
        rest = c.get("/v1/violations", params={"start": page["next_start"]}, headers=regulator(s)).json()
        assert [i["verdict"]["value"] for i in page["items"] + rest["items"]] == ["marketing", "US", "ads"]
        for bad in ({"since": "2026-06-03", "until": "2026-06-01"}, {"provider": "0x12"}, {"status": "violation"},
                    {"since": "yesterday"}, {"limit": 0}):  # fmt: skip
            r = c.get("/v1/violations", params=bad, headers=regulator(s))
            assert r.status_code == 400 or r.status_code == 422, (bad, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_dataset_agreements_and_records_by_party(sqlite_space: Space):
    s = sqlite_space
    ds, _, _, agr = s.concluded()
    offer2 = s.offer(ds)
    req2 = s.request(offer2, who=s.stranger)
    agr2 = s.agreement(offer2, req2, s.agreement_payload(offer2, consumer=s.stranger))
    s.submit(offer2, req2, agr2)
    with client_for(s) as c:
        r = c.get(f"/v1/datasets/{ds.envelope.id}/agreements", headers=regulator(s))
        assert r.status_code == 200, r.text
        assert [(a["id"], a["consumer"]) for a in r.json()["items"]] == [
            (agr.envelope.id, s.consumer.address), (agr2.envelope.id, s.stranger.address)]
        mine = c.get(f"/v1/datasets/{ds.envelope.id}/agreements", headers=bearer(s, s.consumer.address)).json()
        assert [a["id"] for a in mine["items"]] == [agr.envelope.id]
        assert c.get("/v1/datasets/urn:uuid:nope/agreements", headers=regulator(s)).status_code == 404
        got = c.get("/v1/records", params={"consumer": s.stranger.address, "kind": "contract_agreement"},
                    headers=regulator(s)).json()  # fmt: skip
        assert [x["id"] for x in got["records"]] == [agr2.envelope.id]


def test_bad_contract_input_is_a_4xx_problem_and_stores_nothing(sqlite_space: Space):
    s = sqlite_space
    ds, offer, req, agr = s.concluded()
    _, offer_b, req_b, agr_b = s.concluded()
    revoked = s.revocation(agr_b)
    s.submit(revoked)
    deep: dict = {"leftOperand": "count", "operator": "lteq", "rightOperand": 1}
    for _ in range(10_000):
        deep = {"and": [deep]}
    no_action = copy.deepcopy(RULES)
    del no_action["permission"][0]["action"]
    ds2 = s.dataset("other")
    s.submit(ds2)
    cases = {
        "rule without an action": (s.provider, s.offer(ds2, no_action)),
        "10,000-deep constraint": (s.provider, s.offer(ds2, {"permission": [{"action": "use", "constraint": [deep]}]})),
        "agreement without a request": (s.provider, s.sign(s.provider, "contract_agreement", s.agreement_payload(offer),
                                                          (offer,), record_id=None)),
        "event under someone else's agreement": (s.stranger, s.event(agr, who=s.stranger)),
        "revoking a revoked agreement": (s.provider, s.revocation(agr_b)),
        "unshipped @context": (s.provider, s.offer(ds2, None, **{"@context": "https://example.com/evil.jsonld"})),
    }
    with client_for(s) as c:
        for name, (who, sub) in cases.items():
            size = s.ledger.tree_size()
            r = c.post("/v1/records", json=sub.to_json(), headers=bearer(s, who.address))
            assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), name
            assert r.json()["detail"], name
            assert s.ledger.tree_size() == size, name


def test_a_policy_with_terms_we_do_not_implement_says_so_in_the_answers(sqlite_space: Space):
    s = sqlite_space
    rules = {"permission": [{"action": "use", "constraint": [
        {"leftOperand": "https://w3id.org/catenax/policy/FrameworkAgreement", "operator": "eq", "rightOperand": "pcf:1.0"}]}]}  # fmt: skip
    ds = s.dataset()
    s.submit(ds)
    offer = s.offer(ds, rules)
    with client_for(s) as c:
        r = c.post("/v1/records", json=offer.to_json(), headers=bearer(s, s.provider.address))
        assert r.status_code == 201, r.text
        assert "undetermined" in r.json()["state"]["reason"]
        req = s.request(offer)
        assert c.post("/v1/records", json=req.to_json(), headers=bearer(s, s.consumer.address)).status_code == 201
        agr = s.agreement(offer, req)
        r = c.post("/v1/records", json=agr.to_json(), headers=bearer(s, s.provider.address))
        assert r.status_code == 201 and "undetermined" in r.json()["state"]["reason"]
        assert "FrameworkAgreement" in r.json()["state"]["facts"]["unsupported"]
