"""Strict models of a UNTP Digital Product Passport credential (DPP 0.6.1, and the working
draft), which is a W3C Verifiable Credential 2.0.

The models refuse exactly what the official JSON Schemas refuse together: UNTP's
``untp-dpp-schema.json`` (0.6.1, or the working draft's) **and** W3C's
``verifiable-credential-schema.json`` (VC 2.0). ``tests/test_untp.py`` checks it mutation
by mutation. The UNTP schema alone requires only ``@context``, ``id`` and ``issuer``; VC
2.0 adds ``type`` and ``credentialSubject`` (a non-empty object) and fixes the shape of
``credentialStatus``, ``credentialSchema``, ``refreshService``, ``termsOfUse``,
``evidence`` and ``proof``. What the ledger requires beyond both schemas is not here but
in ``ledger.untp`` (``parse_dpp``, ``BitstringStatusListEntry``).

The schemas' words (types, formats, ``additionalProperties``, ``type`` arrays) are read as
``ledger.untp_formats`` says.
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator
from pydantic_core import PydanticCustomError

from ledger.pact.formats import describe
from ledger.untp_formats import (
    ARRAY,
    STRING,
    Closed,
    Date,
    DateTime,
    Number,
    Open,
    Text,
    Types,
    Uri,
    VcType,
    one_or_many,
)

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DPP_0_6_1_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dpp/0.6.1/"
DPP_WORKING_CONTEXT = "https://test.uncefact.org/vocabulary/untp/dpp/working/"

# -- UNTP DPP 0.6.1 (``$defs``) ----------------------------------------------------------

ConformityTopic = Literal[
    "environment.energy", "environment.emissions", "environment.water", "environment.waste",
    "environment.deforestation", "environment.biodiversity", "circularity.content", "circularity.design",
    "social.labour", "social.rights", "social.community", "social.safety", "governance.ethics",
    "governance.compliance", "governance.transparency",
]  # fmt: skip
Granularity = Literal["item", "batch", "model"]


class Entity(Open):
    """The inline ``{id, name, registeredId}`` object of ``issuerAlsoKnownAs`` items,
    ``producedByParty``, ``producedAtFacility``, ``issuingParty`` and ``administeredBy``."""

    id: Uri
    name: Text
    registeredId: Text | None = None


class IdentifierScheme(Closed):
    type: Types[Literal["IdentifierScheme"]] | None = None
    id: Uri | None = None
    name: Text | None = None


class Link(Closed):
    type: Types[Literal["Link"]] | None = None
    linkURL: Uri | None = None
    linkName: Text | None = None
    linkType: Text | None = None


class Characteristics(Open):
    type: Types[Literal["Characteristics"]] | None = None


class Classification(Closed):
    type: Types[Literal["Classification"]] | None = None
    id: Uri
    code: Text | None = None
    name: Text
    schemeID: Uri | None = None
    schemeName: Text | None = None


class Measure(Closed):
    type: Types[Literal["Measure"]] | None = None
    value: Number
    unit: Text


class Dimension(Open):
    type: Types[Literal["Dimension"]] | None = None
    weight: Measure | None = None
    length: Measure | None = None
    width: Measure | None = None
    height: Measure | None = None
    volume: Measure | None = None


class Product(Open):
    type: Types[Literal["Product"]] | None = None
    id: Uri
    name: Text
    registeredId: Text | None = None
    idScheme: IdentifierScheme | None = None
    batchNumber: Text | None = None
    productImage: Link | None = None
    description: Text | None = None
    characteristics: Characteristics | None = None
    productCategory: list[Classification] | None = None
    furtherInformation: list[Link] | None = None
    producedByParty: Entity | None = None
    producedAtFacility: Entity | None = None
    productionDate: Date | None = None
    countryOfProduction: Text | None = None
    serialNumber: Text | None = None
    dimensions: Dimension | None = None


class CredentialIssuer(Closed):
    type: Types[Literal["CredentialIssuer"]] | None = None
    id: Uri
    name: Text
    issuerAlsoKnownAs: list[Entity] | None = None


class Standard(Closed):
    type: Types[Literal["Standard"]] | None = None
    id: Uri | None = None
    name: Text | None = None
    issuingParty: Entity
    issueDate: Date | None = None


class Regulation(Closed):
    type: Types[Literal["Regulation"]] | None = None
    id: Uri | None = None
    name: Text | None = None
    jurisdictionCountry: Text | None = None
    administeredBy: Entity
    effectiveDate: Date | None = None


class Metric(Closed):
    type: Types[Literal["Metric"]] | None = None
    metricName: Text
    metricValue: Measure
    score: Text | None = None
    accuracy: Number | None = None


class Criterion(Closed):
    type: Types[Literal["Criterion"]] | None = None
    id: Uri
    name: Text
    description: Text
    conformityTopic: ConformityTopic
    status: Literal["proposed", "active", "deprecated"]
    subCriterion: list[Criterion] | None = None
    thresholdValue: Metric | None = None
    performanceLevel: Text | None = None
    category: list[Classification] | None = None
    tag: list[Text] | None = None


class _SecureLinkCommon(Closed):
    type: Types[Literal["SecureLink", "Link"]] | None = None
    linkURL: Uri | None = None
    linkName: Text | None = None
    linkType: Text | None = None
    hashDigest: Text | None = None
    hashMethod: Literal["SHA-256", "SHA-1"] | None = None


class SecureLink(_SecureLinkCommon):
    encryptionMethod: Literal["none", "AES"] | None = None


class _ClaimCommon(Open):
    type: Types[Literal["Claim", "Declaration"]] | None = None
    id: Uri
    description: Text | None = None
    referenceStandard: Standard | None = None
    referenceRegulation: Regulation | None = None
    assessmentCriteria: list[Criterion] | None = None
    assessmentDate: Date | None = None
    declaredValue: list[Metric] | None = None
    conformityTopic: ConformityTopic


class Claim(_ClaimCommon):
    conformance: bool
    conformityEvidence: SecureLink | None = None


class EmissionsPerformance(Open):
    type: Types[Literal["EmissionsPerformance"]] | None = None
    carbonFootprint: Number
    declaredUnit: Text
    operationalScope: Literal["None", "CradleToGate", "CradleToGrave"]
    primarySourcedRatio: Number
    reportingStandard: Standard | None = None


class _TraceabilityCommon(Open):
    type: Types[Literal["TraceabilityPerformance"]] | None = None
    valueChainProcess: Text | None = None
    verifiedRatio: Number | None = None


class TraceabilityPerformance(_TraceabilityCommon):
    traceabilityEvent: list[SecureLink] | None = None


class CircularityPerformance(Open):
    type: Types[Literal["CircularityPerformance"]] | None = None
    recyclingInformation: Link | None = None
    repairInformation: Link | None = None
    recyclableContent: Number | None = None
    recycledContent: Number | None = None
    utilityFactor: Number | None = None
    materialCircularityIndicator: Number | None = None


class Material(Open):
    type: Types[Literal["Material"]] | None = None
    name: Text
    originCountry: Text | None = None
    materialType: Classification | None = None
    massFraction: Number | None = None
    mass: Measure | None = None
    recycledMassFraction: Number | None = None
    hazardous: bool | None = None
    symbol: Text | None = None
    materialSafetyInformation: Link | None = None


class _ProductPassportCommon(Open):
    type: Types[Literal["ProductPassport"]] | None = None
    id: Uri | None = None
    product: Product | None = None
    granularityLevel: Granularity | None = None
    emissionsScorecard: EmissionsPerformance | None = None
    circularityScorecard: CircularityPerformance | None = None
    dueDiligenceDeclaration: Link | None = None
    materialsProvenance: list[Material] | None = None


class ProductPassport(_ProductPassportCommon):
    conformityClaim: list[Claim] | None = None
    traceabilityInformation: list[TraceabilityPerformance] | None = None


# -- the working draft: three differences ---------------------------------------------


class SecureLinkWorking(_SecureLinkCommon):
    """No ``encryptionMethod`` (and no other property: it is refused)."""


class ClaimWorking(_ClaimCommon):
    """No ``conformance`` property: not required, and any value is kept unchecked."""

    conformityEvidence: SecureLinkWorking | None = None


class TraceabilityPerformanceWorking(_TraceabilityCommon):
    traceabilityEvent: list[SecureLinkWorking] | None = None


class ProductPassportWorking(_ProductPassportCommon):
    conformityClaim: list[ClaimWorking] | None = None
    traceabilityInformation: list[TraceabilityPerformanceWorking] | None = None


# -- VC 2.0 (``verifiable-credential-schema.json``) -----------------------------------------


class CredentialStatus(Open):
    id: Text | None = None
    type: VcType


class CredentialSchema(Open):
    id: Text
    type: VcType


class RefreshService(Open):
    id: Text
    type: VcType


class TermsOfUse(Open):
    id: Text | None = None
    type: VcType


class Evidence(Open):
    id: Text | None = None
    type: VcType


class VerificationMethod(Open):
    id: Text
    type: Text
    controller: Text


class Proof(Open):
    type: VcType
    proofPurpose: Text
    verificationMethod: Annotated[
        Union[Annotated[Text, Tag(STRING)], Annotated[list[VerificationMethod], Field(min_length=1), Tag(ARRAY)]],
        Discriminator(lambda v: ARRAY if isinstance(v, list) else STRING),
    ]
    created: Text | None = None
    domain: Text | None = None
    challenge: Text | None = None
    proofValue: Text | None = None

    @field_validator("verificationMethod", mode="before")
    @classmethod
    def _string_or_objects(cls, value: object) -> object:
        if type(value) is not list and type(value) is not str:
            raise PydanticCustomError(
                "untp_one_or_many",
                "expected a string or a non-empty array of objects, got {got}",
                {"got": describe(value)},
            )
        return value


def _at(index: int, message: str, **ctx: object) -> PydanticCustomError:
    """An error about one item of the array being checked: ``ledger.untp`` adds ``[index]``
    to the path (and ``.name`` for an ``at`` that is a property name)."""
    return PydanticCustomError("untp_item", message, {"at": index, **ctx})


class _CredentialCommon(Open):
    """The credential: UNTP's root schema and VC 2.0's together."""

    UNTP_CONTEXT: ClassVar[str]

    context: list[Text] = Field(alias="@context")
    type: Types[Literal["DigitalProductPassport", "VerifiableCredential"]]
    id: Uri
    issuer: CredentialIssuer
    validFrom: DateTime | None = None
    validUntil: DateTime | None = None
    credentialStatus: one_or_many(CredentialStatus) | None = None
    credentialSchema: one_or_many(CredentialSchema) | None = None
    refreshService: one_or_many(RefreshService) | None = None
    termsOfUse: one_or_many(TermsOfUse) | None = None
    evidence: one_or_many(Evidence) | None = None
    proof: one_or_many(Proof) | None = None

    @field_validator("context")
    @classmethod
    def _contexts(cls, urls: list[str]) -> list[str]:
        expected = [VC_V2_CONTEXT, cls.UNTP_CONTEXT]
        if len(urls) < 2:
            raise PydanticCustomError(
                "untp_contexts", "expected at least 2 contexts, {expected}, got {got}", {
                    "expected": " then ".join(repr(u) for u in expected), "got": json.dumps(urls)[:200]})  # fmt: skip
        for i, want in enumerate(expected):
            if urls[i] != want:
                raise _at(i, "expected {want}, got {got}", want=repr(want), got=describe(urls[i]))
        seen: set[str] = set()
        for i, url in enumerate(urls):
            if not url:
                raise _at(i, "expected a context URL, got ''")
            if url in seen:
                raise _at(i, "expected each context once, got {url} twice", url=repr(url)[:200])
            seen.add(url)
        return urls

    @field_validator("credentialSubject", mode="before", check_fields=False)
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if value == {}:
            raise PydanticCustomError("untp_subject", "expected an object with at least one property, got {}")
        return value


class DigitalProductPassport(_CredentialCommon):
    """A UNTP DPP 0.6.1 credential."""

    UNTP_CONTEXT: ClassVar[str] = DPP_0_6_1_CONTEXT
    credentialSubject: ProductPassport


class DigitalProductPassportWorking(_CredentialCommon):
    """A UNTP DPP credential of the working draft (``uncefact/spec-untp`` af6cd474)."""

    UNTP_CONTEXT: ClassVar[str] = DPP_WORKING_CONTEXT
    credentialSubject: ProductPassportWorking


#: The models by the UNTP context URL the credential names second.
BY_CONTEXT: dict[str, type[_CredentialCommon]] = {
    DPP_0_6_1_CONTEXT: DigitalProductPassport,
    DPP_WORKING_CONTEXT: DigitalProductPassportWorking,
}
Credential = DigitalProductPassport | DigitalProductPassportWorking
