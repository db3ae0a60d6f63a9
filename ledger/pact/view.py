"""One view of a v3 or v2 footprint: the values the ledger files, links and rolls up.

``footprint_view(fp)`` maps the version's names onto one set (v3's meaning, snake_case)
and turns decimal strings into exact ``Decimal`` values, keeping the text beside them: the
roll-up rounds to the declared value's own decimal places (DESIGN §8).

====================  ================================  ===============================
view                  v3                                v2
====================  ================================  ===============================
declared_unit         pcf.declaredUnitOfMeasurement     pcf.declaredUnit
declared_unit_amount  pcf.declaredUnitAmount            pcf.unitaryProductAmount
pcf_excluding_…       pcf.pcfExcludingBiogenicUptake    pcf.pCfExcludingBiogenic
pcf_including_…       pcf.pcfIncludingBiogenicUptake    pcf.pCfIncludingBiogenic (optional)
fossil_ghg_emissions  pcf.fossilGhgEmissions            pcf.fossilGhgEmissions
====================  ================================  ===============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from ledger.pact import v2, v3
from ledger.pact.common import DataModelExtension
from ledger.pact.formats import as_decimal, parse_date_time

Footprint = v3.ProductFootprint | v2.ProductFootprint

#: The values a footprint's roll-up checks, by their v3 names.
ROLLUP_FIELDS: tuple[str, ...] = ("pcfExcludingBiogenicUptake", "pcfIncludingBiogenicUptake", "fossilGhgEmissions")
#: The same values' names in a v2 ``pcf``.
ROLLUP_FIELDS_V2: Mapping[str, str] = MappingProxyType(
    {
        "pcfExcludingBiogenicUptake": "pCfExcludingBiogenic",
        "pcfIncludingBiogenicUptake": "pCfIncludingBiogenic",
        "fossilGhgEmissions": "fossilGhgEmissions",
    }
)
_ATTRIBUTE = {
    "pcfExcludingBiogenicUptake": "pcf_excluding_biogenic_uptake",
    "pcfIncludingBiogenicUptake": "pcf_including_biogenic_uptake",
    "fossilGhgEmissions": "fossil_ghg_emissions",
}


class FootprintStatus(StrEnum):
    """The status a footprint declares (the ledger's derived status may say more)."""

    ACTIVE = "Active"
    DEPRECATED = "Deprecated"


class DecimalText(NamedTuple):
    """A decimal as sent (``text``) and its exact value (``Decimal(text)``)."""

    text: str
    value: Decimal

    @classmethod
    def of(cls, text: str) -> DecimalText:
        return cls(text, as_decimal(text))

    @property
    def places(self) -> int:
        """Digits after the decimal point in ``text`` (``"1.50"`` → 2, ``"3"`` → 0)."""
        _, _, fraction = self.text.partition(".")
        return len(fraction)


@dataclass(frozen=True, slots=True)
class FootprintGeography:
    """At most one is set; none means the footprint is global."""

    region: str | None  # geographyRegionOrSubregion, a UN M49 region name
    country: str | None  # geographyCountry, ISO 3166-1 alpha-2
    subdivision: str | None  # geographyCountrySubdivision, ISO 3166-2


@dataclass(frozen=True, slots=True)
class FootprintView:
    id: str
    spec_version: str
    status: FootprintStatus
    created: datetime  # aware; fraction truncated to microseconds
    company_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    product_classifications: tuple[str, ...]  # () when absent (v2: productClassifications only)
    preceding_pf_ids: tuple[str, ...]  # () when absent
    declared_unit: str
    declared_unit_amount: Decimal  # > 0
    pcf_excluding_biogenic_uptake: DecimalText
    pcf_including_biogenic_uptake: DecimalText | None  # None only for a v2 footprint without it
    fossil_ghg_emissions: DecimalText
    extensions: tuple[DataModelExtension, ...]
    validity_period_start: datetime | None
    validity_period_end: datetime | None
    geography: FootprintGeography

    def rollup(self, field: str) -> DecimalText | None:
        """The roll-up value named by its v3 name (one of ``ROLLUP_FIELDS``)."""
        try:
            return getattr(self, _ATTRIBUTE[field])
        except KeyError:
            raise ValueError(f"expected one of {', '.join(ROLLUP_FIELDS)}, got {field!r}") from None


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_date_time(text)


def footprint_view(fp: Footprint) -> FootprintView:
    """The version-neutral view of a parsed footprint (``parse_footprint``'s result)."""
    if isinstance(fp, v3.ProductFootprint):
        pcf3 = fp.pcf
        unit, amount = pcf3.declaredUnitOfMeasurement, pcf3.declaredUnitAmount
        excluding, including = pcf3.pcfExcludingBiogenicUptake, pcf3.pcfIncludingBiogenicUptake
        fossil = pcf3.fossilGhgEmissions
    elif isinstance(fp, v2.ProductFootprint):
        pcf2 = fp.pcf
        unit, amount = pcf2.declaredUnit, pcf2.unitaryProductAmount
        excluding, including = pcf2.pCfExcludingBiogenic, pcf2.pCfIncludingBiogenic
        fossil = pcf2.fossilGhgEmissions
    else:
        raise TypeError(f"expected a v3 or v2 ProductFootprint, got {type(fp).__name__}")
    created = parse_date_time(fp.created)
    return FootprintView(
        id=fp.id,
        spec_version=fp.specVersion,
        status=FootprintStatus(fp.status),
        created=created,
        company_ids=tuple(fp.companyIds),
        product_ids=tuple(fp.productIds),
        product_classifications=tuple(fp.productClassifications or ()),
        preceding_pf_ids=tuple(fp.precedingPfIds or ()),
        declared_unit=unit,
        declared_unit_amount=as_decimal(amount),
        pcf_excluding_biogenic_uptake=DecimalText.of(excluding),
        pcf_including_biogenic_uptake=None if including is None else DecimalText.of(including),
        fossil_ghg_emissions=DecimalText.of(fossil),
        extensions=tuple(fp.extensions or ()),
        validity_period_start=_time(fp.validityPeriodStart),
        validity_period_end=_time(fp.validityPeriodEnd),
        geography=FootprintGeography(
            region=fp.pcf.geographyRegionOrSubregion,
            country=fp.pcf.geographyCountry,
            subdivision=fp.pcf.geographyCountrySubdivision,
        ),
    )
