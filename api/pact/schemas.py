"""The CloudEvents that ``POST /pact/3/events`` takes, parsed strictly into typed values.

An event is a CloudEvents 1.0 event in structured mode (JSON), as the spec's ``BaseEvent``
and the four event schemas say: ``specversion`` ``"1.0"``, non-empty ``id`` and ``source``,
``time`` RFC 3339, ``type`` one of ``EventType``, ``data`` an object; CloudEvents' optional
``datacontenttype`` (JSON only), ``dataschema`` and ``subject``, and extension attributes
named as CloudEvents requires (lower-case ASCII letters and digits). ``data_base64`` is
refused: PACT's data is always an object.

``parse_event(obj)`` returns one of ``RequestCreated``, ``RequestFulfilled``,
``RequestRejected``, ``Published``, or raises ``MalformedInput`` naming the first bad
member: "event: data.pfIds[0]: expected a UUID, got 'urn:gtin:…'".

- RequestCreatedEvent: ``data`` holds the criteria of ``ListFootprints`` (arrays for
  productId, companyId, geography, classification; date-times validOn, validAfter,
  validBefore; status) and an optional ``comment``; at least one criterion, and no member
  the spec does not define (one we do not know could only widen the answer).
- PublishedEvent: ``data.pfIds``, a non-empty array of footprint UUIDs.
- RequestFulfilledEvent: ``data.requestEventId`` and ``data.pfs``, a non-empty array of v3
  ``ProductFootprint`` (``ledger.pact.parse_footprint``).
- RequestRejectedEvent: ``data.requestEventId`` and ``data.error``, a PACT ``Error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.pact.errors import PactCode
from api.pact.filters import FootprintFilter
from ledger.errors import InvalidRecord, MalformedInput
from ledger.pact import parse_footprint
from ledger.pact.formats import DateTime, Uri, Uuid, describe, parse_date_time

CE_MEDIA_TYPE = "application/cloudevents+json"
_EXTENSION_NAME = re.compile(r"[a-z0-9]{1,20}")


class EventType(StrEnum):
    REQUEST_CREATED = "org.wbcsd.pact.ProductFootprint.RequestCreatedEvent.3"
    REQUEST_FULFILLED = "org.wbcsd.pact.ProductFootprint.RequestFulfilledEvent.3"
    REQUEST_REJECTED = "org.wbcsd.pact.ProductFootprint.RequestRejectedEvent.3"
    PUBLISHED = "org.wbcsd.pact.ProductFootprint.PublishedEvent.3"


_Text = Annotated[str, Field(min_length=1, max_length=2048)]


class _Envelope(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: _Text
    source: _Text
    type: str
    time: DateTime
    data: dict[str, Any]
    datacontenttype: str | None = None
    dataschema: Uri | None = None
    subject: str | None = None


class _Data(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="allow")


_Values = Annotated[list[str], Field(max_length=100)]


class _Criteria(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    productId: _Values | None = None
    companyId: _Values | None = None
    geography: _Values | None = None
    classification: _Values | None = None
    validOn: DateTime | None = None
    validAfter: DateTime | None = None
    validBefore: DateTime | None = None
    status: str | None = None
    comment: str | None = None


class _Published(_Data):
    pfIds: Annotated[list[Uuid], Field(min_length=1, max_length=10_000)]


class _Fulfilled(_Data):
    requestEventId: _Text
    pfs: Annotated[list[dict[str, Any]], Field(min_length=1)]


class _Error(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="allow")
    code: Literal[tuple(c.value for c in PactCode)]  # type: ignore[valid-type]
    message: str


class _Rejected(_Data):
    requestEventId: _Text
    error: _Error


@dataclass(frozen=True, slots=True)
class Event:
    """The envelope of any of the four events."""

    type: EventType
    id: str
    source: str
    time: datetime


@dataclass(frozen=True, slots=True)
class RequestCreated(Event):
    criteria: FootprintFilter
    comment: str | None


@dataclass(frozen=True, slots=True)
class Published(Event):
    pf_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestFulfilled(Event):
    request_event_id: str
    pf_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestRejected(Event):
    request_event_id: str
    code: str
    message: str


PactEvent = RequestCreated | Published | RequestFulfilled | RequestRejected


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model(cls: type[BaseModel], value: Any, prefix: str) -> Any:
    try:
        return cls.model_validate(value, strict=True)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = _where((prefix, *first["loc"])) if prefix else _where(first["loc"])
        if first["type"] == "missing":
            what = "required, but missing"
        elif first["type"] == "extra_forbidden":
            what = "not a member this event takes"
        else:
            what = f"{first['msg']}, got {describe(first.get('input'))}"
        raise MalformedInput(f"event: {where or 'event'}: {what}") from None


def parse_event(obj: Any) -> PactEvent:
    """A decoded JSON body as one of the four PACT v3 events; ``MalformedInput`` if it is not."""
    if type(obj) is not dict:
        raise MalformedInput(f"event: expected a CloudEvents JSON object, got {describe(obj)}")
    if "data_base64" in obj:
        raise MalformedInput("event: data_base64: PACT events carry their data as a JSON object in data")
    env: _Envelope = _model(_Envelope, obj, "")
    for name in env.model_extra or {}:
        if _EXTENSION_NAME.fullmatch(name) is None:
            raise MalformedInput(f"event: {name[:40]!r} is not a CloudEvents attribute name (a-z, 0-9, at most 20)")
    if env.datacontenttype is not None and env.datacontenttype.split(";", 1)[0].strip().lower() != "application/json":
        raise MalformedInput(f"event: datacontenttype must be application/json, got {env.datacontenttype[:60]!r}")
    try:
        kind = EventType(env.type)
    except ValueError:
        raise MalformedInput(f"event: type {env.type[:100]!r} is not a PACT v3 event; expected one of "
                             f"{[t.value for t in EventType]}") from None  # fmt: skip
    base = {"type": kind, "id": env.id, "source": env.source, "time": parse_date_time(env.time)}
    if kind is EventType.REQUEST_CREATED:
        c: _Criteria = _model(_Criteria, env.data, "data")
        criteria = FootprintFilter.build(
            product_id=c.productId, company_id=c.companyId, geography=c.geography, classification=c.classification,
            valid_on=c.validOn, valid_after=c.validAfter, valid_before=c.validBefore, status=c.status,
        )  # fmt: skip
        if criteria.is_empty:
            raise MalformedInput("event: data: a RequestCreatedEvent needs at least one criterion (productId, …)")
        return RequestCreated(**base, criteria=criteria, comment=c.comment)
    if kind is EventType.PUBLISHED:
        p: _Published = _model(_Published, env.data, "data")
        return Published(**base, pf_ids=tuple(p.pfIds))
    if kind is EventType.REQUEST_FULFILLED:
        f: _Fulfilled = _model(_Fulfilled, env.data, "data")
        for i, pf in enumerate(f.pfs):
            if not str(pf.get("specVersion", "")).startswith("3."):
                raise MalformedInput(f"event: data.pfs[{i}].specVersion: expected a PACT 3.x footprint")
            try:
                parse_footprint(pf)
            except InvalidRecord as e:
                raise MalformedInput(f"event: data.pfs[{i}]: {e}") from None
        return RequestFulfilled(**base, request_event_id=f.requestEventId, pf_ids=tuple(str(pf["id"]) for pf in f.pfs))
    r: _Rejected = _model(_Rejected, env.data, "data")
    return RequestRejected(**base, request_event_id=r.requestEventId, code=r.error.code, message=r.error.message)
