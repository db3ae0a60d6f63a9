"""The contract kinds read the EDC and Dataspace Protocol shapes (../shared/vectors/edc,
dsp), offline: JSON-LD with the contexts shipped in the package, nothing fetched."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from ledger.errors import InvalidRecord
from ledger.kinds import KINDS
from ledger.odrl.jsonld import first_difference, normalise

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def _agreement(name: str) -> dict:
    message = _load(name)
    return {"@context": message["@context"], **message["agreement"]}


@pytest.mark.parametrize("name", ["dsp/contract-agreement-message.json", "dsp/contract-agreement-message-full.json"])
def test_dsp_agreements_validate_against_the_dsp_schema_and_parse_as_agreements(name: str):
    schema = _load("dsp/contract-schema.json")
    registry = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    agreement = _load(name)["agreement"]
    jsonschema.Draft201909Validator(schema, registry=registry).validate(agreement)
    model = KINDS["contract_agreement"].parse(_agreement(name))
    assert model.policy.type == "Agreement" and model.policy.uid == agreement["@id"]
    assert model.policy.assignee == agreement["assignee"] and model.policy.timestamp == agreement["timestamp"]


def test_the_dsp_agreement_normalises_field_by_field():
    n = normalise(_agreement("dsp/contract-agreement-message.json"))
    assert n["permission"] == [{"action": "use", "constraint": [
        {"leftOperand": "dateTime", "operator": "lteq", "rightOperand": "2023-12-31T06:00Z"}]}]  # fmt: skip
    assert n["target"] == "urn:uuid:3dd1add4-4d2d-569e-d634-8394a8836d23"


def test_edc_policies_and_the_contract_request_parse():
    policy = _load("edc/create-policy.json")["policy"]
    n = normalise(policy)
    assert n["@type"] == "Set" and n["permission"][0]["constraint"][0]["operator"] == "eq"  # {"@id": "odrl:eq"}
    request = KINDS["contract_request"].parse(_load("edc/contract-request.json"))
    assert request.message_type == "ContractRequest"
    assert request.policy.policy.assigner == "provider" and request.policy.policy.target == "test-document"
    # EDC's "location" is not one of our left operands: stored, and events would be undetermined
    assert any("location" in u for u in request.policy.unsupported)
    # the EDC policy and the request's policy hold the same rule, once compact, once {"@id": "odrl:eq"}
    rules = normalise(_load("edc/contract-request.json")["policy"])
    for rule in rules["permission"]:
        rule.pop("target")
    assert first_difference(n, rules) is None


def test_compact_and_expanded_iris_normalise_alike_and_differences_are_named():
    odrl = "http://www.w3.org/ns/odrl/2/"
    compact = _agreement("dsp/contract-agreement-message.json")
    expanded = {
        "@id": compact["@id"], "@type": [odrl + "Agreement"],
        odrl + "target": [{"@id": compact["target"]}],
        odrl + "permission": [{odrl + "action": [{"@id": odrl + "use"}], odrl + "constraint": [{
            odrl + "leftOperand": [{"@id": odrl + "dateTime"}], odrl + "operator": [{"@id": odrl + "lteq"}],
            odrl + "rightOperand": [{"@value": "2023-12-31T06:00Z"}]}]}],
    }  # fmt: skip
    assert first_difference(normalise(compact), normalise(expanded)) is None
    changed = json.loads(json.dumps(compact))
    changed["permission"][0]["constraint"][0]["rightOperand"] = "2024-12-31T06:00Z"
    assert "rightOperand" in (first_difference(normalise(compact), normalise(changed)) or "")
    extra = json.loads(json.dumps(compact)) | {"prohibition": [{"action": "distribute"}]}
    assert first_difference(normalise(compact), normalise(extra)) == "prohibition: 0 rules vs 1"


def test_a_context_we_do_not_ship_is_refused_without_touching_the_network(monkeypatch: pytest.MonkeyPatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the JSON-LD loader opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    doc = {"@context": "https://w3id.org/tractusx/policy/v1.0.0", "@type": "Offer", "permission": [{"action": "use"}]}
    with pytest.raises(InvalidRecord, match="does not ship"):
        normalise(doc)


@pytest.mark.parametrize("doc", [
    {"@context": 5, "@type": "Offer"},
    {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer", "permission": "x" * (300 * 1024)},
], ids=["context-an-integer", "oversize"])  # fmt: skip
def test_junk_is_refused(doc: dict):
    with pytest.raises(InvalidRecord):
        normalise(doc)


def test_a_deeply_nested_constraint_is_refused():
    c: dict = {"leftOperand": "count", "operator": "lteq", "rightOperand": 1}
    for _ in range(10_000):
        c = {"and": [c]}
    doc = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer", "permission": [{"action": "use", "constraint": [c]}]}
    with pytest.raises(InvalidRecord, match="nest"):
        normalise(doc)
