"""``ledger.untp.parse_dpp`` in detail: its formats against the official checkers (property
tests), the messages it refuses with, and the view it gives (``tests/test_untp.py`` holds
it to the official schemas as a whole)."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import untp_mutations as mut
import untp_official as official
from ledger.errors import InvalidRecord, LedgerError
from ledger.untp import ConformityView, DppView, parse_dpp
from ledger.untp_formats import URI, parse_date, parse_date_time

# -- the formats, against the official checkers -------------------------------------------------

_VALID_FROM = official.schema("untp-0.6.1")["properties"]["validFrom"]
_OFFICIAL_DATE_TIME = Draft202012Validator(
    {"type": "string", "pattern": official.ecma_pattern(_VALID_FROM["pattern"]), "format": "date-time"},
    format_checker=official.format_checker(),
)
_OFFICIAL_DATE = Draft202012Validator({"type": "string", "format": "date"}, format_checker=official.format_checker())


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


_DATE_TIMES = st.builds(
    "{:04d}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 10001), st.integers(0, 13), st.integers(0, 32), st.sampled_from("Tt "), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61), st.sampled_from(["", ".5", ".123456789", "."]),
    st.sampled_from(["Z", "z", "", "+14:00", "-14:00", "+14:01", "+13:59", "-00:00", "+24:00", "+05:60", "+5:30"]),
)  # fmt: skip


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(_DATE_TIMES, st.text(alphabet="0123456789-:TZ.+", max_size=30)))
def test_date_time_is_the_schemas_pattern_and_rfc3339(text: str) -> None:
    assert _parses(parse_date_time, text) == _OFFICIAL_DATE_TIME.is_valid(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(0, 10001), st.integers(0, 13),
                           st.integers(0, 32)), st.text(alphabet="0123456789-\u0661", max_size=12)))  # fmt: skip
def test_date_is_rfc3339_full_date(text: str) -> None:
    assert _parses(parse_date, text) == _OFFICIAL_DATE.is_valid(text)


_URI_PARTS = st.lists(st.sampled_from(["https", "urn", "a", "1", ":", "//", "/", "?", "#", "@", "%20", "%g", "x",
                                       "example.org", ":8080", "~", "!$&'()*+,;=", " ", "é", "\n", "-", "."]),
                      max_size=8).map("".join)  # fmt: skip


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.one_of(_URI_PARTS, st.text(alphabet="aZ09:/?#@!$&'()*+,;=%-._~ \n\u0661é", max_size=24)))
def test_uri_is_rfc3986_as_the_official_checker(text: str) -> None:
    """IP literals (``[…]``) are left to the table below: the official checker deviates there."""
    assert (URI.fullmatch(text) is not None) == official.official_uri(text)


#: IP-literal hosts: ours (RFC 3986) and rfc3986-validator's verdicts.
IP_LITERALS = [
    ("https://[2001:db8::1]/x", True, True),
    ("https://[::]/", True, True),
    ("https://[::ffff:192.0.2.1]/", True, True),
    ("https://[1:2:3:4:5:6:7:8]/", True, True),
    ("https://[1:2:3:4:5:6:7:8:9]/", False, False),
    ("https://[1:2]/", False, False),
    ("https://[v1.x]/", True, True),
    ("https://[]/", False, False),
    # rfc3986-validator deviates from RFC 3986 here; we follow the RFC:
    ("https://[::ffff:192.0.2.01]/", False, True),  # dec-octet has no leading zeros
    ("https://[V1.x]/", True, False),  # ABNF literals are case-insensitive: "v" is also "V"
]


@pytest.mark.parametrize("text, ours, theirs", IP_LITERALS)
def test_ip_literal_hosts(text: str, ours: bool, theirs: bool) -> None:
    assert (URI.fullmatch(text) is not None) == ours
    assert official.official_uri(text) == theirs


# -- parse_dpp: messages ------------------------------------------------------------------------


def _changed(*changes: tuple[str, Any], name: str = "0.6.1") -> dict[str, Any]:
    doc = mut.documents()[name]
    for dotted, value in changes:
        doc = mut.apply(doc, tuple(int(p) if p.isdigit() else p for p in dotted.split(".")), value)
    return doc


@pytest.mark.parametrize(
    "changes, message",
    [
        ((("credentialSubject.product.id", "not a uri"),),
         "credentialSubject.product.id: expected an absolute URI (RFC 3986), got 'not a uri'"),
        ((("credentialSubject.product", mut.DROP),),
         "credentialSubject.product: required by the ledger (the product it is for), but missing"),
        ((("validFrom", mut.DROP),),
         "validFrom: required by the ledger (a passport says from when it holds), but missing"),
        ((("validFrom", "2024-03-15T12:00:00"),),
         'validFrom: expected a date-time like "2024-03-15T12:00:00Z" (RFC 3339, offset within ±14:00), '
         "got '2024-03-15T12:00:00'"),
        ((("credentialSubject.granularityLevel", "lot"),),
         "credentialSubject.granularityLevel: expected 'item', 'batch' or 'model', got 'lot'"),
        ((("issuer.otherIdentifiers", []),),
         "issuer.otherIdentifiers: not allowed here (this object admits only the properties its schema defines)"),
        ((("issuer", "did:web:example.org"),), "issuer: expected an object, got 'did:web:example.org'"),
        ((("type", ["VerifiableCredential"]),),
         "type: expected an array of strings that includes 'DigitalProductPassport', got [\"VerifiableCredential\"]"),
        ((("@context.1", official.V2),),
         "@context[1]: expected 'https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/', "
         "got 'https://www.w3.org/ns/credentials/v2'"),
        ((("@context.1", "https://test.uncefact.org/vocabulary/untp/dpp/0.6.1"),),
         "@context[1]: expected 'https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/', "
         "got 'https://test.uncefact.org/vocabulary/untp/dpp/0.6.1'"),
        ((("@context.2", official.V2),),
         "@context[2]: expected each context once, got 'https://www.w3.org/ns/credentials/v2' twice"),
        ((("credentialSubject.emissionsScorecard.carbonFootprint", "1.8"),),
         "credentialSubject.emissionsScorecard.carbonFootprint: expected a JSON number, got '1.8'"),
        ((("credentialSubject.conformityClaim.0.conformance", mut.DROP),),
         "credentialSubject.conformityClaim[0].conformance: required, but missing"),
        ((("credentialSubject.product.serialNumber", None),),
         "credentialSubject.product.serialNumber: expected a value, got null (an absent value is left out)"),
        ((("credentialStatus", []),), "credentialStatus: expected at least 1 item(s), got none"),
        ((("credentialStatus", {"id": "https://x.example/1"}),), "credentialStatus.type: required, but missing"),
        ((("credentialStatus", dict(mut.STATUS_ENTRY, statusListIndex=7)),),
         "credentialStatus.statusListIndex: expected a base-10 integer string like \"94567\", got a number (7)"),
        ((("credentialStatus", [{"type": "X"}, dict(mut.STATUS_ENTRY, id=mut.STATUS_ENTRY["statusListCredential"])]),),
         "credentialStatus[1].id: expected the entry's own URL, not the status list's"),
        ((("credentialSubject", {}),),
         "credentialSubject: expected an object with at least one property, got {}"),
        ((("credentialSubject.product.id", 5), ("id", "no uri")),
         "id: expected an absolute URI (RFC 3986), got 'no uri' (and 1 more)"),
    ],
    ids=lambda v: None if isinstance(v, str) else ",".join(c[0] for c in v),
)  # fmt: skip
def test_parse_dpp_names_the_field(changes: tuple[tuple[str, Any], ...], message: str) -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_dpp(_changed(*changes))
    assert str(info.value) == "credential." + message
    assert isinstance(info.value, ValueError) and isinstance(info.value, LedgerError)


def test_working_draft_messages() -> None:
    doc = _changed(("credentialSubject.conformityClaim.0.conformityEvidence.encryptionMethod", "AES"), name="working")
    with pytest.raises(InvalidRecord, match=re.escape(
            "credential.credentialSubject.conformityClaim[0].conformityEvidence.encryptionMethod: not allowed here")):
        parse_dpp(doc)  # fmt: skip
    assert parse_dpp(_changed(("credentialSubject.conformityClaim.0.conformance", "yes"), name="working"))


@pytest.mark.parametrize(
    "obj, message",
    [
        ([], "credential: expected a Verifiable Credential object, got an array of 0"),
        ("{}", "credential: expected a Verifiable Credential object, got '{}'"),
        ({}, "credential.@context: required, but missing (and 4 more)"),
    ],
)
def test_parse_dpp_refuses_what_is_not_a_credential(obj: Any, message: str) -> None:
    with pytest.raises(InvalidRecord, match=re.escape(message) + "$"):
        parse_dpp(obj)


def test_other_untp_versions_are_refused_by_name() -> None:
    doc = _changed(("@context.1", "https://test.uncefact.org/vocabulary/untp/dpp/0.5.0/"))
    with pytest.raises(InvalidRecord, match=r"^credential\.@context\[1\]: UNTP DPP 0\.5\.0 is not a version this "
                                            r"ledger reads; it reads 0\.6\.1 \(https://"):  # fmt: skip
        parse_dpp(doc)


# -- the view -----------------------------------------------------------------------------------


def test_view_of_the_0_6_1_instance() -> None:
    doc = mut.documents()["0.6.1"]
    view = parse_dpp(doc)
    assert isinstance(view, DppView)
    assert (view.credential_id, view.issuer_id, view.issuer_name) == (
        "https://example-company.com/credentials/2a423366-a0d6-4855-ba65-2e0c926d09b0",
        "did:web:identifiers.example-company.com:12345", "Example Company Pty Ltd")  # fmt: skip
    assert view.valid_from == datetime(2024, 3, 15, 12, tzinfo=timezone.utc)
    assert view.valid_until == datetime(2034, 3, 15, 12, tzinfo=timezone.utc)
    assert (view.product_id, view.product_name, view.granularity) == (
        "https://id.gs1.org/01/09520123456788/21/12345", "EV battery 300Ah.", "batch")
    assert (view.serial, view.batch, view.declared_unit) == ("12345678", "6789", "KGM")
    assert view.carbon_footprint == Decimal("1.8") and str(view.carbon_footprint) == "1.8"
    assert view.status is None and len(view.conformity) == 2
    first = view.conformity[0]
    assert first == ConformityView(
        id="https://products.example-company.com/09520123456788/declarations/12345",
        topic="environment.emissions",
        description=doc["credentialSubject"]["conformityClaim"][0]["description"],
        standard="GBA Battery Passport Greenhouse Gas Rulebook - V.2.0",
        regulation="NNational Greenhouse and Energy Reporting (Measurement) Determination",
        conformance=True, assessment_date=date(2024, 3, 15),
        evidence_url="https://files.example-certifier.com/1234567.json",
    )  # fmt: skip
    assert view.credential == doc and view.credential is not doc


def test_view_credential_is_a_copy() -> None:
    doc = copy.deepcopy(mut.documents()["0.6.1"])
    view = parse_dpp(doc)
    doc["id"] = "https://changed.example/"
    assert view.credential["id"] != doc["id"] and view.credential_id != doc["id"]


def test_working_draft_conformance_shown_only_when_boolean() -> None:
    assert parse_dpp(mut.documents()["working"]).conformity[0].conformance is None
    doc = _changed(("credentialSubject.conformityClaim.0.conformance", False), name="working")
    assert parse_dpp(doc).conformity[0].conformance is False
    doc = _changed(("credentialSubject.conformityClaim.0.conformance", "false"), name="working")
    assert parse_dpp(doc).conformity[0].conformance is None


@pytest.mark.parametrize(
    "number, expected",
    [(1.8, "1.8"), (0.1, "0.1"), (3, "3"), (0.30000000000000004, "0.30000000000000004"), (1e-7, "1E-7"),
     (123456.789, "123456.789"), (-0.0, "-0.0"), (2**53 - 1, "9007199254740991"), (1e300, "1E+300")],
)  # fmt: skip
def test_carbon_footprint_is_the_numbers_exact_decimal_text(number: float, expected: str) -> None:
    view = parse_dpp(_changed(("credentialSubject.emissionsScorecard.carbonFootprint", number)))
    assert view.carbon_footprint is not None and str(view.carbon_footprint) == expected


def test_carbon_footprint_is_never_the_binary_value() -> None:
    view = parse_dpp(_changed(("credentialSubject.emissionsScorecard.carbonFootprint", 1.8)))
    assert view.carbon_footprint == Decimal("1.8") != Decimal(1.8)


def test_no_scorecard() -> None:
    view = parse_dpp(_changed(("credentialSubject.emissionsScorecard", mut.DROP)))
    assert view.carbon_footprint is None and view.declared_unit is None


def test_status_prefers_the_revocation_entry() -> None:
    suspension = dict(mut.STATUS_ENTRY, statusPurpose="suspension", statusListIndex="3", id="https://x.example/s#3",
                      statusListCredential="https://x.example/s")  # fmt: skip
    revocation = dict(mut.STATUS_ENTRY, statusListIndex="94567")
    view = parse_dpp(_changed(("credentialStatus", [{"type": "Other"}, suspension, revocation])))
    assert view.status == (mut.STATUS_ENTRY["statusListCredential"], 94567, "revocation")
    view = parse_dpp(_changed(("credentialStatus", suspension)))
    assert view.status == ("https://x.example/s", 3, "suspension")
    assert parse_dpp(_changed(("credentialStatus", {"type": "Other"}))).status is None
    typed = dict(mut.STATUS_ENTRY, type=["BitstringStatusListEntry", "Extra"])
    assert parse_dpp(_changed(("credentialStatus", typed))).status == (
        mut.STATUS_ENTRY["statusListCredential"], 7, "revocation")


def test_valid_from_with_an_offset_and_a_fraction() -> None:
    view = parse_dpp(_changed(("validFrom", "2024-12-31T01:30:00.1234567+14:00"), ("validUntil", mut.DROP)))
    assert view.valid_from == datetime(2024, 12, 31, 1, 30, 0, 123456, tzinfo=timezone(timedelta(hours=14)))
    assert view.valid_until is None
