"""The documents ``tests/test_untp.py`` mutates, and the mutations: each property dropped,
set to null, to a value of the wrong JSON type, emptied, an enum given a value outside it,
a URI, date or date-time a malformed one, a ``type`` array missing a required name, an
unknown property added to every object, the contexts reordered, repeated or of another
version. Guided by the schema of each place (UNTP's, or VC 2.0's for the members UNTP
leaves free), so every format and enum gets its own bad values.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from untp_official import BITSTRING, CTX_061, CTX_WORKING, instance, schema

# -- documents: the instances, and "full" ones with every optional property -----------------

STATUS_ENTRY = {
    "id": "https://ledger.example/participants/0xabc/status/revocation#7",
    "type": BITSTRING,
    "statusPurpose": "revocation",
    "statusListIndex": "7",
    "statusListCredential": "https://ledger.example/participants/0xabc/status/revocation",
    "statusSize": 1,
}
#: The VC 2.0 members the UNTP schema leaves free, one of each, as VC 2.0 shapes them.
VC_MEMBERS = {
    "credentialStatus": [STATUS_ENTRY, {"type": "ExampleStatus", "id": "https://ledger.example/s/1"}],
    "credentialSchema": {"id": "https://ledger.example/schemas/dpp.json", "type": "JsonSchema"},
    "refreshService": {"id": "https://ledger.example/refresh/1", "type": "ExampleRefresh"},
    "termsOfUse": [{"type": "ExampleTerms"}],
    "evidence": {"id": "https://ledger.example/evidence/1", "type": ["Evidence"]},
    "proof": {"type": "DataIntegrityProof", "proofPurpose": "assertionMethod",
              "verificationMethod": [{"id": "did:example:1#k", "type": "Multikey", "controller": "did:example:1"}],
              "created": "2024-03-15T12:00:00Z", "proofValue": "z123"},
}  # fmt: skip

_SAMPLE_FORMAT = {"uri": "https://example.org/sample", "date": "2024-01-31", "date-time": "2024-01-31T00:00:00Z"}


def resolve(node: dict[str, Any], doc: dict[str, Any], value: Any = None) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed (within ``doc``) and, for a ``oneOf``, the branch
    of ``value``'s JSON type."""
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    if "oneOf" in node:
        want = "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"
        for branch in node["oneOf"]:
            branch = resolve(branch, doc)
            if branch.get("type") == want:
                return branch
    return node


def sample(node: dict[str, Any], doc: dict[str, Any], depth: int = 0) -> Any:
    """A valid value for ``node``, every optional property included (arrays nested deeper
    than 3 levels are empty: ``Criterion.subCriterion`` is recursive)."""
    s = resolve(node, doc)
    if "default" in s:
        return copy.deepcopy(s["default"])
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "string":
        return _SAMPLE_FORMAT.get(s.get("format", ""), "sample")
    if kind == "array":
        return [sample(s["items"], doc, depth + 1)] if depth < 3 else []
    if kind == "object":
        return {k: sample(p, doc, depth) for k, p in s.get("properties", {}).items()}
    return {"boolean": True, "number": 1}[kind]


def _fill(value: Any, node: dict[str, Any], doc: dict[str, Any]) -> Any:
    s = resolve(node, doc)
    if isinstance(value, dict) and "properties" in s:
        props = s["properties"]
        out = {k: _fill(v, props[k], doc) if k in props else v for k, v in value.items()}
        for k, p in props.items():
            out.setdefault(k, sample(p, doc))
        return out
    if isinstance(value, list) and "items" in s:
        return [_fill(v, s["items"], doc) for v in value]
    return value


def full_document(credential: dict[str, Any], schema_name: str) -> dict[str, Any]:
    """``credential`` with every optional property its UNTP schema defines, and ``VC_MEMBERS``."""
    doc = schema(schema_name)
    return {**_fill(credential, doc, doc), **copy.deepcopy(VC_MEMBERS)}


@cache
def documents() -> dict[str, dict[str, Any]]:
    """The instances of 0.6.1 and the working draft, and each one "full" (``full_document``)."""
    base, working = instance("dpp-0.6.1/untp-dpp-instance.json"), instance("dpp/untp-dpp-instance.json")
    return {
        "0.6.1": base,
        "0.6.1/full": full_document(base, "untp-0.6.1"),
        "working": working,
        "working/full": full_document(working, "untp-working"),
    }


# -- mutations --------------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
DROP = object()  # as a new value: delete the property


@dataclass(frozen=True)
class Mutation:
    doc: str  # "0.6.1/full"
    path: str  # "credentialSubject.product.id"
    what: str  # "a relative reference"
    credential: dict[str, Any] = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.doc}: {self.path or '(top level)'}: {self.what}"


_BY_FORMAT = {
    "uri": [("'not a uri' (spaces)", "not a uri"), ("a relative reference", "//example.org/x"),
            ("a path only", "/x/y"), ("a non-ASCII letter", "https://exämple.org/"),
            ("a bad percent-escape", "https://example.org/%zz"), ("a scheme only", "urn:"),
            ("a scheme starting with a digit", "1http://example.org"), ("an IPv6 literal", "https://[2001:db8::1]/x"),
            ("a fragment and a query", "https://example.org/a?b=c#d")],
    "date": [("a date-time", "2024-01-31T00:00:00Z"), ("no such day", "2024-02-30"), ("year 0000", "0000-01-01"),
             ("one-digit month", "2024-1-31"), ("no dashes", "20240131"), ("a leap day", "2024-02-29"),
             ("a non-ASCII digit", "2024-01-3\u0661")],
    "date-time": [("a date only", "2024-01-31"), ("no offset", "2024-01-31T00:00:00"),
                  ("lower-case t", "2024-01-31t00:00:00Z"), ("lower-case z", "2024-01-31T00:00:00z"),
                  ("hour 24", "2024-01-31T24:00:00Z"), ("no such day", "2024-02-30T00:00:00Z"),
                  ("offset +14:00", "2024-01-31T00:00:00+14:00"), ("offset +14:30", "2024-01-31T00:00:00+14:30"),
                  ("offset -13:59", "2024-01-31T00:00:00-13:59"), ("offset +23:00", "2024-01-31T00:00:00+23:00"),
                  ("a fraction", "2024-01-31T00:00:00.123456789Z"), ("year 0000", "0000-01-31T00:00:00Z"),
                  ("a five-digit year", "12024-01-31T00:00:00Z"), ("a negative year", "-2024-01-31T00:00:00Z"),
                  ("second 60", "2024-01-31T00:00:60Z"), ("a non-ASCII digit", "2024-01-31T0\u0661:00:00Z")],
}  # fmt: skip
#: Values for the Bitstring Status List entry's members (no schema shapes them).
_BY_KEY = {
    "statusListIndex": [("'007' (leading zeros)", "007"), ("'-1'", "-1"), ("'1.5'", "1.5"), ("'0'", "0"),
                        ("21 digits", "1" * 21), ("a JSON number", 7)],
    "statusPurpose": [("'suspension'", "suspension")],
    "statusSize": [("0", 0), ("2", 2), ("1.0 (a float)", 1.0)],
    "id": [("the status list's URL", STATUS_ENTRY["statusListCredential"])],
}  # fmt: skip


_ARTICLE = {
    "object": "an object", "array": "an array", "string": "a string", "number": "a number", "boolean": "a boolean",
}  # fmt: skip


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}[type(value)]


def _string_cases(key: object, s: dict[str, Any], value: str) -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = [("a JSON number", 1), ("'' (empty)", ""), ("a trailing newline", value + "\n")]
    if "enum" in s:
        cases += [("'NotInTheEnum'", "NotInTheEnum"), ("the enum value upper-cased", value.upper())]
        cases += [(f"the enum value {other!r}", other) for other in s["enum"] if other != value][:2]
    cases += _BY_FORMAT.get(s.get("format", ""), [])
    return cases + _BY_KEY.get(key, [])


def _type_array_cases(s: dict[str, Any], value: list[Any]) -> Iterator[tuple[str, Any]]:
    required = [c["contains"]["const"] for c in s.get("allOf", []) if "contains" in c]
    for const in required:
        yield f"without {const!r}", [v for v in value if v != const]
    yield "a number added", value + [1]
    yield "another type added", value + ["ExtraType"]


def shape(value: Any) -> Any:
    """``value`` with every string, number and boolean replaced by its JSON type."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return _json_type(value)


NO_BASE = object()  # ``base`` where there is none


def cases(value: Any, node: dict[str, Any], doc: dict[str, Any], path: Path_, vc: dict[str, Any] | None = None,
          base: Any = NO_BASE) -> Iterator[tuple[Path_, str, Any]]:  # fmt: skip
    """(path, what, new value) for ``value`` (at ``path``, schema ``node`` of ``doc``) and
    everything in it; ``vc`` is the VC 2.0 schema, consulted for root members UNTP leaves free.

    With ``base`` (the same place in a document already mutated), a subtree equal to it is
    skipped; so is an array item with the shape of an earlier one (``shape``)."""
    if value == base:
        return
    s = resolve(node, doc, value)
    key = path[-1] if path else None
    if path:
        yield path, "null", None
        container = isinstance(value, (dict, list))
        yield path, f"{'a string' if container else 'an array'} instead of {_ARTICLE[_json_type(value)]}", (
            "x" if container else [value])
    if isinstance(value, dict):
        if path:
            yield path, "emptied", {}
        props = s.get("properties", {})
        for k, item in value.items():
            under = base.get(k, NO_BASE) if isinstance(base, dict) else NO_BASE
            if item != under:
                yield path + (k,), "dropped", DROP
            if k in props:
                yield from cases(item, props[k], doc, path + (k,), base=under)
            elif vc is not None and k in vc["properties"]:
                yield from cases(item, vc["properties"][k], vc, path + (k,), base=under)
            else:  # a free member: mutate it by the JSON type it has
                yield from cases(item, {}, doc, path + (k,), base=under)
        yield path + ("tdsUnknownProperty",), "an unknown property added", "x"
    elif isinstance(value, list):
        yield path, "empty", []
        if value:
            yield path, "its first item twice", value + [value[0]]
        if len(value) > 1:
            yield path, "its first two items swapped", [value[1], value[0], *value[2:]]
        if key == "type" and "allOf" in s:
            for what, new in _type_array_cases(s, value):
                yield path, what, new
        if key == "@context":
            yield path, "a third context", value + ["https://example.org/another-context"]
            yield path, "an empty third context", value + [""]
            yield path + (1,), "the other version's context", CTX_WORKING if value[1:2] == [CTX_061] else CTX_061
            yield path + (1,), "the 0.3.10 context", "https://test.uncefact.org/vocabulary/untp/dpp/0.3.10/"
        items = s.get("items", {})
        seen: list[Any] = []
        for i, item in enumerate(value):
            if shape(item) in seen:  # an item shaped like an earlier one mutates the same way
                continue
            seen.append(shape(item))
            under = base[i] if isinstance(base, list) and i < len(base) else NO_BASE
            yield from cases(item, items if isinstance(items, dict) else {}, doc, path + (i,), base=under)
    elif isinstance(value, bool):
        yield path, "'true' as a string", "true"
        yield path, "a number", 1
    elif isinstance(value, str):
        for what, new in _string_cases(key, s, value):
            yield path, what, new
    elif isinstance(value, (int, float)):
        yield path, "'1' as a string", "1"
        yield path, "a boolean", True
        yield path, "negative", -value - 1
        yield path, "a fraction", 0.125
        yield path, "a large integer", 2**53 - 1
        for what, new in _BY_KEY.get(key, []):
            yield path, what, new


def apply(doc: dict[str, Any], path: Path_, new: Any) -> dict[str, Any]:
    """``doc`` with ``new`` at ``path`` (``DROP``: deleted; one past a list's end: appended).

    Only the containers on the path are copied: the result shares the rest with ``doc``
    (neither side of the comparison changes what it is given)."""
    out = copy.copy(doc)
    parent: Any = out
    for step in path[:-1]:
        parent[step] = copy.copy(parent[step])
        parent = parent[step]
    if new is DROP:
        del parent[path[-1]]
    elif isinstance(parent, list) and path[-1] == len(parent):
        parent.append(new)
    else:
        parent[path[-1]] = new
    return out


def label(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def mutations(name: str, credential: dict[str, Any], schema_name: str, base: Any = NO_BASE) -> list[Mutation]:
    """Every mutation of ``credential`` (only where it differs from ``base``, if given)."""
    root = schema(schema_name)
    return [
        Mutation(name, label(path), what, apply(credential, path, new))
        for path, what, new in cases(credential, root, root, (), vc=schema("vc-2.0"), base=base)
    ]


def leaf_paths(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every path into ``value``, containers included (the root excepted)."""
    if path:
        yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaf_paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaf_paths(v, path + (i,))
