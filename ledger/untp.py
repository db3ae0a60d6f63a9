"""UNTP Digital Product Passports (a W3C Verifiable Credential 2.0): one parser, one view.

``parse_dpp(credential)`` takes the decoded JSON of the credential (the VC itself, not its
JWS), validates it strictly and returns a ``DppView``, or raises ``InvalidRecord`` naming
the first bad field, on one line::

    credential.credentialSubject.product.id: expected an absolute URI (RFC 3986), got 'x'

**Versions.** The second ``@context`` entry picks the model (``ledger.untp_models``):

- ``https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/`` — UNTP DPP 0.6.1, the newest
  numbered release (spec-untp tag v0.6.1);
- ``https://test.uncefact.org/vocabulary/untp/dpp/working/`` — the working draft as of
  spec-untp af6cd474 (2025-11-13). Its schema differs from 0.6.1 in three places only, so
  it is read too: the context URL; ``Claim.conformance`` is gone (not required, any value
  kept unchecked; the view shows it when it is a boolean); ``SecureLink.encryptionMethod``
  is gone (and SecureLink admits no other property, so it is refused). "working" is a
  moving target: a later draft that differs more is refused by these models, not misread.
- any other ``…/untp/dpp/<version>/`` is refused by name: e.g. 0.3.10, whose
  ``credentialSubject`` is the Product itself, not a ProductPassport.

**What is checked.** Exactly what the official UNTP schema of that version and the W3C VC
2.0 schema refuse together (``ledger.untp_models``; ``tests/test_untp.py`` holds both to
it, mutation by mutation), and then the ledger's own needs, which neither schema has:

- ``validFrom`` is required (a passport says from when it holds);
- ``credentialSubject.product`` and ``credentialSubject.granularityLevel`` are required
  (the passport's Digital Link and its level are what the ledger files it under);
- a ``credentialStatus`` entry of type ``BitstringStatusListEntry`` must be one
  (``BitstringStatusListEntry`` below: purpose, index, list URL).

Product identifiers (GS1 Digital Link, GTIN check digits), the scorecard against the
footprint and the status list's URL are the ``passport`` kind's rules, not these.

**Numbers.** ``emissionsScorecard.carbonFootprint`` is a JSON number. ``ledger.canonical.
parse_json`` hands an integer back as an ``int`` and any other number as a ``float``,
whose exact decimal text is its shortest round-trip form (``repr``): the digits RFC 8785
writes, so what the ledger hashes and signs. The view's ``carbon_footprint`` is the
``Decimal`` of that text (``1.8`` → ``Decimal("1.8")``), never of the binary value
(``Decimal(1.8)`` is 1.8000000000000000444…). Trailing zeros the issuer wrote (``1.80``)
are not in a float, so not in the view either.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from ledger import formats
from ledger.errors import InvalidRecord
from ledger.pact.formats import describe
from ledger.untp_formats import (
    ARRAY,
    OBJECT,
    STRING,
    NonEmptyText,
    Open,
    Uri,
    VcType,
    parse_date,
    parse_date_time,
    string_format,
)
from ledger.untp_models import (
    BY_CONTEXT,
    DPP_0_6_1_CONTEXT,
    DPP_WORKING_CONTEXT,
    VC_V2_CONTEXT,
    Claim,
    ClaimWorking,
    Credential,
    DigitalProductPassport,
    DigitalProductPassportWorking,
)

__all__ = [
    "DPP_0_6_1_CONTEXT",
    "DPP_WORKING_CONTEXT",
    "VC_V2_CONTEXT",
    "BitstringStatusListEntry",
    "ConformityView",
    "DigitalProductPassport",
    "DigitalProductPassportWorking",
    "DppView",
    "parse_dpp",
]

_ROOT = "credential"
_VERSIONS = {DPP_0_6_1_CONTEXT: "0.6.1", DPP_WORKING_CONTEXT: "working"}
_UNTP_DPP = re.compile(r"https?://(?:test\.)?uncefact\.org/vocabulary/untp/dpp/([A-Za-z0-9.\-]+)/?")
_OLDER_SHAPE = {"0.3": "its credentialSubject is the Product itself, not a ProductPassport"}
_UNION_TAGS = frozenset({OBJECT, ARRAY, STRING})
_BITSTRING = "BitstringStatusListEntry"
_INDEX = formats.CHECKPOINT_SIZE  # a decimal without leading zeros, at most 20 digits
_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "int_type": "an integer",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


@dataclass(frozen=True, slots=True)
class ConformityView:
    """One ``conformityClaim``, as a public page shows it."""

    id: str
    topic: str  # conformityTopic, e.g. "environment.emissions"
    description: str | None
    standard: str | None  # referenceStandard.name
    regulation: str | None  # referenceRegulation.name
    conformance: bool | None  # None when the claim does not say (the working draft has no such field)
    assessment_date: date | None
    evidence_url: str | None  # conformityEvidence.linkURL


@dataclass(frozen=True, slots=True)
class DppView:
    """What the ledger reads from a passport credential (``parse_dpp``)."""

    version: str  # "0.6.1" or "working"
    credential_id: str
    issuer_id: str  # issuer.id (a DID, by the UNTP schema's description)
    issuer_name: str | None
    valid_from: datetime  # aware; fraction truncated to microseconds
    valid_until: datetime | None
    product_id: str  # credentialSubject.product.id as written (a GS1 Digital Link URI for our passports)
    product_name: str
    granularity: str  # "item", "batch" or "model"
    serial: str | None  # product.serialNumber
    batch: str | None  # product.batchNumber
    carbon_footprint: Decimal | None  # emissionsScorecard.carbonFootprint, from its exact decimal text
    declared_unit: str | None  # emissionsScorecard.declaredUnit (UNECE Rec 20)
    status: tuple[str, int, str] | None  # (statusListCredential, statusListIndex, statusPurpose)
    conformity: tuple[ConformityView, ...]
    credential: dict[str, Any]  # the raw JSON (a copy)


# -- the ledger's own model (in neither schema) ---------------------------------------------


class BitstringStatusListEntry(Open):
    """A ``credentialStatus`` entry of type ``BitstringStatusListEntry`` as W3C Bitstring
    Status List v1.0 §2.1 defines it (neither schema looks inside a status entry).
    ``statusListIndex`` is a base-10 integer string without leading zeros (one spelling per
    index), at most 20 digits."""

    id: Uri | None = None
    type: VcType
    statusPurpose: NonEmptyText
    statusListIndex: Annotated[str, string_format('a base-10 integer string like "94567"', _INDEX.fullmatch)]
    statusListCredential: Uri
    statusSize: Annotated[int, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _not_the_list(self) -> BitstringStatusListEntry:
        if self.id is not None and self.id == self.statusListCredential:
            raise PydanticCustomError(
                "untp_status_id", "expected the entry's own URL, not the status list's", {"at": "id"}
            )
        return self


# -- messages -----------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...], at: object = None) -> str:
    out = _ROOT
    for part in loc:
        if part in _UNION_TAGS:
            continue
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    if isinstance(at, int):
        out += f"[{at}]"
    elif isinstance(at, str):
        out += f".{at}"
    return out


def _explain(error: ErrorDetails) -> str:
    kind, got, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "required, but missing"
    if kind == "extra_forbidden":
        return "not allowed here (this object admits only the properties its schema defines)"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(got)}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {describe(got)}"
    if kind == "too_short":
        return f"expected at least {ctx['min_length']} item(s), got none"
    if kind == "greater_than":
        return f"expected a number > {ctx['gt']}, got {describe(got)}"
    return error["msg"]


def _message(e: ValidationError, prefix: tuple[int | str, ...] = ()) -> str:
    errors = e.errors(include_url=False)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = _path(prefix + tuple(first["loc"]), (first.get("ctx") or {}).get("at"))
    return f"{where}: {_explain(first)}{more}"


def _fail(where: str, what: str) -> InvalidRecord:
    return InvalidRecord(f"{_ROOT}.{where}: {what}" if where else f"{_ROOT}: {what}")


# -- parsing ------------------------------------------------------------------------------


def _model_for(credential: dict[str, Any]) -> type[Credential]:
    contexts = credential.get("@context")
    second = contexts[1] if isinstance(contexts, list) and len(contexts) > 1 else None
    if isinstance(second, str) and second in BY_CONTEXT:
        return BY_CONTEXT[second]  # type: ignore[return-value]
    if isinstance(second, str) and (m := _UNTP_DPP.fullmatch(second)):
        version = m.group(1)
        if version in _VERSIONS.values():  # the right version, miswritten: the model says how
            return next(BY_CONTEXT[url] for url, v in _VERSIONS.items() if v == version)  # type: ignore[return-value]
        shape = next((why for v, why in _OLDER_SHAPE.items() if version.startswith(v + ".")), None)
        raise _fail("@context[1]", f"UNTP DPP {version} is not a version this ledger reads"
                                   f"{' (' + shape + ')' if shape else ''}; it reads 0.6.1 "
                                   f"({DPP_0_6_1_CONTEXT}) and the working draft ({DPP_WORKING_CONTEXT})")  # fmt: skip
    types = credential.get("type")
    if "@context" not in credential and isinstance(types, list) and "ProductPassport" in types:
        raise _fail("", "expected a DigitalProductPassport credential, "
                        "got a ProductPassport (a credentialSubject alone)")  # fmt: skip
    return DigitalProductPassport  # whose @context check says what is wrong


def _status_entries(credential: dict[str, Any]) -> list[tuple[tuple[int | str, ...], dict[str, Any]]]:
    status = credential.get("credentialStatus")
    entries = [(("credentialStatus",), status)] if isinstance(status, dict) else [
        (("credentialStatus", i), entry) for i, entry in enumerate(status or [])]  # fmt: skip
    out = []
    for loc, entry in entries:
        t = entry.get("type")
        if t == _BITSTRING or (isinstance(t, list) and _BITSTRING in t):
            out.append((loc, entry))
    return out


def _ledger_rules(credential: dict[str, Any]) -> list[BitstringStatusListEntry]:
    """What the ledger requires beyond both schemas (the module docstring); the entries."""
    if "validFrom" not in credential:
        raise _fail("validFrom", "required by the ledger (a passport says from when it holds), but missing")
    subject = credential["credentialSubject"]
    for key, why in (("product", "the product it is for"), ("granularityLevel", "item, batch or model")):
        if key not in subject:
            raise _fail(f"credentialSubject.{key}", f"required by the ledger ({why}), but missing")
    entries = []
    for loc, entry in _status_entries(credential):
        try:
            entries.append(BitstringStatusListEntry.model_validate(entry, strict=True))
        except ValidationError as e:
            raise InvalidRecord(_message(e, loc)) from None
    return entries


def _decimal(number: int | float) -> Decimal:
    """A JSON number as the Decimal of its exact decimal text (see the module docstring):
    ``repr`` of a float is its shortest round-trip form, the digits RFC 8785 writes."""
    return Decimal(number) if type(number) is int else Decimal(repr(number))


def _conformity(claim: Claim | ClaimWorking) -> ConformityView:
    if isinstance(claim, Claim):
        conformance: bool | None = claim.conformance
    else:  # the working draft has no such field: an extra member, shown when it is a boolean
        extra = (claim.model_extra or {}).get("conformance")
        conformance = extra if isinstance(extra, bool) else None
    return ConformityView(
        id=claim.id,
        topic=claim.conformityTopic,
        description=claim.description,
        standard=claim.referenceStandard.name if claim.referenceStandard else None,
        regulation=claim.referenceRegulation.name if claim.referenceRegulation else None,
        conformance=conformance,
        assessment_date=parse_date(claim.assessmentDate) if claim.assessmentDate else None,
        evidence_url=claim.conformityEvidence.linkURL if claim.conformityEvidence else None,
    )


def _status(entries: list[BitstringStatusListEntry]) -> tuple[str, int, str] | None:
    """The revocation entry if there is one, else the first Bitstring entry, else None."""
    chosen = next((e for e in entries if e.statusPurpose == "revocation"), entries[0] if entries else None)
    if chosen is None:
        return None
    return chosen.statusListCredential, int(chosen.statusListIndex), chosen.statusPurpose


def parse_dpp(credential: Any) -> DppView:
    """``credential`` (decoded JSON) as a UNTP DPP 0.6.1 or working-draft passport.

    Raises ``InvalidRecord`` naming the first bad field (and how many more there are).
    """
    if type(credential) is not dict:
        raise _fail("", f"expected a Verifiable Credential object, got {describe(credential)}")
    model = _model_for(credential)
    try:
        vc = model.model_validate(credential, strict=True)
    except ValidationError as e:
        raise InvalidRecord(_message(e)) from None
    entries = _ledger_rules(credential)
    subject = vc.credentialSubject
    product, scorecard = subject.product, subject.emissionsScorecard
    assert product is not None and subject.granularityLevel is not None and vc.validFrom is not None  # _ledger_rules
    return DppView(
        version=_VERSIONS[vc.UNTP_CONTEXT],
        credential_id=vc.id,
        issuer_id=vc.issuer.id,
        issuer_name=vc.issuer.name,
        valid_from=parse_date_time(vc.validFrom),
        valid_until=parse_date_time(vc.validUntil) if vc.validUntil else None,
        product_id=product.id,
        product_name=product.name,
        granularity=subject.granularityLevel,
        serial=product.serialNumber,
        batch=product.batchNumber,
        carbon_footprint=_decimal(scorecard.carbonFootprint) if scorecard else None,
        declared_unit=scorecard.declaredUnit if scorecard else None,
        status=_status(entries),
        conformity=tuple(_conformity(c) for c in subject.conformityClaim or ()),
        credential=copy.deepcopy(credential),
    )

