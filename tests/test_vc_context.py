"""``ledger.vc_context``: the shipped VC 2.0 context, the offline loader, UNTP contexts
registered, "known, not held", and what JSON-LD expansion refuses.

Every test runs with sockets disabled (the ``no_network`` fixture, checked by
``test_the_network_guard_is_on``), so a loader that reached for the network would fail
here rather than fetch. The registry of contexts is emptied for each test.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from ledger import vc_context
from ledger.errors import InvalidRecord
from ledger.untp import parse_dpp

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
W3C = VECTORS / "w3c"
UNTP = VECTORS / "untp"
SHA256 = "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
VC = "https://www.w3.org/2018/credentials#"
#: version -> (the context URL, its document in ../shared, an instance, the UNTP namespaces it expands to)
UNTP_CONTEXTS = {
    "0.6.1": ("https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/", UNTP / "dpp-0.6.1" / "context.jsonld",
              UNTP / "dpp-0.6.1" / "untp-dpp-instance.json", "https://test.uncefact.org/vocabulary/untp/{}/0/"),
    "working": ("https://test.uncefact.org/vocabulary/untp/dpp/working/", UNTP / "dpp" / "context.jsonld",
                UNTP / "dpp" / "untp-dpp-instance.json", "https://test.uncefact.org/vocabulary/untp/{}/working/"),
}  # fmt: skip


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class NetworkUsed(AssertionError):
    pass


def _no_socket(*args: object, **kwargs: object) -> socket.socket:
    raise NetworkUsed("a socket was opened")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "socket", _no_socket)
    monkeypatch.setattr(socket, "create_connection", _no_socket)
    monkeypatch.setattr(socket, "getaddrinfo", _no_socket)
    monkeypatch.setattr(vc_context, "_registered", {})
    yield


def register(version: str) -> None:
    url, path, _, _ = UNTP_CONTEXTS[version]
    vc_context.register_context(url, load(path))


def credential(version: str = "0.6.1") -> dict[str, Any]:
    return load(UNTP_CONTEXTS[version][2])


def with_contexts(*extra: Any, version: str = "0.6.1") -> dict[str, Any]:
    doc = credential(version)
    doc["@context"] = [*doc["@context"], *extra]
    return doc


# -- the shipped context --------------------------------------------------------------------


def test_shipped_context_is_the_vector_byte_for_byte() -> None:
    shipped = resources.files("ledger").joinpath("contexts", "credentials-v2.jsonld").read_bytes()
    assert shipped == (W3C / "credentials-v2.jsonld").read_bytes()
    assert hashlib.sha256(shipped).hexdigest() == SHA256 and len(shipped) == 10131


def test_sha256_is_the_one_the_sources_name() -> None:
    source = (W3C / "SOURCE.txt").read_text(encoding="utf-8")
    named = re.search(r"credentials-v2\.jsonld\n(?:  .*\n)*?  sha256: ([0-9a-f]{64})", source)
    assert named is not None and named.group(1) == SHA256
    assert "59955ced" in (VECTORS / "README.md").read_text(encoding="utf-8") and SHA256.startswith("59955ced")
    readme = resources.files("ledger").joinpath("contexts", "README.md").read_text(encoding="utf-8")
    assert SHA256 in readme and "https://www.w3.org/ns/credentials/v2" in readme
    assert "W3C Software and Document License" in readme


def test_the_shipped_url_cannot_be_replaced() -> None:
    with pytest.raises(ValueError, match="shipped"):
        vc_context.register_context("https://www.w3.org/ns/credentials/v2", {"@context": {}})


# -- the loader -------------------------------------------------------------------------------


def test_the_network_guard_is_on() -> None:
    with pytest.raises(NetworkUsed):
        socket.socket()
    with pytest.raises(NetworkUsed):
        socket.create_connection(("127.0.0.1", 9))


@pytest.mark.parametrize(
    "doc, url",
    [
        (with_contexts("https://example.org/context.jsonld"), "https://example.org/context.jsonld"),
        (with_contexts("https://www.w3.org/ns/credentials/v1"), "https://www.w3.org/ns/credentials/v1"),
        (with_contexts("https://test.uncefact.org/vocabulary/untp/dcc/working/"),
         "https://test.uncefact.org/vocabulary/untp/dcc/working/"),
        (with_contexts("context.jsonld"), "context.jsonld"),
        (with_contexts({"@import": "https://example.org/imported.jsonld"}), "https://example.org/imported.jsonld"),
        ({**credential(), "credentialSubject": {"@context": "https://example.org/nested", "id": "urn:x:1"}},
         "https://example.org/nested"),
    ],
    ids=["other", "vc-1.1", "untp-dcc", "relative", "import", "nested"],
)  # fmt: skip
def test_unknown_url_is_refused_without_the_network(doc: dict[str, Any], url: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        vc_context.check_context(doc)
    assert str(info.value) == f"the @context {url} is not a context this ledger holds"


def test_a_url_inside_a_registered_context_is_refused_by_the_loader() -> None:
    """Reached only while pyld expands (not visible in the credential): the loader refuses it."""
    vc_context.register_context("https://example.org/outer", {"@context": {"@import": "https://example.org/inner"}})
    with pytest.raises(InvalidRecord) as info:
        vc_context.check_context(with_contexts("https://example.org/outer"))
    assert str(info.value) == "the @context https://example.org/inner is not a context this ledger holds"


@pytest.mark.parametrize("version", list(UNTP_CONTEXTS))
def test_registered_untp_context_expands_the_instance(version: str) -> None:
    register(version)
    node = vc_context.expand(credential(version))
    ns = UNTP_CONTEXTS[version][3]
    assert node["@type"] == [ns.format("dpp") + "DigitalProductPassport", VC + "VerifiableCredential"]
    subject = node[VC + "credentialSubject"][0]
    assert subject["@type"] == [ns.format("dpp") + "ProductPassport"]
    product = subject[ns.format("core") + "product"][0]
    assert product["@id"] == "https://id.gs1.org/01/09520123456788/21/12345"
    assert subject[ns.format("dpp") + "granularityLevel"]
    assert node[VC + "issuer"][0]["@id"] == "did:web:identifiers.example-company.com:12345"


@pytest.mark.parametrize("version", list(UNTP_CONTEXTS))
def test_known_not_held_loads_as_an_empty_context(version: str) -> None:
    """The documented limitation: the credential passes, and every UNTP term is dropped."""
    assert UNTP_CONTEXTS[version][0] in vc_context.KNOWN_NOT_HELD
    doc = credential(version)
    vc_context.check_context(doc)
    node = vc_context.expand(doc)
    assert node["@type"] == ["DigitalProductPassport", VC + "VerifiableCredential"]  # a relative IRI
    assert node[VC + "credentialSubject"] == [{"@id": "example:product/1234", "@type": ["ProductPassport"]}]
    assert sorted(node) == ["@id", "@type", VC + "credentialSubject", VC + "issuer", VC + "validFrom",
                            VC + "validUntil"]  # fmt: skip
    assert parse_dpp(doc).product_id  # the JSON models still read (and check) the UNTP members


def test_registration_replaces_known_not_held() -> None:
    doc = credential()
    assert "https://test.uncefact.org/vocabulary/untp/core/0/product" not in json.dumps(vc_context.expand(doc))
    register("0.6.1")
    assert "https://test.uncefact.org/vocabulary/untp/core/0/product" in json.dumps(vc_context.expand(doc))


def test_each_version_needs_its_own_context() -> None:
    register("0.6.1")
    node = vc_context.expand(credential("working"))  # working: still known, not held
    assert node["@type"][0] == "DigitalProductPassport"


# -- what expansion refuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [{"VerifiableCredential": "https://evil.example/VC"}, {"id": {"@id": "https://evil.example/id"}},
     {"type": "https://evil.example/type"}, {"name": "https://evil.example/name"}],
    ids=["VerifiableCredential", "id", "type", "name"],
)  # fmt: skip
def test_a_protected_vc_term_redefined_is_refused(extra: dict[str, Any]) -> None:
    """(``credentialSubject`` or ``issuer`` redefined at the top is no attack: the
    VerifiableCredential type-scoped context, applied after it, defines them again.)"""
    with pytest.raises(InvalidRecord) as info:
        vc_context.check_context(with_contexts(extra))
    message = str(info.value)
    assert message.startswith("credential: the @context does not expand as JSON-LD: protected term redefinition: ")
    assert "\n" not in message and next(iter(extra)) in message


def test_a_protected_untp_term_redefined_is_refused_once_registered() -> None:
    doc = with_contexts({"DigitalProductPassport": "https://evil.example/DPP"})
    node = vc_context.expand(doc)  # known, not held: nothing of UNTP's is protected (the limitation)
    assert node["@type"][0] == "https://evil.example/DPP"
    with pytest.raises(InvalidRecord, match=r"^credential\.@context\[2\]: expected a string, got an object"):
        parse_dpp(doc)  # but the UNTP schema takes context URLs only, so no passport carries this
    register("0.6.1")
    with pytest.raises(InvalidRecord, match="protected term redefinition"):
        vc_context.check_context(doc)


@pytest.mark.parametrize(
    "doc, message",
    [
        (with_contexts(5), "credential: the @context does not expand as JSON-LD: invalid local context: "),
        (with_contexts({"x": {"@id": 5}}), "credential: the @context does not expand as JSON-LD: "),
        ({**credential(), "type": ["DigitalProductPassport"]},
         "credential: does not expand to a https://www.w3.org/2018/credentials#VerifiableCredential"),
        ({"@context": credential()["@context"], "@graph": [{"id": "urn:x:1", "type": "VerifiableCredential"},
                                                           {"id": "urn:x:2", "name": "two"}]},
         "credential: expected one JSON-LD node, got 2"),
        ({"@context": credential()["@context"]}, "credential: expected one JSON-LD node, got 0"),
        ([], "credential: expected a JSON object, got an array of 0"),
    ],
    ids=["number-context", "bad-term", "not-a-vc", "graph", "nothing", "not-an-object"],
)  # fmt: skip
def test_what_does_not_expand_is_refused_on_one_line(doc: Any, message: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        vc_context.check_context(doc)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_limits() -> None:
    deep: Any = "x"
    for _ in range(vc_context.MAX_DEPTH):
        deep = [deep]
    with pytest.raises(InvalidRecord, match=f"deeper than {vc_context.MAX_DEPTH}"):
        vc_context.check_context({**credential(), "extra": deep})
    vc_context.check_context({**credential(), "extra": deep[0]})
    with pytest.raises(InvalidRecord, match=f"at most {vc_context.MAX_BYTES} bytes"):
        vc_context.check_context({**credential(), "extra": "x" * vc_context.MAX_BYTES})


def test_the_input_is_not_changed() -> None:
    register("0.6.1")
    doc = credential()
    before = copy.deepcopy(doc)
    vc_context.check_context(doc)
    assert doc == before


# -- register_context ----------------------------------------------------------------------------


def test_register_context_checks_its_arguments() -> None:
    url, path, _, _ = UNTP_CONTEXTS["0.6.1"]
    with pytest.raises(TypeError):
        vc_context.register_context(url, "not a dict")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        vc_context.register_context(b"https://x.example/", {"@context": {}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="@context"):
        vc_context.register_context(url, {"terms": {}})
    with pytest.raises(ValueError):
        vc_context.register_context(url, {"@context": {"x": float("nan")}})
    register("0.6.1")
    register("0.6.1")  # the same document again: nothing changes
    with pytest.raises(ValueError, match="already registered"):
        vc_context.register_context(url, {"@context": {}})


def test_a_registered_document_is_copied() -> None:
    document = {"@context": {"extraTerm": "https://example.org/extraTerm"}}
    vc_context.register_context("https://example.org/ctx", document)
    document["@context"]["extraTerm"] = "https://evil.example/"
    doc = with_contexts("https://example.org/ctx")
    doc["extraTerm"] = "v"
    assert "https://example.org/extraTerm" in vc_context.expand(doc)
