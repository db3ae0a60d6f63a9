"""``ledger.pact`` against the official PACT schemas, example by example, mutation by mutation.

The official side is the ``components/schemas`` of the PACT OpenAPI documents in
``../shared/vectors/pact/`` (never copied here), validated with ``jsonschema`` (Draft
2020-12) and a ``referencing`` registry. What is translated, and why:

1. Dialect. Both documents say ``openapi: 3.1.0`` (the ``3.0.3`` in a file name is PACT's
   version): a Schema Object *is* JSON Schema 2020-12, so OpenAPI 3.0's ``nullable`` needs
   no translation. A test asserts none occurs, so a document that had one would not be
   validated wrongly in silence. ``example``/``examples``, ``deprecated``, ``x-*`` are
   annotations, ignored by JSON Schema; nothing to do.
2. ``$ref: '#/components/schemas/X'``. The whole document is one resource in the registry,
   at ``BASE[version]``; the validator's root is ``{"$ref": BASE + "#/components/schemas/
   ProductFootprint"}``, so every ``#/…`` resolves inside the document.
3. ``pattern``. JSON Schema means ECMA-262 regular expressions, where ``$`` is the end of
   the string and ``\\d`` is ``[0-9]``; Python's ``re.search`` (jsonschema's engine) lets
   ``$`` match before a final newline and ``\\d`` match any Unicode digit. Each pattern is
   rewritten: ``(?a)`` in front, every unescaped ``$`` outside a class as ``\\Z``.
4. ``format``. OpenAPI 3.1 lets a validator assert formats. Asserted: ``date-time``
   (RFC 3339, rfc3339-validator), ``uuid``, ``uri`` (RFC 3986, rfc3986-validator) —
   jsonschema's own checkers; OpenAPI's ``int32`` (−2^31…2^31−1; ``float``/``double`` are
   any number). Not asserted, because no JSON Schema validator knows them: PACT's own
   ``urn`` and ``decimal``. That is where our models refuse more (``DELIBERATE_DIFFERENCES``).

The differential test mutates every example (and one "full" document per version with
every optional property filled in from the schema): each property dropped, each value
given a wrong type or ``null``, each decimal as a JSON number and as bad text, each enum
and pattern given a bad value, each URN, UUID, date-time and URI a malformed one, arrays
emptied or given a duplicate, an unknown property added to every object, a second
geography. For every mutation our ``parse_footprint`` must refuse exactly when the
official schema refuses, except for the differences listed, which must still differ.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ledger.errors import InvalidRecord, LedgerError
from ledger.pact import (
    ROLLUP_FIELDS,
    ROLLUP_FIELDS_V2,
    DataModelExtension,
    DecimalText,
    FootprintStatus,
    as_decimal,
    footprint_view,
    parse_footprint,
    v2,
    v3,
)

PACT = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "pact"
OPENAPI = {"v3": PACT / "v3" / "openapi-3.0.3.yaml", "v2": PACT / "v2" / "openapi-2.3.3.yaml"}
BASE = {"v3": "urn:tds-ledger:test:pact-openapi-v3", "v2": "urn:tds-ledger:test:pact-openapi-v2"}

#: Every footprint vector: file -> where its footprints are.
EXAMPLE_FILES = {
    "v3/example-1.json": "document",
    "v3/example-2.json": "document",
    "v3/example-3.json": "document",
    "v3/example-4.json": "document",
    "v3/list-footprints-response.json": "data[]",
    "v3/pf-response-event.json": "data.pfs[]",
    "v2/get-footprint-response.json": "data",
    "v2/list-footprints-response.json": "data[]",
    "v2/pf-response-event.json": "data.pfs[]",
}

_POSITIVE_NON_ZERO = (
    "PositiveNonZeroDecimal's pattern '^[+]?(\\d*[1-9]\\d*)(\\.\\d+)?|(0+\\.\\d*[1-9]\\d*)$' "
    "anchors its first alternative only at the start (and its second only at the end), so any "
    "text that begins with a positive decimal passes. We take the whole string as the decimal."
)
_NEGATIVE_OR_ZERO = (
    "NegativeOrZeroDecimal's pattern '^(-\\d+(\\.\\d+)?)|0+(\\.0+)?$' has the same flaw: any text "
    "that begins with a negative decimal, or merely ends in '0' (like '10'), passes. We take the "
    "whole string as the decimal."
)
_V2_DECIMAL = (
    "v2 decimals are 'type: string, format: decimal' with no pattern, so the schema takes any "
    "string. The v2 specification defines a Decimal as a dotted-decimal number; we check it as "
    "v3's Decimal, because the ledger computes with these values."
)
_URN = (
    "The Urn schema's pattern checks only the 'urn:' prefix; its 'format: urn' means RFC 8141 "
    "(urn:<NID>:<NSS>), which we check: product and company ids are the ledger's index terms."
)

#: Where our models refuse and the official schema does not: "<version>: <mutation>" -> why.
DELIBERATE_DIFFERENCES = {
    "v3: '1x' (a decimal, then garbage) [PositiveNonZeroDecimal]": _POSITIVE_NON_ZERO,
    "v3: '1.5.0' (not a decimal) [PositiveNonZeroDecimal]": _POSITIVE_NON_ZERO,
    "v3: '1e3' (exponent) [PositiveNonZeroDecimal]": _POSITIVE_NON_ZERO,
    "v3: '1\\n' (trailing newline) [PositiveNonZeroDecimal]": _POSITIVE_NON_ZERO,
    "v3: '-1x' (a decimal, then garbage) [NegativeOrZeroDecimal]": _NEGATIVE_OR_ZERO,
    "v3: '10' (positive, ends in 0) [NegativeOrZeroDecimal]": _NEGATIVE_OR_ZERO,
    "v3: '1.5.0' (not a decimal) [NegativeOrZeroDecimal]": _NEGATIVE_OR_ZERO,
    "v2: '1.5.0' (not a decimal) [format: decimal]": _V2_DECIMAL,
    "v2: '1e3' (exponent) [format: decimal]": _V2_DECIMAL,
    "v2: '1\\n' (trailing newline) [format: decimal]": _V2_DECIMAL,
    "v2: '0' (not > 0) [format: decimal]": (
        "v2 unitaryProductAmount: the schema's own description says 'MUST be strictly greater "
        "than 0', and the roll-up divides by it."
    ),
    "v3: 'urn:example' (no namespace-specific string)": _URN,
    "v2: 'urn:example' (no namespace-specific string)": _URN,
    "v2: 1.0 (an integral float)": (
        "JSON Schema counts 1.0 as an integer; strict parsing takes an integer field (v2 "
        "'version') only as a JSON integer, as everywhere else in the ledger."
    ),
}


# -- the official schemas ---------------------------------------------------------------


def _ecma_pattern(pattern: str) -> str:
    """An ECMA-262 pattern as a Python one (translation 3)."""
    out, escaped, in_class = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == "$" and not in_class:
            ch = r"\Z"
        out.append(ch)
    return "(?a)" + "".join(out)


def _translate(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _ecma_pattern(v) if k == "pattern" and isinstance(v, str) else _translate(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [_translate(v) for v in node]
    return node


@cache
def openapi(version: str) -> dict[str, Any]:
    with OPENAPI[version].open(encoding="utf-8") as f:
        return yaml.load(f, Loader=yaml.CSafeLoader)


@cache
def format_checker() -> FormatChecker:
    checker = FormatChecker(formats=("date-time", "uuid", "uri"))

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    return checker


@cache
def official(version: str) -> Draft202012Validator:
    resource = Resource.from_contents(_translate(openapi(version)), default_specification=DRAFT202012)
    registry = Registry().with_resource(BASE[version], resource)
    root = {"$ref": BASE[version] + "#/components/schemas/ProductFootprint"}
    return Draft202012Validator(root, registry=registry, format_checker=format_checker())


def schemas(version: str) -> dict[str, Any]:
    return openapi(version)["components"]["schemas"]


def resolve(version: str, node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``node`` with its ``$ref`` followed (siblings kept), and the referenced schema's name."""
    name = None
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/components/schemas/"), ref
        name = ref.rsplit("/", 1)[1]
        node = {**schemas(version)[name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node, name


# -- the examples --------------------------------------------------------------------------


def _footprints(relpath: str) -> list[dict[str, Any]]:
    doc = json.loads((PACT / relpath).read_text(encoding="utf-8"))
    where = EXAMPLE_FILES[relpath]
    if where == "document":
        found = [doc]
    elif where == "data":
        found = [doc["data"]]
    else:
        found = doc["data"] if where == "data[]" else doc["data"]["pfs"]
    assert found, relpath
    return found


def _examples() -> dict[str, dict[str, Any]]:
    out = {}
    for relpath, where in EXAMPLE_FILES.items():
        for i, fp in enumerate(_footprints(relpath)):
            out[relpath.removesuffix(".json") + (f"[{i}]" if where.endswith("[]") else "")] = fp
    out["v3/full"] = full_document("v3", out["v3/example-1"])
    out["v2/full"] = full_document("v2", out["v2/get-footprint-response"])
    return out


_GEOGRAPHY = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")
_SAMPLE_FORMAT = {
    "date-time": "2024-06-30T12:00:00.5+02:00",
    "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "uri": "https://example.org/schema.json",
    "urn": "URN:example:sample",
}
_SAMPLE_STRINGS = ("1", "0", "-1", "AR6", "DE", "DE-BW", "3.0.0", "sample")


def _fits(schema: dict[str, Any], text: str) -> bool:
    pattern = schema.get("pattern")
    if pattern is not None and re.search(_ecma_pattern(pattern), text) is None:
        return False
    return len(text) >= schema.get("minLength", 0)


def sample(version: str, node: dict[str, Any]) -> Any:
    """A valid value for ``node``, every optional property included."""
    s, _ = resolve(version, node)
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "string":
        return _SAMPLE_FORMAT.get(s.get("format", "")) or next(t for t in _SAMPLE_STRINGS if _fits(s, t))
    if kind == "array":
        return [sample(version, s["items"])]
    if kind == "object":  # of the three geography properties, at most one may be present
        return {k: sample(version, p) for k, p in s.get("properties", {}).items() if k not in _GEOGRAPHY[1:]}
    return {"boolean": True, "integer": 1, "number": s.get("minimum", 1)}[kind]


def _fill(version: str, value: Any, node: dict[str, Any]) -> Any:
    s, _ = resolve(version, node)
    if isinstance(value, dict) and "properties" in s:
        out = {k: _fill(version, v, s["properties"][k]) if k in s["properties"] else v for k, v in value.items()}
        for k, p in s["properties"].items():
            if k not in out and k not in _GEOGRAPHY:
                out[k] = sample(version, p)
        return out
    if isinstance(value, list) and "items" in s:
        return [_fill(version, v, s["items"]) for v in value]
    return value


def full_document(version: str, example: dict[str, Any]) -> dict[str, Any]:
    """``example`` with every optional property the schema defines (but geography) present."""
    return _fill(version, example, schemas(version)["ProductFootprint"])


EXAMPLES = _examples()


# -- mutations -----------------------------------------------------------------------------


Path_ = tuple[str | int, ...]  # keys and indices into a footprint
DROP = object()  # as a new value: delete the property


@dataclass(frozen=True)
class Mutation:
    doc: str  # "v3/example-1"
    path: str  # "pcf.declaredUnitAmount"
    what: str  # "a JSON number"
    footprint: dict[str, Any] = field(repr=False, compare=False)

    @property
    def version(self) -> str:
        return self.doc.split("/")[0]

    @property
    def id(self) -> str:
        return f"{self.doc}: {self.path or '(top level)'}: {self.what}"


# Bad values, each as (what, value): "what" names the mutation in test ids and in
# DELIBERATE_DIFFERENCES. Decimal ones are tagged with the schema they break.
_DECIMAL_TEXT = [("'1.5.0' (not a decimal)", "1.5.0"), ("'1e3' (exponent)", "1e3"), ("'1\\n' (trailing newline)", "1\n")]
_BY_TYPE = {  # by the referenced schema's name
    "PositiveOrZeroDecimal": [("'-1' (negative)", "-1")],
    "PositiveNonZeroDecimal": [("'0' (not > 0)", "0"), ("'1x' (a decimal, then garbage)", "1x")],
    "NegativeOrZeroDecimal": [("'1' (positive)", "1"), ("'10' (positive, ends in 0)", "10"),
                              ("'-1x' (a decimal, then garbage)", "-1x")],
}  # fmt: skip
_BY_FORMAT = {
    "urn": [("'company1' (not a URN)", "company1"), ("'urn:example' (no namespace-specific string)", "urn:example"),
            ("'URN:Example:x' (upper-case scheme and NID)", "URN:Example:x")],
    "uuid": [("'not-a-uuid'", "not-a-uuid"), ("a UUID one digit short", "12345678-9abc-def0-1234-56781234567")],
    "date-time": [("a date only", "2024-01-31"), ("no offset", "2024-01-31T00:00:00"),
                  ("no such day", "2024-02-30T00:00:00Z"), ("lower-case t and z", "2024-01-31t00:00:00z"),
                  ("hour 24", "2024-01-31T24:00:00Z"), ("offset minutes 60", "2024-01-31T00:00:00+01:60"),
                  ("offset and fraction", "2024-01-31T00:00:00.123456789-05:30")],
    "uri": [("'not a uri'", "not a uri"), ("a relative reference", "//example.org/x.json")],
}  # fmt: skip
_SPEC_VERSION = r"^\d+\.\d+\.\d+(-\d{8})?$"
_BY_PATTERN = {
    _SPEC_VERSION: [("'3.0' (two parts)", "3.0"), ("'3.0.0\\n' (trailing newline)", "3.0.0\n"),
                    ("'3.0.0-2024' (short date)", "3.0.0-2024"), ("with a date", "3.0.0-20250101")],
    r"^[A-Z]{2}$": [("'de' (lower case)", "de"), ("'DEU' (three letters)", "DEU"),
                    ("'DE\\n' (trailing newline)", "DE\n")],
    r"^[A-Z]{2}-[A-Z0-9]{1,3}$": [("'DE_BW'", "DE_BW"), ("'DE-' (no subdivision)", "DE-")],
    r"^AR\d+$": [("'ar6' (lower case)", "ar6"), ("'AR' (no number)", "AR"), ("'AR６' (a full-width digit)", "AR６")],
    "^([uU][rR][nN]):": [],  # Urn: covered by format "urn"
}  # fmt: skip


#: Bad values for single properties, beyond what their schema implies.
_BY_PROPERTY = {("v2", "unitaryProductAmount"): [("'0' (not > 0)", "0")]}


def _string_cases(version: str, key: object, s: dict[str, Any], name: str | None, value: str) -> list[tuple[str, Any]]:
    """Bad values for the string ``value`` at property ``key``, whose schema is ``s`` (named ``name``)."""
    if "enum" in s:
        return [("'NotInTheEnum' (not in the enum)", "NotInTheEnum")]
    if s.get("format") == "decimal":
        bad = _DECIMAL_TEXT + _BY_TYPE.get(name or "", []) + _BY_PROPERTY.get((version, key), [])
        tag = name or "format: decimal"
        number = json.loads(value.lstrip("+"))
        return [("a decimal as a JSON number", number)] + [(f"{what} [{tag}]", new) for what, new in bad]
    cases: list[tuple[str, Any]] = [("a JSON number", 1)] + _BY_FORMAT.get(s.get("format", ""), [])
    if s.get("pattern") == _SPEC_VERSION:  # keep the major version, so the same model reads it
        cases += [(what, value.split(".")[0] + new[1:]) for what, new in _BY_PATTERN[_SPEC_VERSION]]
    elif "pattern" in s:
        cases += _BY_PATTERN[s["pattern"]]
    if s.get("minLength"):
        cases.append(("'' (empty)", ""))
    return cases


def _cases(version: str, value: Any, node: dict[str, Any], path: Path_) -> Iterator[tuple[Path_, str, Any]]:
    """(path, what, new value) for ``value`` (at ``path``, schema ``node``) and all in it; ``DROP`` deletes."""
    s, name = resolve(version, node)
    yield path, "null", None
    if isinstance(value, dict):
        yield path, "an array instead of an object", []
        props = s.get("properties")
        if props is None:  # a free-form object (an extension's data)
            return
        for key, item in value.items():
            yield path + (key,), "dropped", DROP
            if key in props:
                yield from _cases(version, item, props[key], path + (key,))
        yield path + ("tdsUnknownProperty",), "an unknown property added", "x"
        if "geographyCountry" in props:
            extra = next(k for k in _GEOGRAPHY if k not in value)
            yield path + (extra,), "a second geography", sample(version, props[extra])
    elif isinstance(value, list):
        yield path, "a string instead of an array", "x"
        yield path, "empty", []
        if value:
            yield path, "its first item twice", value + [value[0]]
        for i, item in enumerate(value):
            yield from _cases(version, item, s["items"], path + (i,))
    elif isinstance(value, bool):
        yield path, "'true' as a string", "true"
    elif isinstance(value, str):
        for what, new in _string_cases(version, path[-1] if path else None, s, name, value):
            yield path, what, new
    elif isinstance(value, int | float):
        yield path, "'1' as a string", "1"
        yield path, "a boolean", True
        if "minimum" in s:
            yield path, "below the minimum", s["minimum"] - 1
        if "maximum" in s:
            yield path, "above the maximum", s["maximum"] + 1
        if s.get("type") == "integer":
            yield path, "1.5 (a fraction)", 1.5
            yield path, "1.0 (an integral float)", 1.0
            yield path, "2**31 (beyond int32)", 2**31


def _apply(doc: dict[str, Any], path: Path_, new: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    if not path:
        return new
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    if new is DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return out


def _label(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# Near-copies are mutated once: the v2 files hold one footprint three times, the v3
# event's footprint differs from the v3 list's only in dates and an extension URL.
MUTATED = ["v3/example-1", "v3/example-2", "v3/example-3", "v3/example-4", "v3/list-footprints-response[0]",
           "v3/full", "v2/get-footprint-response", "v2/full"]  # fmt: skip


def mutations() -> list[Mutation]:
    out = []
    for doc in MUTATED:
        version, example = doc.split("/")[0], EXAMPLES[doc]
        root = schemas(version)["ProductFootprint"]
        for path, what, new in _cases(version, example, root, ()):
            if path:  # the footprint itself as null/array is the parser's own check
                out.append(Mutation(doc, _label(path), what, _apply(example, path, new)))
    return out


MUTATIONS = mutations()


def ours_refuses(fp: Any) -> str | None:
    try:
        parse_footprint(fp)
    except InvalidRecord as e:
        return str(e)
    return None


def official_errors(version: str, fp: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}"[:200] for e in official(version).iter_errors(fp)]


# -- the tests: schemas and examples ----------------------------------------------------


def test_every_footprint_vector_is_used() -> None:
    on_disk = {str(p.relative_to(PACT)) for v in ("v2", "v3") for p in (PACT / v).glob("*.json")}
    assert on_disk == set(EXAMPLE_FILES)


@pytest.mark.parametrize("version", ["v3", "v2"])
def test_documents_are_openapi_3_1_without_nullable(version: str) -> None:
    doc = openapi(version)
    assert doc["openapi"] == "3.1.0" and "jsonSchemaDialect" not in doc

    def keys(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    assert "nullable" not in set(keys(doc["components"]))


def test_format_checker_asserts_the_formats_it_claims() -> None:
    """A missing optional package would make jsonschema skip a format silently."""
    checker = format_checker()
    assert not checker.conforms("2024-02-30T00:00:00Z", "date-time")
    assert not checker.conforms("2024-01-31", "date-time")
    assert not checker.conforms("not a uri", "uri")
    assert not checker.conforms("not-a-uuid", "uuid")
    assert not checker.conforms(2**31, "int32")
    assert checker.conforms("2024-01-31T00:00:00+01:00", "date-time")


def test_pattern_translation() -> None:
    assert _ecma_pattern(r"^\d+$") == r"(?a)^\d+\Z"
    assert _ecma_pattern(r"^[$]\$$") == r"(?a)^[$]\$\Z"
    assert not official("v3").is_valid(_apply(EXAMPLES["v3/example-1"], ("specVersion",), "3.0.0\n"))


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_is_valid_for_both(name: str) -> None:
    fp = EXAMPLES[name]
    assert official_errors(name.split("/")[0], fp) == []
    model = parse_footprint(fp)
    assert isinstance(model, v3.ProductFootprint if name.startswith("v3") else v2.ProductFootprint)
    assert model.model_dump(mode="json", exclude_unset=True) == fp  # nothing lost, nothing added


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_mutation_refused_iff_official_schema_refuses(mutation: Mutation) -> None:
    ours = ours_refuses(mutation.footprint)
    theirs = not official(mutation.version).is_valid(mutation.footprint)
    why = lambda: official_errors(mutation.version, mutation.footprint)  # noqa: E731 (only on failure)
    if f"{mutation.version}: {mutation.what}" in DELIBERATE_DIFFERENCES:
        assert ours is not None and not theirs, f"listed difference does not hold: ours={ours!r}, official={why()}"
    elif theirs:
        assert ours is not None, f"official schema refuses ({why()}), we accept"
    else:
        assert ours is None, f"official schema accepts, we refuse: {ours}"


@pytest.mark.parametrize("key", list(DELIBERATE_DIFFERENCES))
def test_each_deliberate_difference_is_exercised(key: str) -> None:
    matching = [m for m in MUTATIONS if f"{m.version}: {m.what}" == key]
    assert matching, f"no mutation exercises {key!r}: the list is stale"
    for m in matching:
        assert ours_refuses(m.footprint) is not None and official(m.version).is_valid(m.footprint), m.id


def test_mutations_cover_every_kind() -> None:
    whats = {m.what for m in MUTATIONS}
    for expected in ("dropped", "null", "a JSON number", "a decimal as a JSON number", "an unknown property added",
                     "'NotInTheEnum' (not in the enum)", "'company1' (not a URN)", "empty", "its first item twice",
                     "a second geography", "an array instead of an object", "'1.5.0' (not a decimal) [Decimal]",
                     "below the minimum"):  # fmt: skip
        assert expected in whats
    assert len(MUTATIONS) > 2000


def test_full_documents_fill_every_optional_property() -> None:
    for version, doc in (("v3", EXAMPLES["v3/full"]), ("v2", EXAMPLES["v2/full"])):
        for name in ("ProductFootprint", "CarbonFootprint"):
            target = doc if name == "ProductFootprint" else doc["pcf"]
            missing = set(schemas(version)[name]["properties"]) - set(target) - set(_GEOGRAPHY)
            assert not missing, (version, name, missing)


# -- the tests: parse_footprint's errors ----------------------------------------------------


def _v3(**changes: Any) -> dict[str, Any]:
    fp = copy.deepcopy(EXAMPLES["v3/example-1"])
    for dotted, value in changes.items():
        fp = _apply(fp, tuple(int(p) if p.isdigit() else p for p in dotted.split("__")), value)
    return fp


_P = "pcf payload: "


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"pcf__declaredUnitAmount": 1}, "pcf.declaredUnitAmount: expected a decimal string > 0, got a number (1)"),
        ({"pcf__fossilGhgEmissions": 0.35},
         "pcf.fossilGhgEmissions: expected a decimal string >= 0, got a number (0.35)"),
        ({"pcf__pcfExcludingBiogenicUptake": "1,5"},
         "pcf.pcfExcludingBiogenicUptake: expected a decimal string like \"-1.25\", got '1,5'"),
        ({"companyIds": DROP}, "companyIds: required, but missing"),
        ({"companyIds__0": "company1"},
         "companyIds[0]: expected a URN like \"urn:gtin:4712345060507\" (RFC 8141), got 'company1'"),
        ({"status": "active"}, "status: expected 'Active' or 'Deprecated', got 'active'"),
        ({"pcf__packagingEmissionsIncluded": "true"},
         "pcf.packagingEmissionsIncluded: expected true or false, got 'true'"),
        ({"productDescription": 5}, "productDescription: expected a string, got a number (5)"),
        ({"comment": None}, "comment: expected a value, got null (an absent value is left out)"),
        ({"pcf__crossSectoralStandards": []}, "pcf.crossSectoralStandards: expected at least 1 item(s), got none"),
        ({"pcf__ipccCharacterizationFactors": ["AR6", "AR6"]},
         'pcf.ipccCharacterizationFactors: expected unique items, got "AR6" twice'),
        ({"pcf__geographyCountry": "US"},
         "pcf: expected at most one of geographyRegionOrSubregion, geographyCountry and "
         "geographyCountrySubdivision, got geographyCountry, geographyCountrySubdivision"),
        ({"created": "2025-04-30"},
         "created: expected an RFC 3339 date-time like \"2024-01-31T00:00:00Z\", got '2025-04-30'"),
        ({"pcf__dqi": []}, "pcf.dqi: expected an object, got an array of 0"),
        ({"extensions": [{"specVersion": "1", "dataSchema": "no uri", "data": {}}]},
         "extensions[0].dataSchema: expected an absolute URI (RFC 3986), got 'no uri'"),
        ({"pcf__productOrSectorSpecificRules__0__ruleNames": [""]},
         "pcf.productOrSectorSpecificRules[0].ruleNames[0]: expected a non-empty string, got ''"),
        ({"id": "x", "pcf__declaredUnitAmount": "0"}, "id: expected a UUID string, got 'x' (and 1 more)"),
    ],
    ids=lambda v: None if isinstance(v, str) else ",".join(v),
)  # fmt: skip
def test_parse_footprint_names_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_footprint(_v3(**changes))
    assert str(info.value) == _P + message
    assert isinstance(info.value, ValueError) and isinstance(info.value, LedgerError)


@pytest.mark.parametrize(
    "obj, message",
    [
        ([], "pcf payload: expected a ProductFootprint object, got an array of 0"),
        ({}, 'pcf payload: specVersion: expected a version string like "3.0.0", got missing'),
        ({"specVersion": 3}, 'pcf payload: specVersion: expected a version string like "3.0.0", got a number (3)'),
        ({"specVersion": "1.0.0"}, "pcf payload: specVersion: expected a PACT 3.x (or 2.x) version, got '1.0.0'"),
    ],
)
def test_parse_footprint_refuses_what_is_not_a_footprint(obj: Any, message: str) -> None:
    with pytest.raises(InvalidRecord, match=re.escape(message) + "$"):
        parse_footprint(obj)


def test_version_picks_the_model() -> None:
    v2_doc = EXAMPLES["v2/get-footprint-response"]
    assert isinstance(parse_footprint(v2_doc), v2.ProductFootprint)
    assert isinstance(parse_footprint({**v2_doc, "specVersion": "2.3.0"}), v2.ProductFootprint)
    assert isinstance(parse_footprint(_v3(specVersion="3.1.0-20250101")), v3.ProductFootprint)
    with pytest.raises(InvalidRecord, match="version: required, but missing"):
        parse_footprint(_v3(specVersion="2.0.0"))  # a v3 document labelled 2.x is read as v2


def test_no_decimal_is_ever_a_number() -> None:
    """Every decimal field, in both versions, refuses a JSON number (never str(number))."""
    for doc, amount in (("v3/full", "pcf.declaredUnitAmount"), ("v2/full", "pcf.unitaryProductAmount")):
        hits = {m.path: m for m in MUTATIONS if m.doc == doc and m.what == "a decimal as a JSON number"}
        assert {amount, "pcf.fossilGhgEmissions", "pcf.productMassPerDeclaredUnit"} <= set(hits)
        for m in hits.values():
            assert ours_refuses(m.footprint) is not None, m.id


# -- the tests: the view ----------------------------------------------------------------------


def test_v2_view_maps_v2_names() -> None:
    raw = EXAMPLES["v2/get-footprint-response"]
    view = footprint_view(parse_footprint(raw))
    assert view.declared_unit == raw["pcf"]["declaredUnit"] == "liter"
    assert view.declared_unit_amount == Decimal(raw["pcf"]["unitaryProductAmount"])
    for name in ROLLUP_FIELDS:
        value = view.rollup(name)
        assert value is not None and value.text == raw["pcf"][ROLLUP_FIELDS_V2[name]]
        assert value.value == Decimal(value.text)
    assert view.pcf_excluding_biogenic_uptake == DecimalText("1.63", Decimal("1.63"))
    assert view.pcf_including_biogenic_uptake == DecimalText("1.85", Decimal("1.85"))
    assert view.fossil_ghg_emissions == DecimalText("1.5", Decimal("1.5"))
    assert view.spec_version == "2.0.0" and view.status is FootprintStatus.ACTIVE
    assert view.company_ids == ("urn:uuid:69585GB6-56T9-6958-E526-6FDGZJHU1326", "urn:epc:id:sgln:562958.00000.4")
    assert view.product_ids == ("urn:gtin:5695872369587",)
    assert view.product_classifications == () and view.preceding_pf_ids == ()
    assert view.geography.region == "Western Europe" and view.geography.country is None
    end = view.validity_period_end
    assert end is not None and end.isoformat() == "2024-12-31T00:00:00+00:00"
    assert [e.dataSchema for e in view.extensions] == [raw["extensions"][0]["dataSchema"]]
    assert isinstance(view.extensions[0], DataModelExtension) and view.extensions[0].data["weight"] == 10


def test_v2_without_pcf_including_biogenic() -> None:
    raw = copy.deepcopy(EXAMPLES["v2/get-footprint-response"])
    del raw["pcf"]["pCfIncludingBiogenic"]
    view = footprint_view(parse_footprint(raw))
    assert view.pcf_including_biogenic_uptake is None and view.rollup("pcfIncludingBiogenicUptake") is None


def test_v3_view() -> None:
    raw = EXAMPLES["v3/example-2"]
    view = footprint_view(parse_footprint(raw))
    assert (view.id, view.declared_unit, view.declared_unit_amount) == (raw["id"], "liter", Decimal("12"))
    for name in ROLLUP_FIELDS:
        assert view.rollup(name) == DecimalText(raw["pcf"][name], Decimal(raw["pcf"][name]))
    assert view.preceding_pf_ids == tuple(raw["precedingPfIds"])
    assert view.product_classifications == tuple(raw["productClassifications"])
    assert view.geography.country == "US" and view.geography.region is None
    assert view.created.tzinfo is not None
    with pytest.raises(ValueError, match="expected one of"):
        view.rollup("pCfExcludingBiogenic")
    with pytest.raises(TypeError):
        footprint_view(raw)  # type: ignore[arg-type]


def test_decimals_are_exact() -> None:
    big = "123456789012345678901234567890.123456789012345678901"
    fp = _v3(pcf__pcfExcludingBiogenicUptake=big, pcf__pcfIncludingBiogenicUptake="+0.10", pcf__fossilGhgEmissions="0.20")
    view = footprint_view(parse_footprint(fp))
    excluding = view.pcf_excluding_biogenic_uptake
    assert excluding.value == Decimal(big) and str(excluding.value) == big and excluding.places == 21
    including, fossil = view.pcf_including_biogenic_uptake, view.fossil_ghg_emissions
    assert including is not None and including.value + fossil.value == Decimal("0.30")
    assert (including.text, including.places, fossil.places) == ("+0.10", 2, 2)
    assert as_decimal("+1.50") == Decimal("1.50") and as_decimal("-0") == 0
    with pytest.raises(ValueError):
        as_decimal("1e3")


def test_date_times_with_offsets() -> None:
    view = footprint_view(parse_footprint(EXAMPLES["v3/example-3"]))
    assert view.validity_period_start is not None
    fp = _v3(validityPeriodStart="2024-12-31T01:30:00.1234567+01:30")
    start = footprint_view(parse_footprint(fp)).validity_period_start
    assert start is not None and start.isoformat() == "2024-12-31T01:30:00.123456+01:30"
