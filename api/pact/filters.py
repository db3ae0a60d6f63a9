"""The PACT v3 footprint criteria: one ``FootprintFilter`` for ``ListFootprints`` and the
``RequestCreatedEvent``, matched against a served footprint (a decoded JSON object).

Spec § "Filtering": every criterion present must match (AND); within a criterion, any of
its values (OR). Matches are case-insensitive, as the spec's parameter descriptions say.

| criterion      | matches when                                                                   |
| -------------- | ------------------------------------------------------------------------------ |
| productId      | one of ``productIds`` equals a value                                           |
| companyId      | one of ``companyIds`` equals a value                                           |
| geography      | ``pcf.geographyRegionOrSubregion``, ``…Country`` or ``…CountrySubdivision`` does |
| classification | one of ``productClassifications`` does                                         |
| validOn        | validity start <= validOn <= validity end                                      |
| validAfter     | validity start > validAfter                                                    |
| validBefore    | validity end < validBefore                                                     |
| status         | the served (derived) ``status`` does                                           |

The validity period (spec § "Validity Period") is ``validityPeriodStart`` to
``validityPeriodEnd``; a missing start is ``pcf.referencePeriodEnd``, a missing end that
plus 3 years. A footprint with neither and no reference period end matches no validity
criterion.

Values are taken as given: a value that no footprint can have (``status=Bogus``, a company
id that is not a URN) matches nothing rather than being refused — the conformance tool
expects ``200`` with ``data: []`` for those. Empty values are ignored (``?geography=``
filters nothing). A date-time that is not RFC 3339 is ``MalformedInput``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.errors import MalformedInput
from ledger.pact.formats import parse_date_time

#: At most this many values per criterion (each productId or companyId value is one query).
MAX_VALUES = 50
_GEOGRAPHY = ("geographyRegionOrSubregion", "geographyCountry", "geographyCountrySubdivision")


def _fold(values: Sequence[str] | None, name: str) -> tuple[str, ...]:
    kept = tuple(dict.fromkeys(v for v in values or () if v != ""))
    if len(kept) > MAX_VALUES:
        raise MalformedInput(f"{name}: at most {MAX_VALUES} values, got {len(kept)}")
    return kept


def _date(values: Sequence[str] | str | None, name: str) -> datetime | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    values = [v for v in values if v != ""]
    if not values:
        return None
    if len(values) > 1:
        raise MalformedInput(f"{name} takes one value, got {len(values)}")
    try:
        return parse_date_time(values[0])
    except ValueError:
        hint = " (a '+' in a query string must be sent as %2B)" if " " in values[0] else ""
        raise MalformedInput(f"{name} must be an RFC 3339 date-time, got {values[0][:60]!r}{hint}") from None


def _plus_3_years(t: datetime) -> datetime:
    try:
        return t.replace(year=t.year + 3)
    except ValueError:  # 29 February
        return t.replace(year=t.year + 3, day=28)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_date_time(value)
    except ValueError:
        return None


def validity_period(fp: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The footprint's validity period, or None when it cannot be determined."""
    pcf = fp.get("pcf") if isinstance(fp.get("pcf"), dict) else {}
    reference_end = _time(pcf.get("referencePeriodEnd"))
    start = _time(fp.get("validityPeriodStart")) or reference_end
    end = _time(fp.get("validityPeriodEnd")) or (None if reference_end is None else _plus_3_years(reference_end))
    if start is None or end is None:
        return None
    return start, end


def _any_of(wanted: tuple[str, ...], have: Any) -> bool:
    if not isinstance(have, list):
        return False
    folded = {h.casefold() for h in have if isinstance(h, str)}
    return any(w.casefold() in folded for w in wanted)


@dataclass(frozen=True, slots=True)
class FootprintFilter:
    product_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    geography: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    valid_on: datetime | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None
    statuses: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, *, product_id: Sequence[str] | None = None, company_id: Sequence[str] | None = None,
        geography: Sequence[str] | None = None, classification: Sequence[str] | None = None,
        valid_on: Sequence[str] | str | None = None, valid_after: Sequence[str] | str | None = None,
        valid_before: Sequence[str] | str | None = None, status: Sequence[str] | str | None = None,
    ) -> FootprintFilter:  # fmt: skip
        """From the spec's criteria as sent (query values, or an event's ``data``)."""
        return cls(
            product_ids=_fold(product_id, "productId"),
            company_ids=_fold(company_id, "companyId"),
            geography=_fold(geography, "geography"),
            classifications=_fold(classification, "classification"),
            valid_on=_date(valid_on, "validOn"),
            valid_after=_date(valid_after, "validAfter"),
            valid_before=_date(valid_before, "validBefore"),
            statuses=_fold([status] if isinstance(status, str) else status, "status"),
        )

    @property
    def is_empty(self) -> bool:
        return self == FootprintFilter()

    def matches(self, fp: dict[str, Any]) -> bool:
        """Does the served footprint ``fp`` (its ``status`` the derived one) meet every criterion?"""
        if self.product_ids and not _any_of(self.product_ids, fp.get("productIds")):
            return False
        if self.company_ids and not _any_of(self.company_ids, fp.get("companyIds")):
            return False
        if self.classifications and not _any_of(self.classifications, fp.get("productClassifications")):
            return False
        if self.statuses and not _any_of(self.statuses, [fp.get("status")]):
            return False
        if self.geography:
            pcf = fp.get("pcf") if isinstance(fp.get("pcf"), dict) else {}
            if not _any_of(self.geography, [pcf.get(g) for g in _GEOGRAPHY]):
                return False
        if self.valid_on is None and self.valid_after is None and self.valid_before is None:
            return True
        period = validity_period(fp)
        if period is None:
            return False
        start, end = period
        if self.valid_on is not None and not start <= self.valid_on <= end:
            return False
        if self.valid_after is not None and not start > self.valid_after:
            return False
        return self.valid_before is None or end < self.valid_before
