"""Duties and obligations of an agreement (DESIGN §8, ``ledger.odrl.duties``): open when a
use makes them owed, fulfilled by a later event that performs them within their
constraints, overdue once an event happens after the deadline — derived state that the
audit recomputes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from contract_support import Space, make_space
from ledger.errors import LedgerError
from ledger.odrl import duties
from ledger.odrl.duties import DutyState
from ledger.odrl.jsonld import normalise
from ledger.odrl.policy import parse_policy
from ledger.store.models import StateRow

#: Use for analytics; the copy must be deleted by the end of June 2026.
DELETE_BY_JUNE = {
    "permission": [{
        "action": "use",
        "constraint": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "battery-passport"}],
        "duty": [{"action": "delete",
                  "constraint": [{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2026-06-30T23:59:59Z"}]}],
    }],
}
#: An obligation from the start: inform the provider within 30 days of the agreement.
INFORM_IN_30_DAYS = {
    "permission": [{"action": "use"}],
    "obligation": [{"action": "inform",
                    "constraint": [{"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P30D"}]}],
}


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


def agreement_duty(s: Space, agr, path: str) -> DutyState:
    state = s.ledger.record(agr.envelope.id, s.regulator).state
    return duties.from_facts(state.facts)[path]


def test_a_use_opens_the_duty_and_a_later_delete_fulfils_it(space: Space):
    s = space
    *_, agr = s.concluded(DELETE_BY_JUNE)
    path = "permission[0].duty[0]"
    assert agreement_duty(s, agr, path).status == "pending"
    [use] = s.submit(s.event(agr, at="2026-06-01T10:00:00Z"))
    assert use.state.status == "permitted" and use.state.fact("duties") == path
    owed = agreement_duty(s, agr, path)
    assert (owed.status, owed.since, owed.deadline) == ("open", 1, "2026-06-30T23:59:59Z")
    assert owed.status_for(1) == "open"
    [delete] = s.submit(s.event(agr, action="delete", purpose=None, at="2026-06-01T11:00:00Z"))
    assert delete.state.status == "permitted" and delete.state.fact("performs") == path
    done = agreement_duty(s, agr, path)
    assert (done.status, done.fulfilled_at, done.fulfilled_by) == ("fulfilled", 2, delete.record_id)
    assert done.status_for(1) == "fulfilled"
    # a second use makes it owed again; the first use's duty stays fulfilled
    [again] = s.submit(s.event(agr, at="2026-06-01T11:30:00Z"))
    reopened = agreement_duty(s, agr, path)
    assert reopened.status == "open" and reopened.status_for(1) == "fulfilled" and reopened.status_for(3) == "open"
    assert again.state.fact("duties") == path


def test_a_duty_not_performed_by_its_deadline_is_overdue_and_withdraws_the_permission(sqlite_space: Space):
    s = sqlite_space
    *_, agr = s.concluded(DELETE_BY_JUNE)
    path = "permission[0].duty[0]"
    s.submit(s.event(agr, at="2026-06-01T10:00:00Z"))
    # open, and at the time of a question after the deadline it is overdue already
    d = agreement_duty(s, agr, path)
    july = datetime(2026, 7, 1, tzinfo=timezone.utc)
    assert d.status == "open" and d.status_at(july) == "overdue" and d.status_for(1, july) == "overdue"
    assert d.status_at(datetime(2026, 6, 30, 23, 59, 59, tzinfo=timezone.utc)) == "open"  # at the deadline: not yet
    # an event after the deadline: the duty is overdue in the log, and the use it came with no longer holds
    [late_use] = s.submit(s.event(agr, at="2026-07-01T00:00:00Z", issued_at="2026-07-01T00:00:01Z"))
    assert agreement_duty(s, agr, path).status == "overdue"
    assert late_use.state.status == "violation" and "overdue" in late_use.state.reason
    # deleting now does not fulfil it: the deadline passed
    [delete] = s.submit(s.event(agr, action="delete", purpose=None, at="2026-07-01T01:00:00Z",
                                issued_at="2026-07-01T01:00:01Z"))  # fmt: skip
    assert delete.state.fact("performs") is None
    assert agreement_duty(s, agr, path).status == "overdue"


def test_a_delete_outside_the_duty_constraints_or_by_another_actor_does_not_fulfil(sqlite_space: Space):
    s = sqlite_space
    *_, agr = s.concluded(DELETE_BY_JUNE)
    path = "permission[0].duty[0]"
    s.submit(s.event(agr, at="2026-06-01T10:00:00Z"))
    [by_provider] = s.submit(s.event(agr, who=s.provider, actor=s.provider.address, action="delete", purpose=None))
    assert by_provider.state.status == "violation" and by_provider.state.fact("performs") is None
    [modify] = s.submit(s.event(agr, action="modify", at="2026-06-01T11:00:00Z"))  # not a delete
    assert modify.state.fact("performs") is None
    assert agreement_duty(s, agr, path).status == "open"


def test_an_obligation_is_open_from_the_agreement_and_inform_fulfils_it(sqlite_space: Space):
    s = sqlite_space
    *_, agr = s.concluded(INFORM_IN_30_DAYS)
    d = agreement_duty(s, agr, "obligation[0]")
    assert (d.status, d.since, d.deadline) == ("open", 0, "2026-01-31T00:00:00Z")
    [inform] = s.submit(s.event(agr, action="inform", at="2026-01-20T00:00:00Z", issued_at="2026-01-20T00:00:01Z"))
    assert inform.state.status == "permitted" and inform.state.fact("performs") == "obligation[0]"
    assert agreement_duty(s, agr, "obligation[0]").status == "fulfilled"


def test_a_duty_can_be_performed_after_revocation(sqlite_space: Space):
    s = sqlite_space
    *_, agr = s.concluded(DELETE_BY_JUNE)
    s.submit(s.event(agr, at="2026-06-01T10:00:00Z"))
    s.submit(s.revocation(agr))
    [delete] = s.submit(s.event(agr, action="delete", purpose=None, at="2026-06-01T11:00:00Z"))
    assert delete.state.status == "violation" and "revoked" in delete.state.reason  # no agreement in force ...
    assert agreement_duty(s, agr, "permission[0].duty[0]").status == "fulfilled"  # ... but the copy was deleted


def test_an_agreement_with_too_many_duties_is_refused(sqlite_space: Space):
    s = sqlite_space
    rules = {"permission": [{"action": "use", "duty": [{"action": "inform"}] * (duties.MAX_DUTIES + 1)}]}
    ds = s.dataset()
    offer = s.offer(ds, rules)
    req = s.request(offer)
    s.submit(ds, offer, req)
    size = s.ledger.tree_size()
    with pytest.raises(LedgerError, match="tracks at most"):
        s.submit(s.agreement(offer, req))
    assert s.ledger.tree_size() == size


def test_the_audit_recomputes_duty_states(sqlite_space: Space):
    s = sqlite_space
    *_, agr = s.concluded(DELETE_BY_JUNE)
    s.submit(s.event(agr, at="2026-06-01T10:00:00Z"), s.event(agr, action="delete", purpose=None))
    assert s.ledger.audit_effects().clean
    idx = s.ledger.record(agr.envelope.id, s.regulator).entry.leaf_index
    state = s.ledger.record(agr.envelope.id, s.regulator).state
    forged = state.with_facts(**{"duty:permission[0].duty[0]": DutyState("open", 1).text()})
    import json

    with s.ledger.store.engine.begin() as conn:
        conn.execute(update(StateRow).where(StateRow.idx == idx).values(facts=json.dumps(dict(forged.facts))))
    report = s.ledger.audit_effects()
    assert not report.clean and any(f"entry {idx}" in f and "duty" in f for f in report.findings)


@pytest.mark.parametrize(
    "constraint, deadline",
    [
        ({"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2026-07-01T00:00:00Z"}, "2026-06-30T23:59:59.999999Z"),
        ({"leftOperand": "dateTime", "operator": "lteq", "rightOperand": {"@value": "2026-06-30Z", "@type": "xsd:date"}},
         "2026-06-30T23:59:59.999999Z"),  # the whole day
        ({"leftOperand": "dateTime", "operator": "lteq", "rightOperand": {"@value": "2026-06-30", "@type": "xsd:date"}},
         "2026-07-01T13:59:59.999999Z"),  # no zone: the day's end anywhere on Earth
        ({"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P1M"}, "2026-02-01T00:00:00Z"),
        ({"leftOperand": "elapsedTime", "operator": "lt", "rightOperand": "PT1H"}, "2026-01-01T00:59:59.999999Z"),
        ({"and": [{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2026-03-01T00:00:00Z"},
                  {"leftOperand": "elapsedTime", "operator": "lteq", "rightOperand": "P10D"}]}, "2026-01-11T00:00:00Z"),
        ({"or": [{"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2026-03-01T00:00:00Z"},
                 {"leftOperand": "purpose", "operator": "eq", "rightOperand": "x"}]}, None),  # no sure bound
        ({"leftOperand": "dateTime", "operator": "gteq", "rightOperand": "2026-03-01T00:00:00Z"}, None),  # a start
    ],
)
def test_deadlines(constraint: dict, deadline: str | None):
    doc = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Agreement", "@id": "urn:x",
           "obligation": [{"action": "delete", "constraint": [constraint]}]}  # fmt: skip
    [duty] = parse_policy(normalise(doc)).obligations
    got = duties.deadline(duty, datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert (None if got is None else duties.time_text(got)) == deadline


def test_duty_state_text_round_trips():
    for d in (DutyState("pending"), DutyState("open", 3, 2, "urn:uuid:1", "2026-06-30T23:59:59Z"), DutyState("overdue", 1)):
        assert DutyState.parse(d.text()) == d
    for bad in ("", "open", "closed 1 0 - -", "open x 0 - -"):
        with pytest.raises(ValueError):
            DutyState.parse(bad)
