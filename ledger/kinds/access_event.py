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

**Duties** (``ledger.odrl.duties``): the agreement's state keeps one ``duty:<path>`` fact
per duty. For each event, in this order: an open duty whose deadline the event's ``at``
has passed becomes ``overdue`` (and a permission with an overdue duty no longer holds for
this event); an event by the assignee on the agreement's dataset that performs an open
duty fulfils it (also after revocation: deleting the data is then exactly what is owed) —
its facts ``performs`` name them, and unless a prohibition is what holds or may hold, it
is ``permitted`` as the performance of that duty (what is owed is allowed); a
permitted event under a permission with duties makes them owed (``opened``), and its fact
``duties`` names them. Whether an event's duties are open, fulfilled or overdue is read
from its ``count`` and the agreement's duty facts (``DutyState.status_for``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.effects import DerivedState, Edge, EdgeType, StateChange, Term
from ledger.errors import InvalidRecord, MalformedInput
from ledger.envelope import parse_issued_at
from ledger.kinds.base import AdmissionContext, Admitted, Kind, payload_as
from ledger.kinds.contract import ContractPolicy, agreement_time, consumer_of, one_parent, party_address
from ledger.odrl import duties
from ledger.odrl.evaluate import Facts, Outcome, Verdict, evaluate, performs

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


def _early(p: AccessEventPayload, agreement: ContractPolicy, state: DerivedState) -> DerivedState | None:
    """The violations decided before the policy is read, or None."""
    pol = agreement.policy
    if state.status != "in_force":
        return DerivedState(VIOLATION, f"no agreement in force: {p.agreement} is {state.status} ({state.reason})"[:1000],
                            facts=(("rule", "agreement"),))  # fmt: skip
    if p.dataset != pol.target:
        return DerivedState(VIOLATION, f"target mismatch: dataset {p.dataset!r}, the agreement covers {pol.target!r}",
                            facts=(("rule", "target"), ("value", p.dataset[:500])))  # fmt: skip
    if party_address(p.actor) != consumer_of(agreement):
        return DerivedState(VIOLATION, f"actor {p.actor!r} is not the agreement's assignee {pol.assignee!r}"[:1000],
                            facts=(("rule", "assignee"), ("value", p.actor[:500])))  # fmt: skip
    return None


def _judge(p: AccessEventPayload, ctx: AdmissionContext, agreement: ContractPolicy, state: DerivedState,
           count: int, at: datetime) -> tuple[DerivedState, dict[str, str]]:  # fmt: skip
    """This event's verdict and duties, and the agreement's duty facts after it (module docstring)."""
    pol = agreement.policy
    dstates = duties.from_facts(state.facts)
    for path, d in dstates.items():  # an open duty whose deadline this event's time has passed
        if d.status == duties.OPEN and d.past_deadline(at):
            dstates[path] = replace(d, status=duties.OVERDUE)
    facts = Facts(action=p.action, at=at, count=count, elapsed=at - agreement_time(pol), purpose=p.purpose,
                  spatial=p.spatial, target=p.dataset, assignee=pol.assignee,
                  overdue_duties=frozenset(k for k, d in dstates.items() if d.status == duties.OVERDUE))  # fmt: skip
    early = _early(p, agreement, state)
    performed: list[str] = []
    if early is None or early.fact("rule") == "agreement":  # after revocation a duty may still be performed
        if party_address(p.actor) == consumer_of(agreement) and p.dataset == pol.target:
            for d in duties.tracked(pol):
                if dstates[d.path].status == duties.OPEN and performs(d, facts):
                    dstates[d.path] = dstates[d.path].performed(count, ctx.record_id)
                    performed.append(d.path)
    if early is not None:
        return early, duties.as_facts(dstates)
    v = evaluate(pol, facts)
    if v.outcome is not Outcome.PERMITTED and performed and not (v.rule or "").startswith("prohibition"):
        v = Verdict(Outcome.PERMITTED, performed[0], None, None, f"{performed[0]}: performs the duty {p.action}")
    owed: list[str] = []
    if v.outcome is Outcome.PERMITTED and v.rule is not None and v.rule.startswith("permission["):
        rule = pol.find(v.rule)
        for d in getattr(rule, "duties", ()):
            dstates[d.path] = dstates[d.path].opened(count, at)
            owed.append(d.path)
    extra = () if v.outcome is Outcome.PERMITTED else (("rule", v.rule), ("constraint", v.constraint), ("value", v.value))
    own = tuple((n, x[:500]) for n, x in extra if x)
    if owed:
        own += (("duties", ",".join(owed)[:500]),)
    if performed:
        own += (("performs", ",".join(performed)[:500]),)
    return DerivedState(str(v.outcome), v.reason[:1000], facts=own), duties.as_facts(dstates)


def _check(p: AccessEventPayload, ctx: AdmissionContext) -> Admitted:
    parent = one_parent(ctx, "access_event", "contract_agreement", "the agreement")
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
    count = int(state.fact("events", "0") or "0") + 1
    verdict, duty_facts = _judge(p, ctx, agreement, state, count, at)
    late = issued - at > LATE_AFTER
    own = verdict.with_facts(count=str(count), late="true" if late else "false")
    others = tuple(a for a in (parent.author, consumer) if a is not None and a != ctx.author)
    return Admitted(
        terms=(Term("agreement", parent.record_id), Term("dataset", p.dataset), Term("provider", parent.author))
        + ((Term("consumer", consumer),) if consumer else ()),
        edges=(Edge(EdgeType.UNDER_AGREEMENT, parent.record_id),),
        state=own,
        changes=(StateChange(parent.record_id, state.with_facts(events=str(count), **duty_facts)),),
        discloses=others,
    )


ACCESS_EVENT = Kind(
    name="access_event",
    roles=frozenset({"provider", "consumer"}),
    schema=AccessEventPayload,
    default_visibility="private",
    check=_check,
)
