"""``ledger.odrl.duties``: which duties an agreement carries, their deadlines, and the
typed state the duty tracking keeps for each (DESIGN §8: open, fulfilled, overdue). Pure:
no I/O, no clock; ``ledger.kinds.access_event`` applies it event by event in log order.

**Tracked duties**: every permission's ``duty`` (path ``permission[i].duty[j]``) and every
policy ``obligation`` (``obligation[k]``), at most ``MAX_DUTIES`` per agreement (a larger
one is refused at admission). Remedies and consequences are not tracked.

**States** (``DutyState``), one per duty, kept in the agreement's derived state:

- ``pending``: a permission's duty that no use has made owed yet;
- ``open``: owed since event ``since`` (an obligation from the agreement on, ``since`` 0;
  a permission's duty from the first permitted event under that permission while the duty
  was pending or fulfilled);
- ``fulfilled``: an event performed it (below) and no use has made it owed again;
- ``overdue``: it was open and an event under the agreement happened (``at``) after its
  deadline. It stays overdue: nothing can fulfil it any more, and a permission with an
  overdue duty no longer holds (``Facts.overdue_duties``; ODRL 2.2, the ODRL Test Suite's
  case 061).

``fulfilled_at``/``fulfilled_by``: the count and record id of the latest event that
performed it, kept across re-opening, so each event's own duty is answerable: the duty of
the event at count *n* is fulfilled when ``fulfilled_at > n``.

**Performing a duty**: an event by the agreement's assignee whose action the duty's action
covers and whose facts satisfy the duty's refinements and constraints
(``ledger.odrl.evaluate.performs`` is True), with the facts a verdict uses — ``dateTime``
is the event's ``at``, ``elapsedTime`` the time since the agreement — so a deadline is
the same for every use that made the duty owed. One performance discharges the duty for
every use before it (a ``delete`` deletes the copies of all earlier uses).

**Deadline**: the last instant at which the duty's constraints can still hold, from its
upper bounds: ``dateTime`` ``lt``/``lteq``/``eq`` X and ``elapsedTime`` ``lt``/``lteq``/
``eq`` D, as constraints of the duty or operands of an ``and``/``andSequence`` among them
(the smallest wins; a date counts as its whole day, a time without zone as 14 h later, a
duration from the agreement time). A duty without one is never overdue. Views answer
"overdue" also for an open duty whose deadline has passed at the time of the question
(``status_at``), saying so with that time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from ledger.errors import InvalidRecord
from ledger.odrl.policy import (
    DAY_TICKS,
    FLOATING_TICKS,
    TICKS_PER_SECOND,
    Constraint,
    ConstraintNode,
    Duration,
    Instant,
    LogicalConstraint,
    Policy,
    Rule,
    civil_from_days,
    days_from_civil,
    days_in_month,
)

MAX_DUTIES = 16
PENDING, OPEN, FULFILLED, OVERDUE = "pending", "open", "fulfilled", "overdue"
#: The fact name under which an agreement's state keeps a duty's state.
FACT_PREFIX = "duty:"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def tracked(policy: Policy) -> tuple[Rule, ...]:
    """The duties the tracking follows, in path order; ``InvalidRecord`` beyond ``MAX_DUTIES``."""
    out = tuple(d for p in policy.permissions for d in p.duties) + policy.obligations
    if len(out) > MAX_DUTIES:
        raise InvalidRecord(f"the policy has {len(out)} duties and obligations; the ledger tracks at most {MAX_DUTIES}")
    return out


def _ticks(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 2


def _from_ticks(ticks: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ticks // 2)


def _after(start: int, d: Duration) -> int:
    """``start`` (ticks) plus ``d``, months added to the civil date (XSD's day clamp)."""
    if d.months:
        days, tod = divmod(start, DAY_TICKS)
        y, m, day = civil_from_days(days)
        ny, nm = divmod(y * 12 + (m - 1) + d.months, 12)
        start = days_from_civil(ny, nm + 1, min(day, days_in_month(ny, nm + 1))) * DAY_TICKS + tod
    return start + d.ticks


def _bound(c: Constraint, start: int) -> int | None:
    """The last tick at which ``c`` can hold, when ``c`` is an upper bound on time."""
    if c.problem is not None or c.operator not in ("lt", "lteq", "eq") or not c.right:
        return None
    r = c.right[0]
    if c.left_operand == "dateTime" and isinstance(r, Instant):
        last = r.start - 1 if c.operator == "lt" else (r.end - 1 if r.end != r.start else r.start)
        return last + (FLOATING_TICKS if r.floating else 0)
    if c.left_operand == "elapsedTime" and isinstance(r, Duration):
        end = _after(start, r)
        return end - 1 if c.operator == "lt" else end
    return None


def _bounds(nodes: tuple[ConstraintNode, ...], start: int) -> list[int]:
    out: list[int] = []
    for n in nodes:
        if isinstance(n, LogicalConstraint):
            if n.operator in ("and", "andSequence") and n.problem is None:
                out += _bounds(n.operands, start)
        else:
            b = _bound(n, start)
            if b is not None:
                out.append(b)
    return out


def deadline(duty: Rule, agreed_at: datetime) -> datetime | None:
    """The last instant at which ``duty`` can be performed (see the module docstring), or None."""
    bounds = _bounds(duty.constraints + duty.refinements, _ticks(agreed_at))
    return _from_ticks(min(bounds)) if bounds else None


def time_text(at: datetime) -> str:
    text = at.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z"


@dataclass(frozen=True, slots=True)
class DutyState:
    """One duty's state (module docstring). ``deadline``: RFC 3339 UTC, or None."""

    status: str
    since: int = 0
    fulfilled_at: int = 0
    fulfilled_by: str | None = None
    deadline: str | None = None

    def text(self) -> str:
        """The fact value: ``status since fulfilled_at fulfilled_by|- deadline|-``."""
        return f"{self.status} {self.since} {self.fulfilled_at} {self.fulfilled_by or '-'} {self.deadline or '-'}"

    @classmethod
    def parse(cls, text: str) -> DutyState:
        parts = text.split(" ")
        if len(parts) != 5 or parts[0] not in (PENDING, OPEN, FULFILLED, OVERDUE):
            raise ValueError(f"not a duty state: {text!r}")
        by, dl = (None if p == "-" else p for p in parts[3:5])
        return cls(parts[0], int(parts[1]), int(parts[2]), by, dl)

    def past_deadline(self, at: datetime) -> bool:
        return self.deadline is not None and at > datetime.fromisoformat(self.deadline)

    def opened(self, count: int, at: datetime) -> DutyState:
        """The state after a use at ``count`` made the duty owed."""
        if self.status in (OPEN, OVERDUE):
            return self
        return replace(self, status=OVERDUE if self.past_deadline(at) else OPEN, since=count)

    def performed(self, count: int, record_id: str) -> DutyState:
        return replace(self, status=FULFILLED, fulfilled_at=count, fulfilled_by=record_id)

    def status_for(self, count: int, as_of: datetime | None = None) -> str:
        """The state of this duty as the use at ``count`` made it owed: ``fulfilled`` when a
        later event performed it, else ``overdue`` (in the log, or its deadline passed at
        ``as_of``), else ``open``."""
        if self.fulfilled_at > count:
            return FULFILLED
        if self.status == OVERDUE or (as_of is not None and self.past_deadline(as_of)):
            return OVERDUE
        return OPEN

    def status_at(self, as_of: datetime | None = None) -> str:
        """The duty's own state, ``overdue`` also when open past its deadline at ``as_of``."""
        if self.status == OPEN and as_of is not None and self.past_deadline(as_of):
            return OVERDUE
        return self.status


def initial(policy: Policy, agreed_at: datetime) -> dict[str, DutyState]:
    """Each tracked duty's state when the agreement is concluded, by path."""
    out: dict[str, DutyState] = {}
    for d in tracked(policy):
        dl = deadline(d, agreed_at)
        out[d.path] = DutyState(OPEN if d.kind == "obligation" else PENDING, deadline=None if dl is None else time_text(dl))
    return out


def from_facts(facts: tuple[tuple[str, str], ...]) -> dict[str, DutyState]:
    """The duty states kept in an agreement's facts, by path."""
    return {n[len(FACT_PREFIX):]: DutyState.parse(v) for n, v in facts if n.startswith(FACT_PREFIX)}


def as_facts(states: dict[str, DutyState]) -> dict[str, str]:
    return {FACT_PREFIX + path: s.text() for path, s in states.items()}
