"""WBCSD PACT ``ProductFootprint``: strict models of v3 (and v2.x), one parser, one view.

``parse_footprint(obj)`` takes a decoded JSON value, picks the v3 model when
``specVersion`` starts with ``3.`` and the v2 model when it starts with ``2.``, validates
strictly (no value is converted: a decimal sent as a JSON number is refused), and raises
``InvalidRecord`` naming the field, what was expected and what came::

    pcf payload: pcf.declaredUnitAmount: expected a decimal string > 0, got a number (1)

``footprint_view(fp)`` gives what the ledger needs from either version (``FootprintView``).

The models follow the official schemas (``components/schemas`` of the PACT OpenAPI
documents): required and optional fields, enums, patterns, formats, set-like arrays, the
geography ``oneOf``, and unknown properties kept (no official schema forbids them).
``tests/test_pact_models.py`` checks that they refuse exactly what the official schemas
refuse, mutation by mutation, except where they deliberately refuse more:

- decimals whose published pattern is too loose (v3 ``PositiveNonZeroDecimal``,
  ``NegativeOrZeroDecimal``) or absent (every v2 ``format: decimal``): see ``formats``;
- URNs: RFC 8141 syntax (``format: urn``), not only the ``urn:`` prefix;
- v2 ``unitaryProductAmount`` must be > 0, as its description says;
- v2 ``version`` must be a JSON integer (JSON Schema also takes ``1.0``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ledger.errors import InvalidRecord
from ledger.pact import v2, v3
from ledger.pact.common import DataModelExtension
from ledger.pact.formats import as_decimal, describe
from ledger.pact.view import (
    ROLLUP_FIELDS,
    ROLLUP_FIELDS_V2,
    DecimalText,
    Footprint,
    FootprintGeography,
    FootprintStatus,
    FootprintView,
    footprint_view,
)

__all__ = [
    "ROLLUP_FIELDS",
    "ROLLUP_FIELDS_V2",
    "DataModelExtension",
    "DecimalText",
    "Footprint",
    "FootprintGeography",
    "FootprintStatus",
    "FootprintView",
    "as_decimal",
    "footprint_view",
    "parse_footprint",
    "v2",
    "v3",
]

_WHAT = "pcf payload"

_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(error: ErrorDetails) -> str:
    kind, got, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "required, but missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(got)}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {describe(got)}"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item(s), got none"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = f">= {ctx['ge']}" if kind == "greater_than_equal" else f"<= {ctx['le']}"
        return f"expected a number {bound}, got {describe(got)}"
    return error["msg"]


def _message(e: ValidationError) -> str:
    errors = e.errors(include_url=False)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_WHAT}: {_path(first['loc']) or 'footprint'}: {_explain(first)}{more}"


def parse_footprint(obj: Any) -> Footprint:
    """``obj`` (decoded JSON) as a v3 or v2 ``ProductFootprint``.

    Raises ``InvalidRecord`` naming the first bad field (and how many more there are).
    """
    if type(obj) is not dict:
        raise InvalidRecord(f"{_WHAT}: expected a ProductFootprint object, got {describe(obj)}")
    spec = obj.get("specVersion")
    if type(spec) is not str:
        got = "missing" if "specVersion" not in obj else describe(spec)
        raise InvalidRecord(f'{_WHAT}: specVersion: expected a version string like "3.0.0", got {got}')
    if spec.startswith("3."):
        model: type[Footprint] = v3.ProductFootprint
    elif spec.startswith("2."):
        model = v2.ProductFootprint
    else:
        raise InvalidRecord(f"{_WHAT}: specVersion: expected a PACT 3.x (or 2.x) version, got {describe(spec)}")
    try:
        return model.model_validate(obj, strict=True)
    except ValidationError as e:
        raise InvalidRecord(_message(e)) from None
