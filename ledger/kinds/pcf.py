"""``pcf``: a WBCSD PACT ``ProductFootprint`` (v3; v2.x accepted) with verifiable lineage.

The record id is the footprint's ``id``. A producer or exporter authors it; it is private
by default (its author may disclose it to customers, ``Ledger.disclose``), and a public
footprint's payload is public.

**Lineage** (DESIGN §8). The envelope's ``parents`` are the component footprints' leaf
hashes, and one ``extensions`` entry with ``dataSchema`` ``LINEAGE_SCHEMA`` carries, in
the same order, ``{"components": [{"pfId", "quantity", "unit"}], "own": {field: decimal}}``:
the quantity of each component per declared unit of the product (in the component's
declared unit), and the product's own process emissions (a field left out of ``own`` is
zero). A footprint without parents needs no lineage; one with parents needs it.

**Roll-up**, in exact rational arithmetic: for each of ``ROLLUP_FIELDS``, declared = own
+ Σ quantity × component value ÷ component ``declaredUnitAmount``, which must equal the
declared value after rounding half-even to the declared value's decimal places. Refused,
naming the field and both values: a mismatch; a component that is not a ``pcf``, whose
payload the ledger cannot read (erased, or not disclosed to the author), whose derived
status is not ``Active``, or whose unit is not the lineage's.

**Supersession**. Each id in ``precedingPfIds`` must be an earlier footprint by the same
author; admission derives it ``Deprecated`` (a ``supersedes`` edge), and a deprecated
footprint can no longer be a component. A new footprint must declare ``Active``: the
ledger, not the author, derives ``Deprecated``.

Effects: terms ``product`` (each productId) and ``company`` (each companyId); edges
``component_of`` (each parent) and ``supersedes``; state ``Active``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, localcontext
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.effects import DerivedState, Edge, EdgeType, StateChange, Term
from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind, ParentRecord, payload_as
from ledger.pact import ROLLUP_FIELDS, Footprint, FootprintView, footprint_view, parse_footprint

LINEAGE_SCHEMA = "https://tds-ledger.org/schemas/lineage/v1"
ACTIVE, DEPRECATED = "Active", "Deprecated"
_DECIMAL = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?"
_DECIMAL_RE = re.compile(_DECIMAL)
#: Decimal arithmetic that raises instead of rounding (the roll-up must be exact).
_EXACT = Context(prec=400, traps=[Inexact])


class LineageComponent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pfId: str = Field(min_length=1, max_length=128)
    quantity: str = Field(pattern=_DECIMAL, max_length=64)
    unit: str = Field(min_length=1, max_length=64)


class Lineage(BaseModel):
    """The ``data`` of the lineage extension."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    components: list[LineageComponent] = Field(min_length=1, max_length=256)
    own: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PcfPayload:
    """A parsed footprint: the version's model, its neutral view, and its lineage (if any)."""

    footprint: Footprint
    view: FootprintView
    lineage: Lineage | None


def _fail(message: str) -> InvalidRecord:
    return InvalidRecord(f"pcf: {message}")


def parse_pcf(payload: Any) -> PcfPayload:
    fp = parse_footprint(payload)
    view = footprint_view(fp)
    found = [x for x in view.extensions if str(x.dataSchema) == LINEAGE_SCHEMA]
    if len(found) > 1:
        raise _fail(f"at most one extension may have dataSchema {LINEAGE_SCHEMA}, got {len(found)}")
    lineage = None
    if found:
        try:
            lineage = Lineage.model_validate(found[0].data, strict=True)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "data"
            raise _fail(f"lineage extension: data.{where}: {first['msg']}") from None
        unknown = sorted(set(lineage.own) - set(ROLLUP_FIELDS))
        if unknown:
            raise _fail(f"lineage extension: own has {unknown}; it takes only {list(ROLLUP_FIELDS)}")
        for name, text in lineage.own.items():
            if not isinstance(text, str) or len(text) > 64 or _DECIMAL_RE.fullmatch(text) is None:
                raise _fail(f"lineage extension: own.{name}: expected a decimal string, got {text!r}")
        for i, c in enumerate(lineage.components):
            if Decimal(c.quantity) < 0:
                raise _fail(f"lineage extension: components[{i}].quantity must not be negative, got {c.quantity}")
    return PcfPayload(fp, view, lineage)


def _references(p: PcfPayload) -> tuple[str, ...]:
    return p.view.preceding_pf_ids


def rounded(value: Fraction, places: int) -> Fraction:
    """``value`` rounded half-even to ``places`` decimal places (exact)."""
    scale = 10**places
    return Fraction(round(value * scale), scale)


def _text(value: Fraction, places: int) -> str:
    """The decimal text of ``value`` (already rounded to ``places`` places, so exact)."""
    return format(Decimal(value.numerator * 10**places // value.denominator).scaleb(-places), "f")


def _approx(value: Fraction) -> str:
    with localcontext() as ctx:
        ctx.prec = 34
        return str(Decimal(value.numerator) / Decimal(value.denominator))


def _component(ctx: AdmissionContext, i: int, parent: ParentRecord, want: str, unit: str) -> FootprintView:
    if parent.kind != "pcf":
        raise _fail(f"component {i} ({parent.where}) is a {parent.kind}, not a pcf")
    view = payload_as(parent, PcfPayload, f"component {i}").view
    if view.id != want:
        raise _fail(f"lineage components[{i}].pfId is {want!r}, but parent {i} is footprint {view.id!r}")
    status = parent.state.status if parent.state is not None else view.status
    if status != ACTIVE or view.status != ACTIVE:
        why = parent.state.reason if parent.state is not None and parent.state.reason else "declared so"
        raise _fail(f"component {i} ({view.id}) is {status if status != ACTIVE else view.status} ({why}); "
                    "only Active footprints can be components")  # fmt: skip
    if view.declared_unit != unit:
        raise _fail(f"components[{i}] ({view.id}) is declared per {view.declared_unit}, the lineage says {unit}")
    return view


def _sum_exact(own: Decimal, terms: list[tuple[Decimal, Decimal, Decimal]]) -> Fraction:
    """own + Σ quantity × value ÷ amount, exactly: ``Decimal`` arithmetic that traps any
    inexact step (then the same sum in ``Fraction``, which is always exact but slower)."""
    ctx = _EXACT
    try:
        total = own
        for qty, value, amount in terms:
            share = ctx.multiply(qty, value)
            total = ctx.add(total, share if amount == 1 else ctx.divide(share, amount))
        return Fraction(total)
    except Inexact:
        total_f = Fraction(own)
        for qty, value, amount in terms:
            total_f += Fraction(qty) * Fraction(value) / Fraction(amount)
        return total_f


def check_rollup(p: PcfPayload, components: list[FootprintView]) -> None:
    """The declared values equal own + Σ quantity × component value ÷ declaredUnitAmount."""
    assert p.lineage is not None
    quantities = [Decimal(c.quantity) for c in p.lineage.components]
    for field in ROLLUP_FIELDS:
        declared = p.view.rollup(field)
        if declared is None:  # a v2 footprint without pCfIncludingBiogenic: nothing declared to check
            continue
        terms = []
        for i, (qty, view) in enumerate(zip(quantities, components)):
            value = view.rollup(field)
            if value is None:
                raise _fail(f"{field}: component {i} ({view.id}) does not declare it")
            terms.append((qty, value.value, view.declared_unit_amount))
        total = _sum_exact(Decimal(p.lineage.own.get(field, "0")), terms)
        computed = rounded(total, declared.places)
        if computed != Fraction(declared.value):
            raise _fail(f"roll-up of {field}: declared {declared.text}, computed {_text(computed, declared.places)} "
                        f"({_approx(total)} before rounding half-even to {declared.places} places)")  # fmt: skip


def _check(p: PcfPayload, ctx: AdmissionContext) -> Admitted:
    view = p.view
    if view.id != ctx.record_id:
        raise _fail(f"the record id must be the footprint's id {view.id!r}, got {ctx.record_id!r}")
    if view.status != ACTIVE:
        raise _fail(f"a new footprint must declare status Active, got {view.status}; the ledger derives Deprecated")
    if ctx.parents and p.lineage is None:
        raise _fail(f"a footprint with parents needs the lineage extension ({LINEAGE_SCHEMA})")
    if p.lineage is not None:
        if len(p.lineage.components) != len(ctx.parents):
            raise _fail(f"the lineage lists {len(p.lineage.components)} components, the envelope "
                        f"{len(ctx.parents)} parents; they must match one to one, in order")  # fmt: skip
        views = [_component(ctx, i, parent, c.pfId, c.unit)
                 for i, (parent, c) in enumerate(zip(ctx.parents, p.lineage.components))]  # fmt: skip
        check_rollup(p, views)
    changes = []
    for pf in view.preceding_pf_ids:
        earlier = ctx.referenced.get(pf)
        if pf == view.id:
            raise _fail("precedingPfIds lists the footprint itself")
        if earlier is None or earlier.kind != "pcf":
            raise _fail(f"precedingPfIds: {pf!r} is not a footprint of this log")
        if earlier.author != ctx.author:
            raise _fail(f"precedingPfIds: {pf!r} is another company's footprint (author {earlier.author}); "
                        "a footprint can only supersede its own company's")  # fmt: skip
        changes.append(StateChange(pf, DerivedState(DEPRECATED, f"superseded by {view.id}", view.id)))
    return Admitted(
        terms=tuple(Term("product", x) for x in view.product_ids) + tuple(Term("company", x) for x in view.company_ids),
        edges=tuple(Edge(EdgeType.COMPONENT_OF, parent.record_id) for parent in ctx.parents)
        + tuple(Edge(EdgeType.SUPERSEDES, pf) for pf in view.preceding_pf_ids),
        state=DerivedState(ACTIVE),
        changes=tuple(changes),
    )


PCF = Kind(
    name="pcf",
    roles=frozenset({"producer", "exporter"}),
    schema=BaseModel,  # the models are ledger.pact's; ``parser`` validates
    default_visibility="private",
    check=_check,
    references=_references,
    public_payload=True,
    parser=parse_pcf,
)
