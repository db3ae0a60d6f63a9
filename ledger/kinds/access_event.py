"""``access_event``: one use of a dataset under an agreement, and its verdict (DESIGN §8).

Who (``actor``) did what (``action``, an ODRL action) with which ``dataset`` under which
``agreement``, for what ``purpose``, where (``spatial``, an ISO 3166 code), when (``at``),
with the DSP transfer process id. The one parent is the agreement. The provider, the
consumer (the agreement's assignee) or the operator relaying a connector's log may author
it; anyone else is refused. A violating event is admitted — recording it is the point —
and its verdict is its derived state:

- ``violation`` when the agreement is not in force at the event's log position (revoked),
  the dataset is not the agreement's target, or the actor is not the assignee; otherwise
- the verdict of ``ledger.odrl.evaluate`` over the agreement's rules with the facts
  ``dateTime`` = ``at``, ``purpose``, ``spatial``, ``count`` = this event's position among
  the agreement's events in log order (the agreement's ``events`` fact, plus one; the
  append's compare-and-swap on the agreement's state keeps it exact under concurrent
  writers), ``elapsedTime`` = ``at`` minus the agreement's ``timestamp``.

State: ``status`` the outcome (``permitted`` / ``violation`` / ``undetermined``), ``reason``
the evaluator's sentence, facts ``count``, ``late`` (``true`` when the event was signed
more than ``LATE_AFTER`` after its ``at``), and ``rule``, ``constraint``, ``value`` of a
violation. An event's ``at`` may not lie after its ``issued_at`` (plus clock skew).

Effects: terms ``agreement``, ``dataset``, ``provider``, ``consumer``; an
``under_agreement`` edge; the agreement's ``events`` fact goes up by one. The event is
disclosed to the other party.

Not tracked yet: duties (ODRL ``duty`` and ``obligation``) as open / fulfilled / overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.effects import DerivedState, Edge, EdgeType, StateChange, Term
from ledger.errors import InvalidRecord, MalformedInput
from ledger.envelope import parse_issued_at
from ledger.kinds.base import AdmissionContext, Admitted, Kind, payload_as
from ledger.kinds.contract import ContractPolicy, agreement_time, consumer_of, party_address
from ledger.odrl.evaluate import Facts, Outcome, evaluate

#: An event signed more than this after its ``at`` is flagged ``late``.
LATE_AFTER = timedelta(hours=24)
#: How far ``at`` may lie after the event's ``issued_at`` (clocks differ).
AT_SKEW = timedelta(minutes=5)
PERMITTED, VIOLATION, UNDETERMINED = (str(o) for o in (Outcome.PERMITTED, Outcome.VIOLATION, Outcome.UNDETERMINED))


class AccessEventPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agreement: str = Field(pattern=formats.anchored(formats.RECORD_ID))
    actor: str = Field(min_length=1, max_length=300)
    action: str = Field(min_length=1, max_length=300, pattern=r"^[A-Za-z][A-Za-z0-9:/#._-]*$")
    dataset: str = Field(pattern=formats.anchored(formats.RECORD_ID))
    at: str = Field(pattern=formats.anchored(formats.ISSUED_AT))
    purpose: str | None = Field(default=None, min_length=1, max_length=300)
    spatial: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$")
    transfer_process_id: str | None = Field(default=None, min_length=1, max_length=300)


def _fail(message: str) -> InvalidRecord:
    return InvalidRecord(f"access_event: {message}")


def _time(value: str, what: str) -> datetime:
    try:
        return parse_issued_at(value)
    except (MalformedInput, ValueError):
        raise _fail(f"{what} {value!r} is not an RFC 3339 UTC time") from None


def _verdict(p: AccessEventPayload, ctx: AdmissionContext, agreement: ContractPolicy, state: DerivedState,
             count: int, at: datetime) -> DerivedState:  # fmt: skip
    consumer = consumer_of(agreement)
    pol = agreement.policy
    if state.status != "in_force":
        return DerivedState(VIOLATION, f"no agreement in force: {p.agreement} is {state.status} ({state.reason})"[:1000],
                            facts=(("rule", "agreement"),))  # fmt: skip
    if p.dataset != pol.target:
        return DerivedState(VIOLATION, f"target mismatch: dataset {p.dataset!r}, the agreement covers {pol.target!r}",
                            facts=(("rule", "target"), ("value", p.dataset[:500])))  # fmt: skip
    if party_address(p.actor) != consumer:
        return DerivedState(VIOLATION, f"actor {p.actor!r} is not the agreement's assignee {pol.assignee!r}"[:1000],
                            facts=(("rule", "assignee"), ("value", p.actor[:500])))  # fmt: skip
    facts = Facts(action=p.action, at=at, count=count, elapsed=at - agreement_time(pol),
                  purpose=p.purpose, spatial=p.spatial, target=p.dataset, assignee=pol.assignee)  # fmt: skip
    v = evaluate(pol, facts)
    extra = () if v.outcome is Outcome.PERMITTED else (("rule", v.rule), ("constraint", v.constraint), ("value", v.value))
    return DerivedState(str(v.outcome), v.reason[:1000], facts=tuple((n, x[:500]) for n, x in extra if x))


def _check(p: AccessEventPayload, ctx: AdmissionContext) -> Admitted:
    if len(ctx.parents) != 1 or ctx.parents[0].kind != "contract_agreement":
        got = ", ".join(x.kind for x in ctx.parents) or "none"
        raise _fail(f"needs exactly one parent, the agreement (a contract_agreement); got {got}")
    parent = ctx.parents[0]
    if p.agreement != parent.record_id:
        raise _fail(f"agreement {p.agreement!r} is not the parent agreement {parent.record_id!r}")
    if parent.model is None and ctx.author not in (parent.author, ctx.operator):
        raise _fail(f"an event under agreement {parent.record_id!r} is reported by its provider {parent.author}, "
                    f"its consumer or the operator; author is {ctx.author}, who cannot read it")  # fmt: skip
    agreement = payload_as(parent, ContractPolicy, "the agreement")
    consumer = consumer_of(agreement)
    if ctx.author not in (parent.author, consumer, ctx.operator):
        raise _fail(f"an event under agreement {parent.record_id!r} is reported by its provider {parent.author}, "
                    f"its consumer {consumer} or the operator; author is {ctx.author}")  # fmt: skip
    state = parent.state
    if state is None:
        raise _fail(f"agreement {parent.record_id!r} has no derived state")
    at, issued = _time(p.at, "at"), _time(ctx.issued_at, "issued_at")
    if at > issued + AT_SKEW:
        raise _fail(f"at {p.at} is after the event was signed ({ctx.issued_at})")
    events = int(state.fact("events", "0") or "0")
    count = events + 1
    verdict = _verdict(p, ctx, agreement, state, count, at)
    late = issued - at > LATE_AFTER
    own = verdict.with_facts(count=str(count), late="true" if late else "false")
    others = tuple(a for a in (parent.author, consumer) if a is not None and a != ctx.author)
    return Admitted(
        terms=(Term("agreement", parent.record_id), Term("dataset", p.dataset), Term("provider", parent.author))
        + ((Term("consumer", consumer),) if consumer else ()),
        edges=(Edge(EdgeType.UNDER_AGREEMENT, parent.record_id),),
        state=own,
        changes=(StateChange(parent.record_id, state.with_facts(events=str(count))),),
        discloses=others,
    )


ACCESS_EVENT = Kind(
    name="access_event",
    roles=frozenset({"provider", "consumer"}),
    schema=AccessEventPayload,
    default_visibility="private",
    check=_check,
)
