"""The words of the UNTP DPP and W3C VC 2.0 JSON Schemas as pydantic types: one place for
every format of ``ledger.untp_models``, each matched whole (``fullmatch``) on ASCII classes,
so a trailing newline or a non-ASCII digit never passes.

How the schemas' words are read:

- ``type: string`` / ``number`` / ``boolean`` / ``object`` / ``array``: a JSON value of that
  type, never converted (``"1"`` is not a number, ``true`` is not a number, ``null`` is
  nothing: an absent property is left out). A ``number`` is an ``int`` or a finite
  ``float`` (a non-finite one is not JSON).
- ``additionalProperties``: ``false`` → ``Closed`` (``extra="forbid"``); ``true`` or
  unstated → ``Open`` (``extra="allow"``: kept in ``model_extra``, not checked).
- UNTP ``type`` arrays (``items: string`` with ``allOf: [{contains: {const: X}}]``): an
  array of strings that includes each X (``Types``). Their ``minContains: 1`` sits inside
  ``contains``, where it constrains nothing (JSON Schema reads it only beside ``contains``).
- ``format``: ``uri`` is RFC 3986 ``URI`` (absolute, a fragment allowed; ``Uri``);
  ``date`` is RFC 3339 ``full-date``; ``date-time`` (only ``validFrom``/``validUntil``,
  which also carry a ``pattern``) is what both the pattern and RFC 3339 take: upper-case
  ``T`` and ``Z``, hours 00–23, an offset up to ±14:00 (the pattern's bound), a real
  calendar day, year 0001–9999. ``float``, ``binary`` and ``x-external-enumeration``
  assert nothing.
- ``readOnly``, ``default``, ``example``, ``description`` are annotations.
- VC 2.0's ``oneOf: [X, {type: array, items: X, minItems: 1}]``: ``one_or_many(X)``; its
  ``$defs/type`` (a string or a non-empty array): ``VcType``.

Refusals are pydantic errors whose message reads "expected <format>, got <what came>".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Union, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, PlainValidator, Tag, field_validator
from pydantic_core import PydanticCustomError

from ledger import formats
from ledger.pact.formats import describe

# RFC 3986 appendix A.
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_H16 = r"[0-9A-Fa-f]{1,4}"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_LS32 = rf"(?:{_H16}:{_H16}|{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}})"
_IPV6 = "|".join(
    [
        rf"(?:{_H16}:){{6}}{_LS32}",
        rf"::(?:{_H16}:){{5}}{_LS32}",
        rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
        rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
        rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
        rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
    ]
)
_IP_LITERAL = rf"\[(?:{_IPV6}|[vV][0-9A-Fa-f]+\.[{_UNRESERVED_SUB}:]+)\]"
_AUTHORITY = rf"(?:(?:[{_UNRESERVED_SUB}:]|{_PCT})*@)?(?:{_IP_LITERAL}|(?:[{_UNRESERVED_SUB}]|{_PCT})*)(?::[0-9]*)?"
#: RFC 3986 ``URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]``.
URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:"
    rf"(?://{_AUTHORITY}(?:/{_PCHAR}*)*|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
#: ``validFrom``/``validUntil``: the schemas' pattern and RFC 3339 ``date-time`` together.
DATE_TIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])"
    r"(?:\.([0-9]+))?(?:Z|([+-])(?:(0[0-9]|1[0-3]):([0-5][0-9])|(14):(00)))"
)
#: RFC 3339 ``full-date``.
DATE = formats.DATE  # YYYY-MM-DD (groups: year, month, day)


def parse_date_time(text: str) -> datetime:
    """A ``validFrom``-style date-time as an aware datetime (fraction truncated to
    microseconds). Raises ValueError for anything ``DateTime`` refuses."""
    m = DATE_TIME.fullmatch(text)
    if m is None:
        raise ValueError(f"not a date-time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if m.group(8):
        off_h, off_m = (m.group(9), m.group(10)) if m.group(9) else (m.group(11), m.group(12))
        offset = (1 if m.group(8) == "+" else -1) * timedelta(hours=int(off_h), minutes=int(off_m))
    # datetime() refuses year 0 and a day the month does not have (ValueError).
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))


def parse_date(text: str) -> date:
    """An RFC 3339 ``full-date``; ValueError for anything ``Date`` refuses."""
    m = DATE.fullmatch(text)
    if m is None:
        raise ValueError(f"not a date: {text!r}")
    return date(*(int(g) for g in m.groups()))


def _parses(parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return True

    return check


def string_format(expected: str, check: Callable[[str], bool] = lambda _: True) -> PlainValidator:
    def validate(value: object) -> str:
        if type(value) is not str or not check(value):
            raise PydanticCustomError(
                "untp_format", "expected {expected}, got {got}", {"expected": expected, "got": describe(value)}
            )
        return value

    return PlainValidator(validate)


def _number(value: object) -> int | float:
    if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
        raise PydanticCustomError("untp_number", "expected a JSON number, got {got}", {"got": describe(value)})
    return value  # type: ignore[return-value]


Text = Annotated[str, string_format("a string")]
NonEmptyText = Annotated[str, string_format("a non-empty string", bool)]
Uri = Annotated[str, string_format("an absolute URI (RFC 3986)", lambda s: URI.fullmatch(s) is not None)]
Date = Annotated[str, string_format('a date like "2024-03-15" (RFC 3339 full-date)', _parses(parse_date))]
DateTime = Annotated[
    str,
    string_format('a date-time like "2024-03-15T12:00:00Z" (RFC 3339, offset within ±14:00)', _parses(parse_date_time)),
]
Number = Annotated[int | float, PlainValidator(_number)]


def _types_including(*required: str) -> Any:
    def check(items: list[str]) -> list[str]:
        missing = [t for t in required if t not in items]
        if missing:
            raise PydanticCustomError(
                "untp_types",
                "expected an array of strings that includes {missing}, got {got}",
                {"missing": " and ".join(repr(t) for t in missing), "got": json.dumps(items)[:120]},
            )
        return items

    return Annotated[list[Text], AfterValidator(check)]


class Types:
    """``Types[Literal["Claim", "Declaration"]]``: a UNTP ``type`` array, strings that
    include each of the names."""

    def __class_getitem__(cls, names: Any) -> Any:
        return _types_including(*get_args(names))


#: Union tags: ``ledger.untp`` leaves them out of the paths it reports.
OBJECT, ARRAY, STRING = "<object>", "<array>", "<string>"


def one_or_many(model: Any) -> Any:
    """VC 2.0's ``oneOf: [X, {type: array, items: X, minItems: 1}]``."""
    return Annotated[
        Union[Annotated[model, Tag(OBJECT)], Annotated[list[model], Field(min_length=1), Tag(ARRAY)]],
        Discriminator(lambda v: ARRAY if isinstance(v, list) else OBJECT),
    ]


def _vc_type(value: object) -> object:
    if type(value) is str or (type(value) is list and value):
        return value
    raise PydanticCustomError(
        "untp_vc_type", "expected a type name or a non-empty array of them, got {got}", {"got": describe(value)}
    )


#: VC 2.0 ``$defs/type``: a string, or a non-empty array (of anything).
VcType = Annotated[Any, PlainValidator(_vc_type)]

# -- bases ----------------------------------------------------------------------------


class Open(BaseModel):
    """An object whose schema admits other properties (kept in ``model_extra``)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("untp_null", "expected a value, got null (an absent value is left out)")
        return value


class Closed(Open):
    """An object with ``additionalProperties: false``."""

    model_config = ConfigDict(extra="forbid")
