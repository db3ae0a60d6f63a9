"""What PACT v2 and v3 share: the model base, set-like arrays, geography, and the three
small objects whose schemas are the same in both versions.

Every model here is strict (a JSON string is never a number, nor the reverse), frozen,
and refuses ``null`` for every field: PACT leaves an absent value out, it never sends
``null``, and its schemas do not admit one.

Unknown properties are **kept, not refused** (``extra="allow"``, available as
``model_extra``). Neither official document sets ``additionalProperties: false`` on any
object, and the official v3 examples themselves carry properties the schema does not
define (``pcf.otherOperatorName``, ``pcf.biogenicAccountingMethodology``). Refusing them
would refuse footprints every PACT implementation accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ledger.pact.formats import Country, CountrySubdivision, NonEmptyString, Uri, describe

T = TypeVar("T")


class PactModel(BaseModel):
    """Base of every PACT object: strict, frozen, unknown properties kept, ``null`` refused."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("pact_null", "expected a value, got null (an absent value is left out)")
        return value


def _json_key(item: object) -> str:
    if isinstance(item, BaseModel):
        item = item.model_dump(mode="json", exclude_unset=True)
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def _unique(items: list[T]) -> list[T]:
    seen: set[str] = set()
    for item in items:
        key = _json_key(item)
        if key in seen:
            raise PydanticCustomError("pact_unique", "expected unique items, got {item} twice", {"item": key})
        seen.add(key)
    return items


#: ``type: array, minItems: 1, uniqueItems: true`` — a non-empty set.
NonEmptySet = Annotated[list[T], Field(min_length=1), AfterValidator(_unique)]
#: ``type: array, minItems: 1``.
NonEmptyList = Annotated[list[T], Field(min_length=1)]


def _number(minimum: float, maximum: float) -> Callable[[object], int | float]:
    def validate(value: object) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError(
                "pact_number", "expected a JSON number, got {got}", {"got": describe(value)}
            )
        if not minimum <= value <= maximum:
            raise PydanticCustomError(
                "pact_number",
                "expected a number from {minimum} to {maximum}, got {got}",
                {"minimum": minimum, "maximum": maximum, "got": value},
            )
        return value

    return validate


#: v2 ``type: number`` with ``minimum: 0, maximum: 100`` (a JSON number, kept as int or float).
Percent = Annotated[int | float, PlainValidator(_number(0, 100))]
#: v2 ``FloatBetween1And3``.
Between1And3 = Annotated[int | float, PlainValidator(_number(1, 3))]

Region = Literal[
    "Africa", "Americas", "Asia", "Europe", "Oceania", "Australia and New Zealand", "Central Asia",
    "Eastern Asia", "Eastern Europe", "Latin America and the Caribbean", "Melanesia", "Micronesia",
    "Northern Africa", "Northern America", "Northern Europe", "Polynesia", "South-eastern Asia",
    "Southern Asia", "Southern Europe", "Sub-Saharan Africa", "Western Asia", "Western Europe",
]  # fmt: skip

_GEOGRAPHY = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")


class Geography(PactModel):
    """The geography of a CarbonFootprint: at most one of the three (the schemas' ``oneOf``)."""

    geographyRegionOrSubregion: Region | None = None
    geographyCountry: Country | None = None
    geographyCountrySubdivision: CountrySubdivision | None = None

    @model_validator(mode="after")
    def _one_geography(self) -> Geography:
        given = [name for name in _GEOGRAPHY if getattr(self, name) is not None]
        if len(given) > 1:
            raise PydanticCustomError(
                "pact_geography",
                "expected at most one of geographyRegionOrSubregion, geographyCountry and "
                "geographyCountrySubdivision, got {given}",
                {"given": ", ".join(given)},
            )
        return self


class DataModelExtension(PactModel):
    """A data model extension: ``data`` is any JSON object, described by ``dataSchema``."""

    specVersion: str
    dataSchema: Uri
    documentation: Uri | None = None
    data: dict[str, Any]


class ProductOrSectorSpecificRule(PactModel):
    operator: Literal["PEF", "EPD International", "Other"]
    ruleNames: NonEmptySet[NonEmptyString]
    otherOperatorName: NonEmptyString | None = None


class EmissionFactorSource(PactModel):
    """v3 ``EmissionFactorSource``, v2 ``EmissionFactorDatabases`` (the same schema)."""

    name: NonEmptyString
    version: NonEmptyString
