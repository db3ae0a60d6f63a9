"""The wire formats of a PACT footprint: one place for every pattern, all matched whole.

Each format is an ``Annotated[str, …]`` type that takes only a JSON string (a number, a
boolean or null is refused, never converted) and checks it with ``re.fullmatch`` on ASCII
classes, so a trailing newline or a non-ASCII digit never passes. A refusal is a pydantic
error whose message reads "expected <format>, got <what came>".

Where the official schema's pattern does not say what its description means, the format
follows the meaning and the test suite lists the difference (``tests/test_pact_models.py``):

- ``PositiveNonZeroDecimal`` and ``NegativeOrZeroDecimal``: the published patterns put
  ``^`` and ``$`` inside an alternation, so any text that begins with a positive decimal
  (``"1x"``, ``"1.5.0"``, ``"1e3"``) passes as positive, and any that begins with a negative
  one or ends in ``0`` (``"-1x"``, ``"10"``) as negative-or-zero. Here the whole string must
  be the decimal.
- ``Urn``: the schema's pattern only checks the ``urn:`` prefix; its ``format: urn`` means
  RFC 8141, which is what is checked here (``urn:<NID>:<NSS>``).
- v2 decimals have ``format: decimal`` and no pattern; they are checked as v3's ``Decimal``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "Country",
    "CountrySubdivision",
    "DateTime",
    "DecimalString",
    "IpccAssessmentReport",
    "NonEmptyString",
    "NegativeOrZeroDecimal",
    "PositiveNonZeroDecimal",
    "PositiveOrZeroDecimal",
    "SpecVersion",
    "Uri",
    "Urn",
    "Uuid",
    "as_decimal",
    "describe",
    "parse_date_time",
]

# -- patterns (whole-string, ASCII) -------------------------------------------------

_DIGITS = r"[0-9]+"
DECIMAL = re.compile(rf"[+-]?{_DIGITS}(?:\.{_DIGITS})?")
POSITIVE_OR_ZERO = re.compile(rf"\+?{_DIGITS}(?:\.{_DIGITS})?")
POSITIVE_NON_ZERO = re.compile(r"\+?(?:[0-9]*[1-9][0-9]*(?:\.[0-9]+)?|0+\.[0-9]*[1-9][0-9]*)")
NEGATIVE_OR_ZERO = re.compile(rf"-{_DIGITS}(?:\.{_DIGITS})?|0+(?:\.0+)?")
SPEC_VERSION = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9]{8})?")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
COUNTRY = re.compile(r"[A-Z]{2}")
COUNTRY_SUBDIVISION = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
IPCC_AR = re.compile(r"AR[0-9]+")

# RFC 3986 §3 ``URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]``.
_UNRESERVED_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
# IP-literal: brackets around hex, colons and dots (IPv6 is not checked digit by digit).
_IP_LITERAL = r"\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
_AUTHORITY = rf"(?:(?:[{_UNRESERVED_SUB}:]|{_PCT})*@)?(?:{_IP_LITERAL}|(?:[{_UNRESERVED_SUB}]|{_PCT})*)(?::[0-9]*)?"
URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:"
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
# RFC 8141 §2 ``namestring = assigned-name [ rq-components ] [ "#" f-component ]``.
URN = re.compile(
    rf"[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{{0,30}}[A-Za-z0-9]:{_PCHAR}(?:{_PCHAR}|/)*"
    rf"(?:\?\+{_PCHAR}(?:{_PCHAR}|[/?])*)?(?:\?={_PCHAR}(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


def describe(value: object) -> str:
    """What a JSON value is, for "expected X, got Y" messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:60] + "…"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _string_format(expected: str, check: Callable[[str], bool]) -> PlainValidator:
    def validate(value: object) -> str:
        if type(value) is not str or not check(value):
            raise PydanticCustomError(
                "pact_format", "expected {expected}, got {got}", {"expected": expected, "got": describe(value)}
            )
        return value

    return PlainValidator(validate)


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.fullmatch(text) is not None


def parse_date_time(text: str) -> datetime:
    """An RFC 3339 ``date-time`` (``Z`` or ``±hh:mm``) as an aware datetime.

    The fraction is truncated to microseconds. A leap second (``:60``) and year 0000 are
    refused (Python's datetime has neither), as is a day the month does not have. Raises
    ValueError.
    """
    m = DATE_TIME.fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if m.group(8):
        off_h, off_m = int(m.group(9)), int(m.group(10))
        if off_h > 23 or off_m > 59:
            raise ValueError(f"offset out of range: {text!r}")
        offset = (1 if m.group(8) == "+" else -1) * timedelta(hours=off_h, minutes=off_m)
    # datetime() refuses month 13, 30 February, hour 24, second 60, year 0 (ValueError).
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))


def _is_date_time(text: str) -> bool:
    try:
        parse_date_time(text)
    except ValueError:
        return False
    return True


def as_decimal(text: str) -> Decimal:
    """The exact value of a decimal string this module accepted (``"+1.50"`` → ``Decimal("1.50")``)."""
    if DECIMAL.fullmatch(text) is None:
        raise ValueError(f"not a decimal string: {text!r}")
    return Decimal(text)


# -- the types ------------------------------------------------------------------------

#: v3 ``Decimal`` (and every v2 ``format: decimal``): ``[+-]?digits[.digits]``.
DecimalString = Annotated[str, _string_format('a decimal string like "-1.25"', _matches(DECIMAL))]
PositiveOrZeroDecimal = Annotated[str, _string_format("a decimal string >= 0", _matches(POSITIVE_OR_ZERO))]
PositiveNonZeroDecimal = Annotated[str, _string_format("a decimal string > 0", _matches(POSITIVE_NON_ZERO))]
NegativeOrZeroDecimal = Annotated[str, _string_format("a decimal string <= 0", _matches(NEGATIVE_OR_ZERO))]
SpecVersion = Annotated[str, _string_format('a version like "3.0.0"', _matches(SPEC_VERSION))]
Uuid = Annotated[str, _string_format("a UUID string", _matches(UUID))]
DateTime = Annotated[
    str, _string_format('an RFC 3339 date-time like "2024-01-31T00:00:00Z"', _is_date_time)
]
Uri = Annotated[str, _string_format("an absolute URI (RFC 3986)", _matches(URI))]
Urn = Annotated[str, _string_format('a URN like "urn:gtin:4712345060507" (RFC 8141)', _matches(URN))]
Country = Annotated[str, _string_format('an ISO 3166-1 alpha-2 code like "DE"', _matches(COUNTRY))]
CountrySubdivision = Annotated[
    str, _string_format('an ISO 3166-2 code like "DE-BW"', _matches(COUNTRY_SUBDIVISION))
]
IpccAssessmentReport = Annotated[str, _string_format('an IPCC report like "AR6"', _matches(IPCC_AR))]
NonEmptyString = Annotated[str, _string_format("a non-empty string", bool)]
