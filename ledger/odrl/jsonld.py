"""JSON-LD normalisation of ODRL policies (the normalised form: ``ledger.odrl``).

``normalise(doc)`` expands the document with pyld, offline, and reads the expanded form
(every term a full IRI) into the normalised form: ODRL-vocabulary terms become their bare
names, anything else stays a full IRI. So ``"eq"``, ``"odrl:eq"``, ``{"@id": "odrl:eq"}``
and ``"http://www.w3.org/ns/odrl/2/eq"`` are one term, and an agreement written with
expanded IRIs equals the request written compactly (eclipse-tractusx/tractusx-edc#1299).

**Contexts** are shipped in ``ledger/odrl/contexts/``, written here (not copies of the
published documents): ``odrl.jsonld`` stands for ``http(s)://www.w3.org/ns/odrl.jsonld``
(the ODRL 2.2 vocabulary as ``@vocab``, with the term types of the W3C context) and
``dspace-2025-1.jsonld`` for ``https://w3id.org/dspace/2025/1/context.jsonld`` (the ODRL
terms a DSP message uses, and the DSP message terms). The document loader serves those
and refuses every other URL (``InvalidRecord`` naming it): nothing is fetched. A
document without ``@context`` is read with the DSP 2025-1 context.

Choices: ``@type`` of rules and constraints (EDC writes ``AtomicConstraint``) is dropped;
``timestamp`` is DSP's (``dspace:timestamp``) or ODRL's; a party or asset value is its
IRI, or the string as written when it is not one (EDC's ``"provider"``); keys outside
the ODRL vocabulary are kept as full IRIs (the policy parser treats unknown rule and
constraint properties as not implemented, and ignores policy-level annotations).
Documents deeper than ``MAX_DEPTH`` or larger than ``MAX_BYTES`` are refused before pyld
sees them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ledger.canonical import canonicalize
from ledger.errors import InvalidRecord

ODRL = "http://www.w3.org/ns/odrl/2/"
DSPACE = "https://w3id.org/dspace/2025/1/"
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"
DSP_CONTEXT_URL = "https://w3id.org/dspace/2025/1/context.jsonld"
SHIPPED = {
    "http://www.w3.org/ns/odrl.jsonld": "odrl.jsonld",
    "https://www.w3.org/ns/odrl.jsonld": "odrl.jsonld",
    DSP_CONTEXT_URL: "dspace-2025-1.jsonld",
}
MAX_DEPTH, MAX_BYTES = 64, 256 * 1024
_RULE_LISTS = ("permission", "prohibition", "obligation")
_NESTED_RULES = ("duty", "remedy", "consequence")
_LOGICAL = ("and", "or", "xone", "andSequence")
_PARTIES = ("target", "assigner", "assignee")


@cache
def _context_document(name: str) -> dict:
    return json.loads(resources.files("ledger.odrl").joinpath("contexts", name).read_text(encoding="utf-8"))


def _loader(url: str, options: Any = None) -> dict:
    name = SHIPPED.get(url)
    if name is None:
        raise InvalidRecord(f"@context points at {url[:200]}, which this ledger does not ship; shipped: {sorted(SHIPPED)}")
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_context_document(name))}


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels; refuses a remote ``@context`` we do
    not ship on the way (before pyld would ask its loader)."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return False
        if isinstance(v, dict):
            ctx = v.get("@context")
            for url in ctx if isinstance(ctx, list) else [ctx]:
                if isinstance(url, str):
                    _loader(url)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return True


def _expand(doc: Mapping) -> dict:
    if not isinstance(doc, Mapping):
        raise InvalidRecord("a policy must be a JSON object")
    if not _depth_ok(doc, MAX_DEPTH):
        raise InvalidRecord(f"a policy document may nest at most {MAX_DEPTH} levels")
    try:
        size = len(canonicalize(doc))
    except (ValueError, TypeError) as e:
        raise InvalidRecord(f"a policy document must be JSON: {e}") from None
    if size > MAX_BYTES:
        raise InvalidRecord(f"a policy document is at most {MAX_BYTES} bytes of JSON, got {size}")
    body = dict(doc)
    body.setdefault("@context", DSP_CONTEXT_URL)
    from pyld import jsonld  # imported on first use: it costs CLI start-up ~0.3 s

    try:
        out = jsonld.expand(body, {"documentLoader": _loader, "processingMode": "json-ld-1.1", "base": None})
    except InvalidRecord:
        raise
    except jsonld.JsonLdError as e:
        cause = e
        while isinstance(getattr(cause, "cause", None), Exception):
            cause = cause.cause  # type: ignore[assignment]
            if isinstance(cause, InvalidRecord):
                raise cause from None
        raise InvalidRecord(f"the policy is not valid JSON-LD: {str(e).splitlines()[0][:300]}") from None
    except (RecursionError, TypeError, ValueError, KeyError, AttributeError) as e:
        raise InvalidRecord(f"the policy is not valid JSON-LD: {type(e).__name__}") from None
    nodes = [n for n in out if isinstance(n, dict)]
    if len(nodes) != 1:
        raise InvalidRecord(f"a policy document must describe one policy, got {len(nodes)} top-level nodes")
    return nodes[0]


def _term(iri: str) -> str:
    return iri[len(ODRL):] if iri.startswith(ODRL) and len(iri) > len(ODRL) else iri


def _key(iri: str) -> str:
    if iri.startswith(ODRL):
        return iri[len(ODRL):]
    if iri == DSPACE + "timestamp":
        return "timestamp"
    return iri


def _ref(v: Any) -> Any:
    """A party, asset, profile, action, operator or left-operand value."""
    if isinstance(v, dict):
        if "@id" in v and len(v) == 1:
            return _term(v["@id"])
        if "@value" in v and isinstance(v["@value"], str) and "@type" not in v:
            return _term(v["@value"])
    raise InvalidRecord(f"expected an IRI or a string, got {json.dumps(v)[:120]}")


def _value(v: Any) -> Any:
    """A right-operand value."""
    if isinstance(v, dict):
        if "@list" in v:
            return [_value(x) for x in v["@list"]]
        if "@id" in v and len(v) == 1:
            return {"@id": _term(v["@id"])}
        if "@value" in v:
            if "@type" in v:
                return {"@value": v["@value"], "@type": v["@type"]}
            return v["@value"]
        return _node(v)
    return v


def _one(values: list, what: str) -> Any:
    if len(values) != 1:
        raise InvalidRecord(f"{what} must have one value, got {len(values)}")
    return values[0]


def _constraint(node: dict) -> dict:
    out: dict[str, Any] = {}
    for iri, values in node.items():
        if iri in ("@type", "@id"):
            continue
        key = _key(iri)
        if key in _LOGICAL:
            items = values[0]["@list"] if values and isinstance(values[0], dict) and "@list" in values[0] else values
            if key == "andSequence":
                out[key] = [_constraint(x) for x in items]
            else:
                out[key] = [_constraint(x) for x in items]
        elif key in ("leftOperand", "operator", "unit", "dataType"):
            out[key] = _ref(_one(values, key))
        elif key == "rightOperand":
            vals = [_value(x) for x in values]
            flat = vals[0] if len(vals) == 1 else vals
            out[key] = flat
        else:
            out[key] = [_value(x) for x in values]
    return out


def _rule(node: dict) -> dict:
    out: dict[str, Any] = {}
    for iri, values in node.items():
        if iri in ("@type", "@id"):
            continue
        key = _key(iri)
        if key == "action":
            a = _one(values, "action")
            if isinstance(a, dict) and RDF_VALUE in a:
                action: dict[str, Any] = {"value": _ref(_one(a[RDF_VALUE], "action value"))}
                refinement = a.get(ODRL + "refinement", [])
                if refinement:
                    action["refinement"] = [_constraint(x) for x in refinement]
                out[key] = action
            else:
                out[key] = _ref(a)
        elif key in _PARTIES:
            out[key] = _ref(_one(values, key))
        elif key == "constraint":
            out[key] = [_constraint(x) for x in values]
        elif key in _NESTED_RULES:
            out[key] = [_rule(x) for x in values]
        else:
            out[key] = [_value(x) for x in values]
    return {k: v for k, v in out.items() if v != []}


def _node(node: dict) -> dict:
    return {_key(k): [_value(x) for x in v] if isinstance(v, list) else v for k, v in node.items()}


def normalise(doc: Mapping) -> dict[str, Any]:
    """The normalised form of a policy document; ``InvalidRecord`` if it is not one."""
    node = _expand(doc)
    out: dict[str, Any] = {}
    for iri, values in node.items():
        if iri == "@id":
            out["@id"] = values
            continue
        if iri == "@type":
            types = [_term(t) for t in values]
            out["@type"] = types[0] if len(types) == 1 else sorted(types)[0]
            continue
        key = _key(iri)
        if key in _RULE_LISTS:
            rules = [_rule(x) for x in values]
            if rules:
                out[key] = rules
        elif key in _PARTIES:
            out[key] = _ref(_one(values, key))
        elif key == "profile":
            out[key] = [_ref(x) for x in values]
        elif key == "timestamp":
            v = _one(values, "timestamp")
            out[key] = v.get("@value") if isinstance(v, dict) else v
        elif ":" in key:
            continue  # annotations outside the ODRL vocabulary (dct:title, EDC's and DSP's own keys)
        else:
            out[key] = [_value(x) for x in values]
    return out


# -- comparing rules -----------------------------------------------------------------------


def rules_of(normalised: Mapping) -> dict[str, Any]:
    """Only the rule keys of a normalised policy."""
    return {k: normalised[k] for k in _RULE_LISTS if normalised.get(k)}


def _canon(value: Any, ordered: bool = False) -> Any:
    """``value`` with every array but an ``andSequence`` sorted (JSON-LD arrays are sets)."""
    if isinstance(value, dict):
        return {k: _canon(v, ordered=k == "andSequence") for k, v in value.items()}
    if isinstance(value, list):
        items = [_canon(v) for v in value]
        return items if ordered else sorted(items, key=lambda x: canonicalize(x))
    return value


def _show(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)[:200]


def _diff(a: Any, b: Any, path: str) -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: {_show(a.get(k)) if k in a else 'absent'} vs {_show(b.get(k)) if k in b else 'absent'}"
            d = _diff(a[k], b[k], f"{path}.{k}")
            if d is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _diff(x, y, f"{path}[{i}]")
            if d is not None:
                return d
        return None
    return None if a == b and type(a) is type(b) else f"{path}: {_show(a)} vs {_show(b)}"


def first_difference(a: Mapping, b: Mapping) -> str | None:
    """The first place where the rules of two normalised policies differ, or None.

    Rule and constraint arrays compare as sets (sorted by their canonical JSON first, so
    the paths name places in that order); ``andSequence`` compares as a list.
    """
    ra, rb = _canon(rules_of(a)), _canon(rules_of(b))
    for k in _RULE_LISTS:
        x, y = ra.get(k, []), rb.get(k, [])
        if len(x) != len(y):
            return f"{k}: {len(x)} rule{'s' if len(x) != 1 else ''} vs {len(y)}"
        d = _diff(x, y, k)
        if d is not None:
            return d
    return None
