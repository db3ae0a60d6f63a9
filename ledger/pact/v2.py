"""PACT v2.x ``ProductFootprint`` (Technical Specifications 2.3, ``components/schemas``).

Accepted so that footprints from v2 systems can be recorded; new footprints are v3. Field
names, required and optional as the v2 schema says, including the fields it marks
deprecated (``characterizationFactors``, ``crossSectoralStandardsUsed``), which it still
requires. v2 keeps some values as JSON numbers (percentages, data quality ratings); its
emission values are decimal strings, which the schema leaves unchecked (``format:
decimal``) and this module checks as decimals; ``unitaryProductAmount`` must be > 0, as
its description says.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ledger.pact.common import (
    Between1And3,
    DataModelExtension,
    EmissionFactorSource,
    Geography,
    NonEmptyList,
    NonEmptySet,
    PactModel,
    Percent,
    ProductOrSectorSpecificRule,
)
from ledger.pact.formats import (
    DateTime,
    DecimalString,
    IpccAssessmentReport,
    NonEmptyString,
    PositiveNonZeroDecimal,
    SpecVersion,
    Urn,
    Uuid,
)

DeclaredUnit = Literal[
    "liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter"
]
CrossSectoralStandardUsed = Literal["GHG Protocol Product standard", "ISO Standard 14067", "ISO Standard 14044"]
CrossSectoralStandard = Literal[
    "ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0"
]


class DataQualityIndicators(PactModel):
    coveragePercent: Percent
    technologicalDQR: Between1And3
    temporalDQR: Between1And3
    geographicalDQR: Between1And3
    completenessDQR: Between1And3
    reliabilityDQR: Between1And3


class Assurance(PactModel):
    assurance: bool
    coverage: Literal["corporate level", "product line", "PCF system", "product level"] | None = None
    level: Literal["limited", "reasonable"] | None = None
    boundary: Literal["Gate-to-Gate", "Cradle-to-Gate"] | None = None
    providerName: str
    completedAt: DateTime | None = None
    standardName: str | None = None
    comments: str | None = None


class CarbonFootprint(Geography):
    declaredUnit: DeclaredUnit
    unitaryProductAmount: PositiveNonZeroDecimal
    productMassPerDeclaredUnit: DecimalString | None = None
    pCfExcludingBiogenic: DecimalString
    pCfIncludingBiogenic: DecimalString | None = None
    fossilGhgEmissions: DecimalString
    fossilCarbonContent: DecimalString
    biogenicCarbonContent: DecimalString
    dLucGhgEmissions: DecimalString | None = None
    landManagementGhgEmissions: DecimalString | None = None
    otherBiogenicGhgEmissions: DecimalString | None = None
    iLucGhgEmissions: DecimalString | None = None
    biogenicCarbonWithdrawal: DecimalString | None = None
    aircraftGhgEmissions: DecimalString | None = None
    packagingEmissionsIncluded: bool
    packagingGhgEmissions: DecimalString | None = None
    characterizationFactors: Literal["AR6", "AR5"]
    ipccCharacterizationFactorsSources: NonEmptySet[IpccAssessmentReport]
    crossSectoralStandardsUsed: NonEmptySet[CrossSectoralStandardUsed]
    crossSectoralStandards: NonEmptySet[CrossSectoralStandard] | None = None
    productOrSectorSpecificRules: NonEmptySet[ProductOrSectorSpecificRule] | None = None
    biogenicAccountingMethodology: Literal["PEF", "ISO", "GHGP", "Quantis"] | None = None
    boundaryProcessesDescription: str
    referencePeriodStart: DateTime
    referencePeriodEnd: DateTime
    secondaryEmissionFactorSources: NonEmptyList[EmissionFactorSource] | None = None
    exemptedEmissionsPercent: Percent
    exemptedEmissionsDescription: str
    allocationRulesDescription: str | None = None
    uncertaintyAssessmentDescription: str | None = None
    primaryDataShare: Percent | None = None
    dqi: DataQualityIndicators | None = None
    assurance: Assurance | None = None


class ProductFootprint(PactModel):
    id: Uuid
    specVersion: SpecVersion
    precedingPfIds: NonEmptySet[Uuid] | None = None
    version: Annotated[int, Field(ge=0, le=2**31 - 1)]  # format int32, minimum 0
    created: DateTime
    updated: DateTime | None = None
    status: Literal["Active", "Deprecated"]
    statusComment: str | None = None
    validityPeriodStart: DateTime | None = None
    validityPeriodEnd: DateTime | None = None
    companyName: NonEmptyString
    companyIds: NonEmptySet[Urn]
    productDescription: str
    productIds: NonEmptySet[Urn]
    productClassifications: NonEmptySet[Urn] | None = None
    productCategoryCpc: NonEmptyString
    productNameCompany: NonEmptyString
    comment: str
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | None = None
