"""Build a footprint with lineage from a plain PACT footprint and its components (a client's job).

``with_lineage(footprint, components)`` treats the footprint's own three roll-up values
(``ROLLUP_FIELDS``) as the product's *own* process emissions, adds each component's share
(quantity × value ÷ its ``declaredUnitAmount``), writes the totals as the declared values,
and adds the lineage extension (DESIGN §8). The result is what ``ledger.kinds.pcf``
admits: the same arithmetic, exact; a total that needs more than ``max_places`` decimal
places is rounded half-even to ``max_places`` (the ledger checks the declared value at its
own places, so any rounding the builder chose is accepted).

Pure: the caller fetches the components (payload and leaf hash) and signs the result.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ledger.errors import InvalidRecord
from ledger.kinds.pcf import LINEAGE_SCHEMA, parse_pcf, rounded
from ledger.pact import ROLLUP_FIELDS, ROLLUP_FIELDS_V2

LINEAGE_SPEC_VERSION = "2.0.0"


@dataclass(frozen=True, slots=True)
class Component:
    payload: dict[str, Any]  # the component footprint as the ledger holds it
    leaf_hash: str  # its entry's leaf hash (hex): an envelope parent
    quantity: str  # per declared unit of the product, in the component's declared unit


def _decimal_text(value: Fraction, max_places: int) -> str:
    """The shortest exact decimal of ``value`` with at most ``max_places`` places, else rounded."""
    for places in range(max_places + 1):
        if (value * 10**places).denominator == 1:
            break
    else:
        places = max_places
        value = rounded(value, places)
    scaled = value * 10**places
    assert scaled.denominator == 1
    return format(Decimal(scaled.numerator).scaleb(-places), "f")


def with_lineage(footprint: dict[str, Any], components: list[Component], *, max_places: int = 6) -> dict[str, Any]:
    """The footprint rolled up from ``components``; see the module docstring."""
    if not components:
        raise InvalidRecord("a roll-up needs at least one component")
    product = parse_pcf(footprint).view  # the plain footprint must already be valid PACT
    if any(str(x.dataSchema) == LINEAGE_SCHEMA for x in product.extensions):
        raise InvalidRecord("the footprint already has a lineage extension; give the plain footprint")
    views = [parse_pcf(c.payload).view for c in components]
    v2 = product.spec_version.startswith("2.")
    out = copy.deepcopy(footprint)
    own: dict[str, str] = {}
    for field in ROLLUP_FIELDS:
        declared = product.rollup(field)
        if declared is None:
            continue
        own[field] = declared.text
        total = Fraction(declared.value)
        for c, view in zip(components, views):
            value = view.rollup(field)
            if value is None:
                raise InvalidRecord(f"component {view.id} does not declare {field}")
            total += Fraction(Decimal(c.quantity)) * Fraction(value.value) / Fraction(view.declared_unit_amount)
        out["pcf"][ROLLUP_FIELDS_V2[field] if v2 else field] = _decimal_text(total, max_places)
    lineage = {
        "specVersion": LINEAGE_SPEC_VERSION,
        "dataSchema": LINEAGE_SCHEMA,
        "data": {
            "components": [{"pfId": v.id, "quantity": c.quantity, "unit": v.declared_unit} for c, v in zip(components, views)],
            "own": own,
        },
    }
    out["extensions"] = [*footprint.get("extensions", []), lineage]
    parse_pcf(out)  # what we built is well-formed
    return out


def parse_component_flag(value: str) -> tuple[str, str]:
    """``PFID=QTY`` → ``(pfId, quantity)``; ``InvalidRecord`` naming the flag otherwise."""
    pf_id, sep, qty = value.partition("=")
    if not sep or not pf_id or not qty:
        raise InvalidRecord(f"--component must be PFID=QUANTITY, got {value!r}")
    try:
        if not Decimal(qty).is_finite() or Decimal(qty) < 0 or qty.strip() != qty or "e" in qty.lower():
            raise ArithmeticError
    except ArithmeticError:
        raise InvalidRecord(f"--component {pf_id}: the quantity must be a non-negative decimal like 0.35, got {qty!r}") from None
    return pf_id, qty
