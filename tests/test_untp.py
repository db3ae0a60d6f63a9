"""``ledger.untp`` against the official UNTP DPP and W3C VC 2.0 schemas: every public
instance, then mutation by mutation (``tests/untp_official.py`` holds the official side,
``tests/untp_mutations.py`` the mutations; ``tests/test_untp_parse.py`` the formats,
messages and view in detail).

Every UNTP DPP instance in ``../shared/vectors/untp/`` and what ``parse_dpp`` does with it:

=============================================================  ========  ==========================================
instance                                                       verdict   why
=============================================================  ========  ==========================================
dpp-0.6.1/untp-dpp-instance.json                               accepted  UNTP DPP 0.6.1, valid for 0.6.1 and VC 2.0
dpp/untp-dpp-instance.json                                     accepted  the working draft, valid for it and VC 2.0
dpp-0.6.1/ProductPassport-instance.json                        refused   a credentialSubject alone, not a credential
dpp/untp-digital-product-passport-v0.3.10-sample.json          refused   UNTP DPP 0.3.10: an older shape (its
                                                                         credentialSubject is the Product itself)
=============================================================  ========  ==========================================

The differential test mutates the 0.6.1 instance, the working-draft instance, and a "full"
variant of each (every optional property the UNTP schema defines filled in, plus the VC
2.0 members UNTP leaves free: a Bitstring Status List entry, a credentialSchema, a proof,
…): each property dropped, set to null, to a value of the wrong JSON type, emptied, an
enum given a value outside it, a URI, date or date-time a malformed one, a ``type``
array missing a required name, an unknown property added to every object, the contexts
reordered, repeated or of another version. Hypothesis adds random multi-point mutations.
``parse_dpp`` must refuse exactly when the official side refuses (``untp_official.
official_refusal``): the UNTP schema of the version named, the VC 2.0 schema, and the
ledger's own rules, each listed in ``LEDGER_RULES`` and checked to be exercised.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

import untp_mutations as mut
import untp_official as official
from ledger.errors import InvalidRecord
from ledger.untp import parse_dpp
from ledger.untp_models import BY_CONTEXT, ProductPassport

#: The mutants' verdicts are computed once per worker (≈ 30 s of jsonschema): keep them on one.
pytestmark = pytest.mark.xdist_group("untp_differential")

#: relpath under ../shared/vectors/untp -> the version parse_dpp reads, or the refusal (a regex).
INSTANCES: dict[str, tuple[str, str]] = {
    "dpp-0.6.1/untp-dpp-instance.json": ("accepted", "0.6.1"),
    "dpp/untp-dpp-instance.json": ("accepted", "working"),
    "dpp-0.6.1/ProductPassport-instance.json": (
        "refused", r"^credential: expected a DigitalProductPassport credential, got a ProductPassport "
                   r"\(a credentialSubject alone\)$"),
    "dpp/untp-digital-product-passport-v0.3.10-sample.json": (
        "refused", r"^credential\.@context\[1\]: UNTP DPP 0\.3\.10 is not a version this ledger reads \(its "
                   r"credentialSubject is the Product itself, not a ProductPassport\); it reads 0\.6\.1 "),
}  # fmt: skip

#: (instance, schema) -> the errors the official schema reports, as "json_path keyword" (empty: valid).
SCHEMA_VERDICTS: dict[tuple[str, str], set[str]] = {
    ("dpp-0.6.1/untp-dpp-instance.json", "untp-0.6.1"): set(),
    ("dpp-0.6.1/untp-dpp-instance.json", "vc-2.0"): set(),
    ("dpp-0.6.1/untp-dpp-instance.json", "untp-working"): {
        "$['@context'][1] const", *(f"{p} additionalProperties" for p in (
            "$.credentialSubject.conformityClaim[0].conformityEvidence",
            "$.credentialSubject.conformityClaim[1].conformityEvidence",
            *(f"$.credentialSubject.traceabilityInformation[{i}].traceabilityEvent[{j}]"
              for i in (0, 1) for j in (0, 1))))},
    ("dpp/untp-dpp-instance.json", "untp-working"): set(),
    ("dpp/untp-dpp-instance.json", "vc-2.0"): set(),
    ("dpp/untp-dpp-instance.json", "untp-0.6.1"): {
        "$['@context'][1] const", "$.credentialSubject.conformityClaim[0] required",
        "$.credentialSubject.conformityClaim[1] required"},
    ("dpp/untp-digital-product-passport-v0.3.10-sample.json", "vc-2.0"): {
        "$.validFrom pattern", "$.validUntil pattern"},
    ("dpp/untp-digital-product-passport-v0.3.10-sample.json", "untp-0.6.1"): {
        "$['@context'][1] const", "$.issuer additionalProperties", "$.validFrom pattern", "$.validFrom format",
        "$.validUntil pattern", "$.validUntil format", "$.credentialSubject.type contains"},
    ("dpp/untp-digital-product-passport-v0.3.10-sample.json", "untp-working"): {
        "$['@context'][1] const", "$.issuer additionalProperties", "$.validFrom pattern", "$.validFrom format",
        "$.validUntil pattern", "$.validUntil format", "$.credentialSubject.type contains"},
    ("dpp-0.6.1/ProductPassport-instance.json", "untp-0.6.1-ProductPassport"): set(),
    ("dpp-0.6.1/ProductPassport-instance.json", "untp-working"): {"$ required", "$.type contains"},
    ("dpp-0.6.1/ProductPassport-instance.json", "untp-0.6.1"): {
        "$ required", "$.type contains"},
    ("dpp-0.6.1/ProductPassport-instance.json", "vc-2.0"): {"$ required", "$.type oneOf"},
}  # fmt: skip

#: The ledger's own rules (``ledger.untp`` docstring): where it refuses what both official schemas accept.
LEDGER_RULES = {
    "validFrom required": "the view's valid_from: a passport says from when it holds (VC 2.0 makes it optional)",
    "product required": "the passport's product (its Digital Link) is what the ledger files it under",
    "granularityLevel required": "item, batch or model: the kind matches it against the Digital Link's level",
    "Bitstring entry": "a BitstringStatusListEntry must be one (W3C Bitstring Status List §2.1): the ledger "
                       "derives revocation from it; neither schema looks inside a status entry",
}  # fmt: skip

#: What UNTP 0.6.1 accepts and VC 2.0 refuses, among the mutations of the 0.6.1 instance itself.
VC_ONLY_REFUSALS = {
    "0.6.1: type: dropped",
    "0.6.1: credentialSubject: dropped",
    "0.6.1: credentialSubject: emptied",
    "0.6.1: @context: an empty third context",
}


@cache
def all_mutations() -> tuple[mut.Mutation, ...]:
    """The 0.6.1 instance in full; each other document only where it differs from one before."""
    docs = mut.documents()
    plan = [
        ("0.6.1", "untp-0.6.1", mut.NO_BASE),
        ("0.6.1/full", "untp-0.6.1", docs["0.6.1"]),
        ("working", "untp-working", docs["0.6.1"]),
        ("working/full", "untp-working", docs["0.6.1/full"]),
    ]
    return tuple(m for name, schema, base in plan for m in mut.mutations(name, docs[name], schema, base))


@cache
def verdicts() -> tuple[tuple[mut.Mutation, str | None, str | None], ...]:
    """Each mutation with our refusal (the message) and the official one (``official_refusal``)."""
    return tuple((m, ours_refuses(m.credential), official.official_refusal(m.credential)) for m in all_mutations())


def _official_why(doc: dict[str, Any]) -> list[str]:
    untp = official.official_errors(official.untp_schema_for(doc), doc)
    return untp[:2] + official.official_errors("vc-2.0", doc)[:2]


def _chunk(m: mut.Mutation) -> str:
    return f"{m.doc}: {m.path.split('.')[0].split('[')[0] or '(top level)'}"


def ours_refuses(doc: Any) -> str | None:
    try:
        parse_dpp(doc)
    except InvalidRecord as e:
        return str(e)
    return None


# -- the instances and the schemas ------------------------------------------------------------


def test_every_instance_is_listed() -> None:
    found = {f"{d}/{p.name}" for d in ("dpp", "dpp-0.6.1") for p in (official.UNTP / d).glob("*.json")
             if "schema" not in p.name}  # fmt: skip
    assert found == set(INSTANCES)


@pytest.mark.parametrize("relpath", list(INSTANCES))
def test_instance(relpath: str) -> None:
    verdict, detail = INSTANCES[relpath]
    doc = official.instance(relpath)
    if verdict == "accepted":
        view = parse_dpp(doc)
        assert view.version == detail and view.credential == doc
    else:
        with pytest.raises(InvalidRecord) as info:
            parse_dpp(doc)
        assert re.search(detail, str(info.value)), str(info.value)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("relpath, schema", list(SCHEMA_VERDICTS), ids=[f"{r}-{s}" for r, s in SCHEMA_VERDICTS])
def test_instance_against_official_schema(relpath: str, schema: str) -> None:
    found = official.validator(schema).iter_errors(official.instance(relpath))
    errors = {f"{e.json_path} {e.validator}" for e in found}
    assert errors == SCHEMA_VERDICTS[relpath, schema]


@pytest.mark.parametrize("name", list(official.SCHEMA_FILES))
def test_schemas_are_draft_2020_12(name: str) -> None:
    doc = official.schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert validator_for(doc) is Draft202012Validator


def test_working_draft_differs_from_0_6_1_in_three_places() -> None:
    """What the working-draft models change (``ledger.untp_models``), and all they change."""

    def flat(node: Any, path: str = "") -> dict[str, Any]:
        if not isinstance(node, dict):
            return {path: node}
        return {k: v for key, val in node.items() if key not in ("description", "example")
                for k, v in flat(val, f"{path}/{key}").items()}  # fmt: skip

    a, b = flat(official.schema("untp-0.6.1")), flat(official.schema("untp-working"))
    assert {p for p in a.keys() | b.keys() if a.get(p) != b.get(p)} == {
        "/properties/@context/default", "/properties/@context/prefixItems",  # the context URL
        "/$defs/Claim/properties/conformance/type", "/$defs/Claim/required",  # no Claim.conformance
        "/$defs/SecureLink/properties/encryptionMethod/enum", "/$defs/SecureLink/properties/encryptionMethod/type",
    }  # fmt: skip
    assert "conformance" not in official.schema("untp-working")["$defs"]["Claim"]["properties"]
    assert "encryptionMethod" not in official.schema("untp-working")["$defs"]["SecureLink"]["properties"]


def test_format_checker_asserts_the_formats_it_claims() -> None:
    """A missing optional package would make jsonschema skip a format in silence."""
    checker = official.format_checker()
    assert not checker.conforms("2024-02-30T00:00:00Z", "date-time")
    assert not checker.conforms("2024-02-30", "date")
    assert not checker.conforms("not a uri", "uri")
    assert not checker.conforms("https://example.org/\n", "uri")
    assert checker.conforms("2024-01-31T00:00:00+01:00", "date-time") and checker.conforms("urn:x:y", "uri")
    assert checker.conforms("anything", "float") and checker.conforms("anything", "binary")


def test_pattern_translation() -> None:
    assert official.ecma_pattern(r"^[0-9]+$") == r"(?a)^[0-9]+\Z"
    assert official.ecma_pattern(r"^[$]\$$") == r"(?a)^[$]\$\Z"
    doc = mut.apply(mut.documents()["0.6.1"], ("validFrom",), "2024-03-15T12:00:00Z\n")
    assert not official.validator("untp-0.6.1").is_valid(doc)
    assert official.validator("vc-2.0").is_valid(doc)  # VC 2.0's pattern is not anchored at all


def test_product_passport_instance_fits_the_subject_model() -> None:
    doc = official.instance("dpp-0.6.1/ProductPassport-instance.json")
    model = ProductPassport.model_validate(doc, strict=True)
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc


@pytest.mark.parametrize("name", ["0.6.1", "0.6.1/full", "working", "working/full"])
def test_document_is_valid_and_read_whole(name: str) -> None:
    doc = mut.documents()[name]
    assert official.official_refusal(doc) is None, official.official_errors(official.untp_schema_for(doc), doc)
    view = parse_dpp(doc)
    model = BY_CONTEXT[doc["@context"][1]]
    dumped = model.model_validate(doc, strict=True).model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == doc and view.credential == doc  # nothing lost, nothing added


# -- the differential test ----------------------------------------------------------------------


@pytest.mark.parametrize("chunk", sorted({_chunk(m) for m in all_mutations()}))
def test_mutations_refused_iff_officially_refused(chunk: str) -> None:
    mismatches = [
        f"{m.id}: ours={ours!r}, official={theirs!r} {_official_why(m.credential)}"
        for m, ours, theirs in verdicts()
        if _chunk(m) == chunk and (ours is None) != (theirs is None)
    ]
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches[:40])


def test_mutations_cover_every_kind() -> None:
    ms = all_mutations()
    whats = {m.what for m in ms}
    for expected in ("dropped", "null", "emptied", "empty", "a JSON number", "an array instead of a string",
                     "a string instead of an object", "an unknown property added", "'NotInTheEnum'",
                     "a relative reference", "no such day", "offset +14:30", "without 'DigitalProductPassport'",
                     "its first item twice", "its first two items swapped", "the other version's context",
                     "'007' (leading zeros)", "the status list's URL"):  # fmt: skip
        assert expected in whats, expected
    assert {m.doc for m in ms} == set(mut.documents())
    assert len(ms) > 2500


def test_vc_only_refusals_are_the_known_ones() -> None:
    """Where UNTP 0.6.1 alone would accept: it requires neither ``type`` nor
    ``credentialSubject``, and takes an empty string as a context."""
    found = {m.id for m, _, theirs in verdicts() if m.doc == "0.6.1" and theirs == "vc"}
    assert found == VC_ONLY_REFUSALS


@pytest.mark.parametrize("rule", list(LEDGER_RULES))
def test_each_ledger_rule_is_exercised_and_named(rule: str) -> None:
    hits = [(m, ours) for m, ours, theirs in verdicts() if theirs == rule]
    assert hits, f"no mutation exercises {rule!r}"
    for m, ours in hits:  # official_refusal names a ledger rule only for what both schemas accept
        assert ours is not None and ours.startswith(f"credential.{m.path}"), (m.id, ours)


# Random mutations: a value for any path, from JSON values biased toward the schemas' words.
_WORDS = [
    official.V2, official.CTX_061, official.CTX_WORKING, "https://example.org/x", "did:web:example.org", "urn:x:y", "",
    "2024-01-31", "2024-01-31T00:00:00Z", "2024-01-31T00:00:00+14:00", "item", "batch", "model",
    "environment.emissions", "SHA-256", "AES", "none", "CradleToGate", "proposed", "VerifiableCredential",
    "DigitalProductPassport", "ProductPassport", "Product", "Claim", "Declaration", "Link", "SecureLink",
    "CredentialIssuer", "Measure", official.BITSTRING, "revocation", "7", "007", "KGM",
]  # fmt: skip
_KEYS = ["type", "id", "name", "value", "unit", "linkURL", "conformance", "encryptionMethod", "product",
         "granularityLevel", "statusListIndex", "@context", "tdsUnknownProperty"]  # fmt: skip
_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="aZ09:/?#@!$&'()*+,;=%-._~ \n\u0661é", max_size=20), st.sampled_from(_WORDS),
)  # fmt: skip
_JSON = st.recursive(_LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), c, max_size=3),
                     max_leaves=6)  # fmt: skip
_OP = st.tuples(st.sampled_from(["replace", "drop", "append"]), st.integers(0, 10**6), _JSON)


def _mutate(doc: dict[str, Any], ops: list[tuple[str, int, Any]]) -> dict[str, Any]:
    for op, pick, value in ops:
        paths = list(mut.leaf_paths(doc)) or [()]
        path = paths[pick % len(paths)]
        if not path:
            continue
        target = _get(doc, path)
        if op == "drop" and isinstance(_get(doc, path[:-1]), dict):
            doc = mut.apply(doc, path, mut.DROP)
        elif op == "append" and isinstance(target, (list, dict)):
            where = path + ((len(target),) if isinstance(target, list) else (f"k{pick % 7}",))
            doc = mut.apply(doc, where, value)
        else:
            doc = mut.apply(doc, path, value)
        note(f"{op} {mut.label(path)} <- {value!r}")
    return doc


def _get(doc: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(mut.documents())), ops=st.lists(_OP, min_size=1, max_size=3))
def test_random_mutations_refused_iff_officially_refused(name: str, ops: list[tuple[str, int, Any]]) -> None:
    doc = _mutate(mut.documents()[name], ops)
    ours, theirs = ours_refuses(doc), official.official_refusal(doc)
    assert (ours is None) == (theirs is None), f"ours={ours!r}, official={theirs!r}"
