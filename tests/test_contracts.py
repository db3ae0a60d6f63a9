"""The contract kinds and access events on a ledger (DESIGN §8): who may author what, the
parent rules, verdicts as derived state, revocation at its log position, and the audit's
recomputation of all of it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from contract_support import Space, make_space
from ledger.errors import LedgerError
from ledger.log import RecordQuery
from ledger.store.models import StateRow
from pcf_support import leaf_of


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


def refused(s: Space, *subs, match: str) -> None:
    size = s.ledger.tree_size()
    with pytest.raises(LedgerError, match=match):
        s.submit(*subs)
    assert s.ledger.tree_size() == size  # nothing stored


def state_of(s: Space, record_id: str):
    return s.ledger.record(record_id, s.regulator).state


# -- the negotiation ---------------------------------------------------------------------


def test_offer_request_agreement_conclude_with_both_signatures(space: Space):
    s = space
    ds, offer, req, agr = s.concluded()
    a = state_of(s, agr.envelope.id)
    assert a.status == "in_force" and a.fact("events") == "0" and a.reason == ""
    assert state_of(s, req.envelope.id).status == "agreed"
    assert state_of(s, offer.envelope.id).status == "offered"
    # the consumer can read the agreement (disclosed to it); a stranger cannot see it
    assert s.ledger.record(agr.envelope.id, s.viewer(s.consumer)).payload_visible
    with pytest.raises(LedgerError):
        s.ledger.record(agr.envelope.id, s.viewer(s.stranger))
    with pytest.raises(LedgerError, match="party of its contract"):
        s.ledger.withdraw_disclosure(agr.envelope.id, s.consumer.address, s.viewer(s.provider))
    assert s.ledger.record(agr.envelope.id, s.viewer(s.consumer)).payload_visible
    found = s.ledger.list_records(s.regulator, query=RecordQuery(terms=(("agreement", agr.envelope.id),)))[0]
    assert [v.entry.record_id for v in found] == [agr.envelope.id]


def test_an_agreement_with_other_rules_than_the_request_is_refused_naming_the_difference(sqlite_space: Space):
    s = sqlite_space
    ds = s.dataset()
    offer = s.offer(ds)
    req = s.request(offer)
    s.submit(ds, offer, req)
    body = s.agreement_payload(offer)
    body["permission"][0]["constraint"][0]["and"][4]["rightOperand"] = 30
    refused(s, s.agreement(offer, req, body), match="rules differ from the request's.*rightOperand")


def test_an_agreement_in_expanded_iris_equals_the_compact_request(sqlite_space: Space):
    """eclipse-tractusx/tractusx-edc#1299: the same terms, written with full IRIs."""
    s = sqlite_space
    ds = s.dataset()
    offer = s.offer(ds)
    req = s.request(offer)
    s.submit(ds, offer, req)
    odrl = "http://www.w3.org/ns/odrl/2/"
    body = s.agreement_payload(offer)
    for rule in body["permission"]:
        rule["action"] = {"@id": odrl + "use"}
        for c in rule["constraint"][0]["and"]:
            c["leftOperand"] = {"@id": odrl + c["leftOperand"]}
            c["operator"] = {"@id": "odrl:" + c["operator"]}
    [a] = s.submit(s.agreement(offer, req, body))
    assert a.state is not None and a.state.status == "in_force"


@pytest.mark.parametrize(
    "case, match",
    [
        ("offer by a consumer", "needs one of"),
        ("offer of another provider's dataset", "another provider's"),
        ("offer without rules", "at least one permission"),
        ("offer whose target is not its dataset", "target must be the parent dataset"),
        ("request by the provider itself", "needs one of|own offer"),
        ("request with other rules", "rules differ from the offer's"),
        ("agreement without a request", "parents must be the offer, then"),
        ("agreement by another provider", "only the offer's author"),
        ("agreement for another assignee", "assignee"),
        ("agreement on an agreed request", "is agreed"),
        ("agreement with a bad timestamp", "timestamp"),
    ],
)
def test_negotiation_refusals(sqlite_space: Space, case: str, match: str):
    s = sqlite_space
    ds = s.dataset()
    s.submit(ds)
    if case == "offer by a consumer":
        body = s.offer(ds).payload
        sub = s.sign(s.consumer, "contract_offer", body, (ds,), record_id=body["@id"])
        return refused(s, sub, match=match)
    if case == "offer of another provider's dataset":
        body = s.offer(ds).payload
        return refused(s, s.sign(s.stranger, "contract_offer", body | {"assigner": s.stranger.address}, (ds,),
                                 record_id=body["@id"]), match=match)  # fmt: skip
    if case == "offer without rules":
        return refused(s, s.offer(ds, rules={}), match=match)
    if case == "offer whose target is not its dataset":
        return refused(s, s.offer(ds, target="urn:uuid:00000000-0000-0000-0000-000000000000"), match=match)
    offer = s.offer(ds)
    s.submit(offer)
    if case == "request by the provider itself":
        return refused(s, s.request(offer, who=s.provider), match=match)
    if case == "request with other rules":
        return refused(s, s.request(offer, rules={"permission": [{"action": "use"}]}), match=match)
    req = s.request(offer)
    s.submit(req)
    if case == "agreement without a request":
        body = s.agreement_payload(offer)
        return refused(s, s.sign(s.provider, "contract_agreement", body, (offer,), record_id=body["@id"]), match=match)
    if case == "agreement by another provider":
        body = s.agreement_payload(offer) | {"assigner": s.stranger.address}
        return refused(s, s.agreement(offer, req, body, who=s.stranger), match=match)
    if case == "agreement for another assignee":
        return refused(s, s.agreement(offer, req, s.agreement_payload(offer, consumer=s.stranger)), match=match)
    if case == "agreement on an agreed request":
        s.submit(s.agreement(offer, req))
        return refused(s, s.agreement(offer, req), match=match)
    if case == "agreement with a bad timestamp":
        return refused(s, s.agreement(offer, req, s.agreement_payload(offer, timestamp="yesterday")), match=match)
    raise AssertionError(case)


# -- access events and verdicts ----------------------------------------------------------


def test_verdicts_name_the_rule_and_count_is_the_position_among_the_agreements_events(space: Space):
    s = space
    _, _, _, agr = s.concluded()
    [ok] = s.submit(s.event(agr))
    assert ok.state.status == "permitted" and ok.state.fact("count") == "1" and ok.state.fact("late") == "false"
    [wrong_purpose] = s.submit(s.event(agr, purpose="marketing"))
    assert wrong_purpose.state.status == "violation" and "purpose" in wrong_purpose.state.reason
    assert wrong_purpose.state.fact("value") == "marketing"
    [wrong_place] = s.submit(s.event(agr, spatial="US"))
    assert wrong_place.state.status == "violation" and "spatial" in wrong_place.state.reason
    [fourth] = s.submit(s.event(agr))  # count 4 > 3
    assert fourth.state.status == "violation" and fourth.state.fact("count") == "4" and "count" in fourth.state.reason
    [late] = s.submit(s.event(agr, at="2026-05-01T10:00:00Z"))
    assert late.state.fact("late") == "true"
    [distributed] = s.submit(s.event(agr, action="distribute"))  # prohibited
    assert distributed.state.status == "violation" and "prohibition" in distributed.state.reason
    assert state_of(s, agr.envelope.id).fact("events") == "6"


def test_period_boundaries(sqlite_space: Space):
    s = sqlite_space
    _, _, _, agr = s.concluded()
    [before] = s.submit(s.event(agr, at="2025-12-31T23:59:59Z", issued_at="2026-01-01T00:00:00Z"))
    [start] = s.submit(s.event(agr, at="2026-01-01T00:00:00Z", issued_at="2026-01-01T00:00:01Z"))
    assert (before.state.status, start.state.status) == ("violation", "permitted")


def test_target_mismatch_and_actor_not_assignee_are_violations(sqlite_space: Space):
    s = sqlite_space
    _, _, _, agr = s.concluded()
    [other] = s.submit(s.event(agr, dataset="urn:uuid:11111111-1111-1111-1111-111111111111"))
    assert other.state.status == "violation" and "target mismatch" in other.state.reason
    [actor] = s.submit(s.event(agr, actor=s.stranger.address))
    assert actor.state.status == "violation" and "assignee" in actor.state.reason


def test_revocation_takes_effect_at_its_log_position(space: Space):
    s = space
    _, _, _, agr = s.concluded()
    [before] = s.submit(s.event(agr))
    s.submit(s.revocation(agr, who=s.consumer, reason="ended early"))
    [after] = s.submit(s.event(agr, who=s.provider))
    assert before.state.status == "permitted"
    assert after.state.status == "violation" and "revoked" in after.state.reason
    assert state_of(s, before.record_id).status == "permitted"  # earlier verdicts stand
    assert state_of(s, agr.envelope.id).status == "revoked"
    refused(s, s.revocation(agr), match="is revoked")


def test_event_refusals(sqlite_space: Space):
    s = sqlite_space
    _, offer, _, agr = s.concluded()
    refused(s, s.event(agr, who=s.stranger), match="reported by its provider")
    refused(s, s.event(agr, at="2026-06-02T00:00:00Z"), match="after the event was signed")
    refused(s, s.event(agr, agreement="urn:uuid:22222222-2222-2222-2222-222222222222"), match="not the parent agreement")
    bad = s.sign(s.consumer, "access_event", s.event(agr).payload, (offer,))
    refused(s, bad, match="needs exactly one parent, the agreement")
    refused(s, s.event(agr, action=""), match="action")


def test_a_policy_we_cannot_evaluate_is_stored_and_its_events_are_undetermined(sqlite_space: Space):
    s = sqlite_space
    rules = {"permission": [{"action": "use", "constraint": [
        {"leftOperand": "https://w3id.org/tractusx/policy/v1.0.0/FrameworkAgreement", "operator": "eq",
         "rightOperand": "DataExchangeGovernance:1.0"}]}]}  # fmt: skip
    _, offer, _, agr = s.concluded(rules)
    assert "undetermined" in state_of(s, offer.envelope.id).reason
    assert "undetermined" in state_of(s, agr.envelope.id).reason
    [e] = s.submit(s.event(agr))
    assert e.state.status == "undetermined"


def test_the_audit_recomputes_verdicts_and_names_a_tampered_one(sqlite_space: Space):
    s = sqlite_space
    _, _, _, agr = s.concluded()
    s.submit(s.event(agr), s.event(agr, purpose="marketing"))
    assert s.ledger.audit_effects().clean
    bad = s.ledger.list_records(s.regulator, query=RecordQuery(kind="access_event"))[0][1].entry.leaf_index
    with s.ledger.store.engine.begin() as conn:
        conn.execute(update(StateRow).where(StateRow.idx == bad).values(status="permitted", reason=""))
    report = s.ledger.audit_effects()
    assert not report.clean and any(f"entry {bad}" in f and "violation" in f for f in report.findings)



# -- count under concurrent writers --------------------------------------------------------

WRITERS, PER_WRITER, LIMIT = 8, 20, 100
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_count_is_exact_under_concurrent_writer_processes(tmp_path: Path, database_url: str):
    """8 processes append 160 events under one agreement with ``count lteq 100``: exactly
    100 are permitted and 60 are violations, with counts 1..160 each once."""
    s = make_space(tmp_path, database_url)
    try:
        rules = {"permission": [{"action": "use", "constraint": [
            {"leftOperand": "count", "operator": "lteq", "rightOperand": LIMIT}]}]}  # fmt: skip
        _, _, _, agr = s.concluded(rules)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.workers.event_appender", str(tmp_path), database_url, s.consumer.key.hex(),
                 agr.envelope.id, leaf_of(agr), agr.payload["target"], str(PER_WRITER), str(w)],
                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            for w in range(WRITERS)
        ]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err[-2000:]
        events, start = [], 0
        while True:
            page, start = s.ledger.list_records(s.regulator, start=start, limit=500, query=RecordQuery(kind="access_event"))
            events += page
            if start is None:
                break
        states = [v.state for v in events]
        assert len(states) == WRITERS * PER_WRITER
        assert sorted(int(x.fact("count")) for x in states) == list(range(1, WRITERS * PER_WRITER + 1))
        # in log order, count is the position
        assert [int(x.fact("count")) for x in states] == list(range(1, WRITERS * PER_WRITER + 1))
        assert sum(x.status == "permitted" for x in states) == LIMIT
        assert sum(x.status == "violation" for x in states) == WRITERS * PER_WRITER - LIMIT
        assert state_of(s, agr.envelope.id).fact("events") == str(WRITERS * PER_WRITER)
        assert s.ledger.audit_effects().clean
    finally:
        s.ledger.store.close()


def test_the_api_answers_an_event_with_its_verdict(sqlite_space: Space):
    from fastapi.testclient import TestClient

    from api.app import create_app

    s = sqlite_space
    _, _, _, agr = s.concluded()
    token = s.ledger.issue_token(s.consumer.address)
    app = create_app(s.ledger, s.settings, start_sealer=False)
    with TestClient(app) as client:
        r = client.post("/v1/records", json=s.event(agr, purpose="marketing").to_json(),
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 201, r.text
    state = r.json()["state"]
    assert state["status"] == "violation" and state["facts"]["count"] == "1" and "purpose" in state["reason"]
