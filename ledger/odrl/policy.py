"""``ledger.odrl.policy``: the typed model of a normalised ODRL 2.2 policy (the form that
``ledger.odrl`` fixes), and ``parse_policy`` that builds it. Pure: no I/O.

What was chosen:

- **Refused** (``InvalidRecord``, the message names the path, e.g.
  ``permission[0].constraint[1].and[0]``): a value of the wrong JSON type; a rule without
  an action (ODRL 2.2: exactly one action per rule, so a list is refused too); a
  constraint without ``leftOperand``, ``operator`` or ``rightOperand``, or with both a
  left operand and a logical operator, or with two logical operators; a logical
  constraint with no operands; ``duty`` outside a permission, ``remedy`` outside a
  prohibition, ``consequence`` outside a duty/obligation/remedy/consequence; nesting
  deeper than ``MAX_DEPTH`` levels (rules, constraints and logical operands each count
  one; checked before descending, so a 10,000-deep document is refused without
  recursing into it); and, for a left operand we implement under an operator we
  implement, a right operand that does not fit it (``count`` with ``"abc"``, ``eq``
  with two values).
- **Parsed, not refused** (profiles extend ODRL): an unknown left operand or operator
  (its right operand is kept as written); an operator we implement on a left operand
  where it is undefined (``lt`` on ``purpose``); ``unit`` on our left operands; a rule
  or constraint property we do not know (bare or IRI, other than ``@id``/``uid``/
  ``@type``); a bare-named policy property we do not know (``conflict``,
  ``inheritFrom``). Each carries a ``problem`` sentence (rule: ``extra``, policy:
  ``extra``) that the evaluator turns into *unknown*; ``ledger.odrl.evaluate.
  unsupported`` lists them. Policy properties that are full IRIs (``dct:title`` …)
  are annotations and are ignored.
- **Right operands are typed once, here**:

  - ``dateTime`` → ``Instant``: xsd:dateTime (seconds optional, so ``2023-12-31T06:00Z``
    parses; fractional seconds of any length; ``Z`` or ``±hh:mm`` up to 14:00;
    ``24:00:00`` is the next midnight; years of more than four digits and negative
    years in XSD 1.1 numbering) or xsd:date (the whole day: ``[start, end)``). Kept as
    *ticks*: half-microseconds since 1970-01-01T00:00Z in integer arithmetic (no
    ``datetime`` range limits). A value with non-zero digits below the microsecond
    gets an odd tick: it lies strictly between two microseconds, which orders it
    exactly against an event time (always whole microseconds, even ticks). A value
    without timezone is *floating*: per XSD its instant is only known to ±14 h.
  - ``elapsedTime`` → ``Duration``: xsd:duration (``-``? ``PnYnMnDTnHnMnS``, decimal
    seconds) or ISO 8601 ``PnW``; years and months are kept apart from the day-time
    part because a month has no fixed length (the evaluator adds them to the agreement
    time). No other decimal component, no empty ``P``/``T``. ``isodate`` is not in the
    environment; the parser here is strict and small.
  - ``count`` → ``int``: a JSON integer, a decimal-digit string, or an xsd integer type
    literal; non-negative (ODRL: xsd:nonNegativeInteger). Floats and booleans refused.
  - ``purpose`` → ``str`` as written; ``spatial`` → ``str``, compared case-insensitively
    (the constraint keeps the case-folded form in ``right``; ``right_text`` as written).
    A string, ``{"@id"}`` or a string ``@value``.
- **Canonical keys**: every rule and constraint has ``key``, a canonical JSON text of
  its content in which the operands of ``and``/``or``/``xone``, a rule's constraints,
  refinements and duties are sorted (``andSequence`` keeps its order). The evaluator
  names rules and constraints by smallest key, so a verdict does not depend on the
  order in which a policy lists its rules or operands. Keys are built bottom-up from
  the parsed children, never by serialising the raw input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ledger.errors import InvalidRecord

MAX_DEPTH = 32

ODRL = "http://www.w3.org/ns/odrl/2/"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: Left operands and operators the evaluator implements.
LEFT_OPERANDS = frozenset({"dateTime", "purpose", "spatial", "count", "elapsedTime"})
OPERATORS = frozenset({"eq", "neq", "lt", "lteq", "gt", "gteq", "isAnyOf", "isAllOf", "isNoneOf"})
ORDER_OPERATORS = frozenset({"lt", "lteq", "gt", "gteq"})
SET_OPERATORS = frozenset({"isAnyOf", "isAllOf", "isNoneOf"})
#: Left operands with an order (the others take only eq/neq and the set operators).
ORDERED_OPERANDS = frozenset({"dateTime", "count", "elapsedTime"})
LOGICAL_OPERATORS = ("and", "or", "xone", "andSequence")

#: Ticks are half-microseconds.
TICKS_PER_SECOND = 2_000_000
DAY_TICKS = 86_400 * TICKS_PER_SECOND
#: XSD: a value without timezone is some instant within ±14:00 of its UTC reading.
FLOATING_TICKS = 14 * 3_600 * TICKS_PER_SECOND

_IDENTITY_KEYS = frozenset({"@id", "uid", "@type"})
_RULE_KEYS = frozenset({"action", "target", "assigner", "assignee", "constraint", "duty", "remedy", "consequence"})
_POLICY_KEYS = frozenset({"@id", "uid", "@type", "@context", "profile", "target", "assigner", "assignee",
                          "timestamp", "permission", "prohibition", "obligation"})  # fmt: skip
_CONSTRAINT_KEYS = frozenset({"leftOperand", "operator", "rightOperand", "unit", "dataType"})
#: Which nested rule lists a rule of each kind may have.
_NESTED = {
    "permission": ("duty",),
    "prohibition": ("remedy",),
    "obligation": ("consequence",),
    "duty": ("consequence",),
    "remedy": ("consequence",),
    "consequence": ("consequence",),
}
_XSD_INTEGERS = frozenset(XSD + t for t in (
    "integer", "nonNegativeInteger", "positiveInteger", "int", "long", "short", "byte",
    "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"))  # fmt: skip
_XSD_DURATIONS = frozenset(XSD + t for t in ("duration", "dayTimeDuration", "yearMonthDuration"))
_XSD_STRINGS = frozenset(XSD + t for t in ("string", "anyURI", "token", "normalizedString"))


# -- typed values -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instant:
    """An xsd:dateTime (``end == start``) or xsd:date (``end = start + 1 day``) in ticks,
    read as UTC; ``floating``: written without timezone (true instant within ±14 h)."""

    start: int
    end: int
    floating: bool
    is_date: bool
    text: str


@dataclass(frozen=True, slots=True)
class Duration:
    """An xsd:duration: ``months`` (years × 12 + months) and the day-time part in ticks,
    both signed."""

    months: int
    ticks: int
    text: str


Value = Union[Instant, Duration, int, str, Any]


# -- model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constraint:
    """``leftOperand operator rightOperand``. ``right`` holds the typed values (one unless
    ``right_is_list``); for an unknown left operand or operator, the values as written.
    ``problem`` is None when the evaluator implements this constraint, else why not."""

    path: str
    left_operand: str
    operator: str
    right: tuple[Value, ...]
    right_is_list: bool
    right_text: str
    unit: str | None
    data_type: str | None
    problem: str | None
    key: str


@dataclass(frozen=True, slots=True)
class LogicalConstraint:
    """``and`` / ``or`` / ``xone`` / ``andSequence`` over ``operands`` (in the order given).
    ``problem``: a property we do not implement (then it holds at best *unknown*)."""

    path: str
    operator: str
    operands: tuple[ConstraintNode, ...]
    problem: str | None
    key: str


ConstraintNode = Union[Constraint, LogicalConstraint]


@dataclass(frozen=True, slots=True)
class Rule:
    """A permission, prohibition, obligation, duty, remedy or consequence. ``action`` is
    the bare ODRL name or an IRI; ``refinements`` are the action's refinement
    constraints (path ``….action.refinement[i]``); ``extra`` one problem sentence per
    property we do not implement."""

    kind: str
    path: str
    action: str
    refinements: tuple[ConstraintNode, ...]
    target: str | None
    assigner: str | None
    assignee: str | None
    constraints: tuple[ConstraintNode, ...]
    duties: tuple[Rule, ...]
    remedies: tuple[Rule, ...]
    consequences: tuple[Rule, ...]
    extra: tuple[str, ...]
    key: str


@dataclass(frozen=True, slots=True)
class Policy:
    uid: str | None
    type: str | None
    target: str | None
    assigner: str | None
    assignee: str | None
    timestamp: str | None
    profiles: tuple[str, ...]
    permissions: tuple[Rule, ...]
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Rule, ...]
    extra: tuple[str, ...]

    def find(self, path: str) -> Rule | ConstraintNode:
        """The rule or constraint at ``path`` (as named in a verdict); KeyError if none."""
        node: Any = self
        if path.endswith(".action"):
            raise KeyError(path)
        for part in path.split("."):
            m = _PATH_PART.fullmatch(part)
            if m is None:
                if part == "action" and isinstance(node, Rule):
                    continue
                raise KeyError(path)
            name, index = m.group(1), int(m.group(2))
            children = _children(node, name)
            if children is None or index >= len(children):
                raise KeyError(path)
            node = children[index]
        if node is self:
            raise KeyError(path)
        return node


_PATH_PART = re.compile(r"([A-Za-z]+)\[([0-9]+)\]")


def _children(node: Any, name: str) -> tuple | None:
    if isinstance(node, Policy):
        return {"permission": node.permissions, "prohibition": node.prohibitions,
                "obligation": node.obligations}.get(name)  # fmt: skip
    if isinstance(node, Rule):
        return {"constraint": node.constraints, "refinement": node.refinements, "duty": node.duties,
                "remedy": node.remedies, "consequence": node.consequences}.get(name)  # fmt: skip
    if isinstance(node, LogicalConstraint):
        return node.operands if name == node.operator else None
    return None


# -- parsing ------------------------------------------------------------------------


def _fail(path: str, message: str) -> InvalidRecord:
    return InvalidRecord(f"odrl policy: {path}: {message}" if path else f"odrl policy: {message}")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _str(value: Any, path: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(path, f"{what} must be a non-empty string, got {_type_name(value)}")
    return value


def _opt_str(obj: Mapping, name: str, path: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    return _str(value, path, name)


def _array(value: Any, path: str, what: str) -> Sequence:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise _fail(path, f"{what} must be an array, got {_type_name(value)}")
    return value


def _object(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected an object, got {_type_name(value)}")
    for name in value:
        if not isinstance(name, str):
            raise _fail(path, f"property names must be strings, got {_type_name(name)}")
    return value


def _bare(term: str) -> str:
    return term[len(ODRL):] if term.startswith(ODRL) else term


def _xsd(term: str | None) -> str | None:
    if term is not None and term.startswith("xsd:"):
        return XSD + term[4:]
    return term


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _array_of(keys: Iterable[str]) -> str:
    """A JSON array of already-canonical JSON texts, embedded as they are (not re-quoted,
    so a key grows linearly with the depth of what it describes)."""
    return "[" + ",".join(keys) + "]"


def parse_policy(normalised: Mapping) -> Policy:
    """The typed ``Policy`` of a normalised policy; ``InvalidRecord`` naming the path of
    the first thing that is not well-formed ODRL (see the module docstring)."""
    doc = _object(normalised, "")
    extra = []
    for name in sorted(doc):
        if name not in _POLICY_KEYS and ":" not in name:
            extra.append(f"policy property {name} is not implemented")
    profiles = tuple(_str(p, f"profile[{i}]", "a profile") for i, p in enumerate(_array(doc.get("profile"), "profile", "profile")))
    uid = doc.get("@id", doc.get("uid"))
    return Policy(
        uid=None if uid is None else _str(uid, "@id", "@id"),
        type=_opt_str(doc, "@type", "@type"),
        target=_opt_str(doc, "target", "target"),
        assigner=_opt_str(doc, "assigner", "assigner"),
        assignee=_opt_str(doc, "assignee", "assignee"),
        timestamp=_opt_str(doc, "timestamp", "timestamp"),
        profiles=profiles,
        permissions=_rules(doc, "permission", "", 1),
        prohibitions=_rules(doc, "prohibition", "", 1),
        obligations=_rules(doc, "obligation", "", 1),
        extra=tuple(extra),
    )


def _rules(obj: Mapping, name: str, prefix: str, depth: int) -> tuple[Rule, ...]:
    where = f"{prefix}.{name}" if prefix else name
    items = _array(obj.get(name), where, name)
    return tuple(_rule(item, name, f"{where}[{i}]", depth) for i, item in enumerate(items))


def _rule(raw: Any, kind: str, path: str, depth: int) -> Rule:
    if depth > MAX_DEPTH:
        raise _fail(path, f"nesting deeper than {MAX_DEPTH} levels")
    obj = _object(raw, path)
    extra = []
    for name in sorted(obj):
        if name in _RULE_KEYS or name in _IDENTITY_KEYS:
            continue
        extra.append(f"rule property {name} is not implemented")
    for name in ("duty", "remedy", "consequence"):
        if obj.get(name) and name not in _NESTED[kind]:
            allowed = " or ".join(_NESTED[kind])
            raise _fail(path, f"a {kind} cannot have a {name} (it may have: {allowed})")
    if "action" not in obj or obj["action"] is None:
        raise _fail(path, "a rule must have an action")
    action_raw = obj["action"]
    refinements: tuple[ConstraintNode, ...] = ()
    if isinstance(action_raw, str):
        action = _bare(_str(action_raw, f"{path}.action", "action"))
    elif isinstance(action_raw, Mapping):
        action = _bare(_str(action_raw.get("value"), f"{path}.action.value", "action value"))
        for name in sorted(action_raw):
            if name not in ("value", "refinement", "@id", "@type"):
                extra.append(f"action property {name} is not implemented")
        items = _array(action_raw.get("refinement"), f"{path}.action.refinement", "refinement")
        refinements = tuple(_node(c, f"{path}.action.refinement[{i}]", depth + 1) for i, c in enumerate(items))
    else:
        raise _fail(f"{path}.action", f"an action must be a string or an object with value, got {_type_name(action_raw)}")
    items = _array(obj.get("constraint"), f"{path}.constraint", "constraint")
    constraints = tuple(_node(c, f"{path}.constraint[{i}]", depth + 1) for i, c in enumerate(items))
    duties = _rules(obj, "duty", path, depth + 1)
    remedies = _rules(obj, "remedy", path, depth + 1)
    consequences = _rules(obj, "consequence", path, depth + 1)
    target = _opt_str(obj, "target", f"{path}.target")
    assigner = _opt_str(obj, "assigner", f"{path}.assigner")
    assignee = _opt_str(obj, "assignee", f"{path}.assignee")
    key = _array_of([_canon(kind), _canon(action), _array_of(sorted(c.key for c in refinements)),
                     _canon(target), _canon(assigner), _canon(assignee),
                     _array_of(sorted(c.key for c in constraints)), _array_of(sorted(r.key for r in duties)),
                     _array_of(sorted(r.key for r in remedies)), _array_of(sorted(r.key for r in consequences)),
                     _canon(sorted(extra))])  # fmt: skip
    return Rule(kind, path, action, refinements, target, assigner, assignee, constraints, duties, remedies,
                consequences, tuple(extra), key)  # fmt: skip


def _node(raw: Any, path: str, depth: int) -> ConstraintNode:
    if depth > MAX_DEPTH:
        raise _fail(path, f"nesting deeper than {MAX_DEPTH} levels")
    obj = _object(raw, path)
    logical = [name for name in LOGICAL_OPERATORS if name in obj]
    if logical:
        if len(logical) > 1:
            raise _fail(path, f"a logical constraint has one operator, got {' and '.join(logical)}")
        if "leftOperand" in obj or "operator" in obj:
            raise _fail(path, f"a constraint is either logical ({logical[0]}) or has a leftOperand, not both")
        op = logical[0]
        unknown = sorted(n for n in obj if n != op and n not in _IDENTITY_KEYS)
        items = _array(obj[op], f"{path}.{op}", op)
        if not items:
            raise _fail(path, f"{op} must have at least one operand")
        operands = tuple(_node(c, f"{path}.{op}[{i}]", depth + 1) for i, c in enumerate(items))
        child_keys = [c.key for c in operands]
        if op != "andSequence":
            child_keys.sort()
        problem = f"constraint property {unknown[0]} is not implemented" if unknown else None
        return LogicalConstraint(path, op, operands, problem, _array_of([_canon(op), _array_of(child_keys), _canon(unknown)]))
    for name in ("leftOperand", "operator", "rightOperand"):
        if obj.get(name) is None or obj.get(name) == []:
            raise _fail(path, f"a constraint must have {name}")
    left = _bare(_str(obj["leftOperand"], f"{path}.leftOperand", "leftOperand"))
    op = _bare(_str(obj["operator"], f"{path}.operator", "operator"))
    unit = _opt_str(obj, "unit", f"{path}.unit")
    data_type = _xsd(_opt_str(obj, "dataType", f"{path}.dataType"))
    raw_right = obj["rightOperand"]
    is_list = isinstance(raw_right, (list, tuple))
    raw_values = list(raw_right) if is_list else [raw_right]
    for i, v in enumerate(raw_values):
        _check_value(v, f"{path}.rightOperand[{i}]" if is_list else f"{path}.rightOperand")
    right_text = ", ".join(_value_text(v) for v in raw_values)
    if is_list:
        right_text = f"[{right_text}]"
    unknown = sorted(n for n in obj if n not in _CONSTRAINT_KEYS and n not in _IDENTITY_KEYS)
    key = _canon([left, op, raw_values if is_list else raw_values[0], unit, data_type, unknown])
    problem = None
    values: tuple[Value, ...] = tuple(raw_values)
    if left not in LEFT_OPERANDS:
        problem = f"left operand {left} is not implemented"
    elif op not in OPERATORS:
        problem = f"operator {op} is not implemented"
    else:
        if op in SET_OPERATORS:
            is_list = True
        elif len(raw_values) != 1:
            raise _fail(f"{path}.rightOperand", f"{op} takes one value, got {len(raw_values)}")
        values = tuple(_typed(left, v, data_type, f"{path}.rightOperand[{i}]" if len(raw_values) > 1 else f"{path}.rightOperand")
                       for i, v in enumerate(raw_values))  # fmt: skip
        if op in ORDER_OPERATORS and left not in ORDERED_OPERANDS:
            problem = f"operator {op} is not defined for {left} (it has no order)"
        elif unit is not None:
            problem = f"unit {unit} on {left} is not implemented"
        elif unknown:
            problem = f"constraint property {unknown[0]} is not implemented"
    return Constraint(path, left, op, values, is_list, right_text, unit, data_type, problem, key)


def _check_value(v: Any, path: str) -> None:
    """A right-operand value: string, number, boolean, {"@value": …} or {"@id": …}."""
    if isinstance(v, (str, int, float, bool)):
        return
    if isinstance(v, Mapping):
        names = set(v)
        if names == {"@id"} and isinstance(v["@id"], str):
            return
        if "@value" in names and names <= {"@value", "@type", "@language"}:
            if isinstance(v["@value"], (str, int, float, bool)) and all(
                isinstance(v[n], str) for n in names - {"@value"}
            ):
                return
    raise _fail(path, f"a right operand value must be a string, number, boolean, {{\"@value\"}} or {{\"@id\"}}, got {_type_name(v)}")


def _value_text(v: Any) -> str:
    if isinstance(v, Mapping):
        v = v.get("@id", v.get("@value"))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _typed(left: str, v: Any, data_type: str | None, path: str) -> Value:
    lexical, vtype = v, data_type
    if isinstance(v, Mapping):
        if "@id" in v:
            lexical, vtype = v["@id"], "@id"
        else:
            lexical = v["@value"]
            t = _xsd(v.get("@type"))
            if t is not None and vtype is not None and t != vtype:
                raise _fail(path, f"@type {t} contradicts dataType {vtype}")
            vtype = t or vtype
    if left == "dateTime":
        if not isinstance(lexical, str) or vtype not in (None, XSD + "dateTime", XSD + "dateTimeStamp", XSD + "date"):
            raise _fail(path, f"dateTime takes an xsd:dateTime or xsd:date, got {_value_text(v)!r}{_of(vtype)}")
        if vtype == XSD + "date":
            inst = parse_date(lexical)
        elif vtype is None:
            inst = parse_datetime(lexical) or parse_date(lexical)
        else:
            inst = parse_datetime(lexical)
            if inst is not None and vtype == XSD + "dateTimeStamp" and inst.floating:
                raise _fail(path, f"an xsd:dateTimeStamp needs a timezone, got {lexical!r}")
        if inst is None:
            raise _fail(path, f"dateTime takes an xsd:dateTime or xsd:date, got {lexical!r}")
        return inst
    if left == "count":
        if isinstance(lexical, bool) or vtype not in (None, *_XSD_INTEGERS):
            raise _fail(path, f"count takes a non-negative integer, got {_value_text(v)!r}{_of(vtype)}")
        if isinstance(lexical, int):
            n = lexical
        elif isinstance(lexical, str) and re.fullmatch(r"\+?[0-9]{1,18}", lexical):
            n = int(lexical)
        else:
            raise _fail(path, f"count takes a non-negative integer, got {_value_text(v)!r}")
        if n < 0:
            raise _fail(path, f"count takes a non-negative integer, got {n}")
        return n
    if left == "elapsedTime":
        if not isinstance(lexical, str) or vtype not in (None, *_XSD_DURATIONS):
            raise _fail(path, f"elapsedTime takes an xsd:duration, got {_value_text(v)!r}{_of(vtype)}")
        d = parse_duration(lexical)
        if d is None:
            raise _fail(path, f"elapsedTime takes an xsd:duration such as P30D or PT12H, got {lexical!r}")
        return d
    # purpose, spatial: an IRI or a string
    if not isinstance(lexical, str) or not lexical or vtype not in (None, "@id", *_XSD_STRINGS):
        raise _fail(path, f"{left} takes an IRI or a string, got {_value_text(v)!r}{_of(vtype)}")
    return lexical.casefold() if left == "spatial" else lexical


def _of(vtype: str | None) -> str:
    return f" of type {vtype}" if vtype not in (None, "@id") else ""


# -- xsd:dateTime, xsd:date, xsd:duration -------------------------------------------

_DATETIME = re.compile(
    r"(-?(?:[1-9][0-9]{4,}|[0-9]{4}))-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE = re.compile(r"(-?(?:[1-9][0-9]{4,}|[0-9]{4}))-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?")
_DURATION = re.compile(
    r"(-)?P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?"
    r"(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)(?:\.([0-9]+))?S)?)?"
)
_WEEKS = re.compile(r"(-)?P([0-9]+)W")


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of the proleptic Gregorian date (astronomical year numbering,
    which is XSD 1.1's: year 0000 is 1 BCE)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    """The inverse of ``days_from_civil``."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _fraction_ticks(digits: str | None) -> int:
    """Ticks of a decimal fraction of a second: whole microseconds × 2, plus 1 when
    non-zero digits remain below the microsecond."""
    if not digits:
        return 0
    micro = int((digits + "000000")[:6])
    return micro * 2 + (1 if digits[6:].strip("0") else 0)


def _offset_ticks(tz: str | None) -> int | None:
    """The timezone's offset in ticks; None when absent; raises ValueError when invalid."""
    if tz is None:
        return None
    if tz == "Z":
        return 0
    hh, mm = int(tz[1:3]), int(tz[4:6])
    if mm > 59 or hh * 60 + mm > 14 * 60:
        raise ValueError(tz)
    sign = -1 if tz[0] == "-" else 1
    return sign * (hh * 3600 + mm * 60) * TICKS_PER_SECOND


def parse_datetime(text: str) -> Instant | None:
    """An xsd:dateTime (seconds optional), or None when ``text`` is not one."""
    m = _DATETIME.fullmatch(text)
    if m is None:
        return None
    y, mo, d, hh, mi = (int(m.group(i)) for i in range(1, 6))
    ss = int(m.group(6) or 0)
    frac = _fraction_ticks(m.group(7))
    if not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo) or mi > 59 or ss > 59:
        return None
    if hh == 24:
        if mi or ss or frac:
            return None
    elif hh > 23:
        return None
    try:
        offset = _offset_ticks(m.group(8))
    except ValueError:
        return None
    ticks = (days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mi * 60 + ss) * TICKS_PER_SECOND + frac
    ticks -= offset or 0
    return Instant(ticks, ticks, offset is None, False, text)


def parse_date(text: str) -> Instant | None:
    """An xsd:date as the day it covers, or None when ``text`` is not one."""
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo):
        return None
    try:
        offset = _offset_ticks(m.group(4))
    except ValueError:
        return None
    start = days_from_civil(y, mo, d) * DAY_TICKS - (offset or 0)
    return Instant(start, start + DAY_TICKS, offset is None, True, text)


def parse_duration(text: str) -> Duration | None:
    """An xsd:duration or an ISO 8601 ``PnW``, or None when ``text`` is not one."""
    w = _WEEKS.fullmatch(text)
    if w is not None:
        sign = -1 if w.group(1) else 1
        return Duration(0, sign * int(w.group(2)) * 7 * DAY_TICKS, text)
    m = _DURATION.fullmatch(text)
    if m is None or text.endswith("T") or not any(m.group(i) for i in range(2, 8)):
        return None
    sign = -1 if m.group(1) else 1
    years, months, days, hours, minutes, seconds = (int(m.group(i) or 0) for i in range(2, 8))
    ticks = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * TICKS_PER_SECOND + _fraction_ticks(m.group(8))
    return Duration(sign * (years * 12 + months), sign * ticks, text)
