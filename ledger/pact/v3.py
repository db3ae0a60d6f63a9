"""PACT v3 ``ProductFootprint`` (Technical Specifications 3.0.x, ``components/schemas``).

Field names are the specification's; required and optional exactly as its schema says.
Every emission value is a decimal string (``formats``); ``ledger.pact.footprint_view``
gives the values the ledger computes with as ``Decimal``.
"""

from __future__ import annotations

from typing import Literal

from ledger.pact.common import (
    DataModelExtension,
    EmissionFactorSource,
    Geography,
    NonEmptyList,
    NonEmptySet,
    PactModel,
    ProductOrSectorSpecificRule,
)
from ledger.pact.formats import (
    DateTime,
    DecimalString,
    IpccAssessmentReport,
    NegativeOrZeroDecimal,
    NonEmptyString,
    PositiveNonZeroDecimal,
    PositiveOrZeroDecimal,
    SpecVersion,
    Uri,
    Urn,
    Uuid,
)

DeclaredUnitOfMeasurement = Literal[
    "liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer",
    "square meter", "piece", "hour", "megabit second",
]  # fmt: skip

#: The values v3 lists for ``crossSectoralStandards``. The schema takes any string: "a host
#: system MUST accept ... values that are not defined in this specification".
KNOWN_CROSS_SECTORAL_STANDARDS = frozenset(
    {"ISO14067", "ISO14083", "ISO14040-44", "GHGP-Product", "PEF", "PACT-1.0", "PACT-2.0", "PACT-3.0", "PAS2050"}
)


class DataQualityIndicators(PactModel):
    technologicalDQR: DecimalString
    geographicalDQR: DecimalString
    temporalDQR: DecimalString


class Verification(PactModel):
    coverage: Literal["PCF calculation model", "PCF program", "product level"] | None = None
    providerName: str | None = None
    completedAt: DateTime | None = None
    standardName: str | None = None
    comments: str | None = None


class CarbonFootprint(Geography):
    declaredUnitOfMeasurement: DeclaredUnitOfMeasurement
    declaredUnitAmount: PositiveNonZeroDecimal
    productMassPerDeclaredUnit: DecimalString
    referencePeriodStart: DateTime
    referencePeriodEnd: DateTime
    boundaryProcessesDescription: str | None = None
    pcfExcludingBiogenicUptake: DecimalString
    pcfIncludingBiogenicUptake: DecimalString
    fossilCarbonContent: PositiveOrZeroDecimal
    biogenicCarbonContent: PositiveOrZeroDecimal | None = None
    recycledCarbonContent: PositiveOrZeroDecimal | None = None
    fossilGhgEmissions: PositiveOrZeroDecimal
    landUseChangeGhgEmissions: PositiveOrZeroDecimal | None = None
    landCarbonLeakage: PositiveOrZeroDecimal | None = None
    landManagementFossilGhgEmissions: PositiveOrZeroDecimal | None = None
    landManagementBiogenicCO2Emissions: PositiveOrZeroDecimal | None = None
    landManagementBiogenicCO2Removals: NegativeOrZeroDecimal | None = None
    biogenicCO2Uptake: NegativeOrZeroDecimal | None = None
    biogenicNonCO2Emissions: PositiveOrZeroDecimal | None = None
    landAreaOccupation: PositiveOrZeroDecimal | None = None
    aircraftGhgEmissions: PositiveOrZeroDecimal | None = None
    packagingEmissionsIncluded: bool | None = None
    packagingGhgEmissions: PositiveOrZeroDecimal | None = None
    packagingBiogenicCarbonContent: PositiveOrZeroDecimal | None = None
    outboundLogisticsGhgEmissions: PositiveOrZeroDecimal | None = None
    ccsTechnologicalCO2CaptureIncluded: bool | None = None
    ccsTechnologicalCO2Capture: NegativeOrZeroDecimal | None = None
    technologicalCO2CaptureOrigin: str | None = None
    technologicalCO2Removals: NegativeOrZeroDecimal | None = None
    ccuCarbonContent: PositiveOrZeroDecimal | None = None
    ccuCalculationApproach: Literal["Cut-off", "Credit"] | None = None
    ccuCreditCertification: Uri | None = None
    ipccCharacterizationFactors: NonEmptySet[IpccAssessmentReport]
    crossSectoralStandards: NonEmptySet[str]
    productOrSectorSpecificRules: NonEmptySet[ProductOrSectorSpecificRule] | None = None
    exemptedEmissionsPercent: DecimalString
    exemptedEmissionsDescription: str | None = None
    allocationRulesDescription: str | None = None
    secondaryEmissionFactorSources: NonEmptyList[EmissionFactorSource] | None = None
    primaryDataShare: DecimalString | None = None
    dqi: DataQualityIndicators | None = None
    verification: Verification | None = None


class ProductFootprint(PactModel):
    id: Uuid
    specVersion: SpecVersion
    precedingPfIds: NonEmptySet[Uuid] | None = None
    created: DateTime
    status: Literal["Active", "Deprecated"]
    validityPeriodStart: DateTime | None = None
    validityPeriodEnd: DateTime | None = None
    companyName: NonEmptyString
    companyIds: NonEmptySet[Urn]
    productDescription: str
    productIds: NonEmptySet[Urn]
    productClassifications: NonEmptySet[Urn] | None = None
    productNameCompany: NonEmptyString
    comment: str | None = None
    pcf: CarbonFootprint
    extensions: list[DataModelExtension] | None = None
