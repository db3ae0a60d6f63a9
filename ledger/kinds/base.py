"""What every record kind provides, and what admission hands it (DESIGN §8).

A kind is data plus pure functions: ``parse`` turns a payload into the kind's typed model
(strict; ``InvalidRecord`` naming the field), ``references`` names the record ids beyond
the envelope's parents that admission needs to see (a footprint's ``precedingPfIds``),
and ``check`` decides admission from the model and an ``AdmissionContext`` and returns
the record's effects (``Admitted``). No kind does I/O or knows the store or the API: the
ledger resolves parents and references, and writes the effects with the entry.

The same ``check`` runs at admission (``ledger.log``) and when the audit replays the log
(``ledger.derive``), so derived state is one function of the log prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ledger.effects import DerivedState, Edge, StateChange, Term
from ledger.errors import InvalidRecord
from ledger.store.values import ParticipantInfo

M = TypeVar("M")


class PayloadUnavailable(InvalidRecord):
    """Admission needs a parent's payload that the ledger cannot hand it.

    ``reason`` is ``"erased"`` (crypto-shredded) or ``"not disclosed"`` (the author of the
    new record may not read it). The audit's replay reports the first as unverifiable
    rather than as a finding.
    """

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParentRecord:
    """An earlier record as admission sees it: its place, its envelope's fields, its typed
    payload (``model``, parsed by its own kind) where the ledger holds it and the author
    may read it, and its derived state."""

    leaf_index: int | None  # None: earlier in the same batch, not appended yet
    leaf_hash: bytes
    record_id: str
    kind: str
    author: str
    issued_at: str
    model: Any | None
    unreadable: str = ""  # why ``model`` is None: "erased", "not disclosed"
    state: DerivedState | None = None
    visibility: str = "private"

    @property
    def where(self) -> str:
        at = "earlier in this batch" if self.leaf_index is None else f"leaf {self.leaf_index}"
        return f"{self.kind} {self.record_id!r} ({at})"


@dataclass(frozen=True, slots=True)
class AdmissionContext:
    """What a kind may look at when admitting a record."""

    operator: str  # the log operator's address
    author: str
    record_id: str
    issued_at: str
    parents: tuple[ParentRecord, ...]  # in the order the envelope lists them
    referenced: Mapping[str, ParentRecord] = field(default_factory=dict)  # by record id, as ``references`` asked

    def parent(self, i: int, as_: type[M]) -> M:
        """Parent ``i``'s typed payload, which must be an ``as_``; else ``InvalidRecord``."""
        p = self.parents[i]
        return payload_as(p, as_, f"parent {i}")


def payload_as(p: ParentRecord, as_: type[M], what: str) -> M:
    """``p``'s typed payload as an ``as_``; ``PayloadUnavailable`` or ``InvalidRecord`` otherwise."""
    if p.model is None:
        raise PayloadUnavailable(
            f"{what} ({p.where}): the ledger cannot read its payload ({p.unreadable or 'not held'})",
            reason=p.unreadable or "not held",
        )
    if not isinstance(p.model, as_):
        raise InvalidRecord(f"{what} ({p.where}) is not a {getattr(as_, '__name__', as_)}")
    return p.model


@dataclass(frozen=True, slots=True)
class Admitted:
    """The effects of admitting a record besides appending it (``ledger.effects``)."""

    terms: tuple[Term, ...] = ()
    edges: tuple[Edge, ...] = ()  # the ledger adds ``derives_from`` for any parent without one
    state: DerivedState | None = None  # the record's own initial derived state
    changes: tuple[StateChange, ...] = ()  # derived state it sets on earlier records
    registers: ParticipantInfo | None = None  # a participant registration
    #: Addresses that may read the record's payload from its admission on (the other
    #: party of a contract), as if its author had disclosed it to them.
    discloses: tuple[str, ...] = ()


def _no_references(_model: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    roles: frozenset[str]  # roles allowed to author it (the operator may always author)
    schema: type[BaseModel]
    default_visibility: str  # "public" or "private"
    check: Callable[[Any, AdmissionContext], Admitted]
    references: Callable[[Any], tuple[str, ...]] = _no_references
    #: Whether a *public* record's payload is public too (a published footprint) or stays
    #: with its author, the operator, regulators and those it is disclosed to.
    public_payload: bool = False
    #: Parses a payload into the kind's model; default: ``schema`` validated strictly.
    parser: Callable[[Any], Any] | None = None

    def parse(self, payload: Any) -> Any:
        """The payload as the kind's typed model; ``InvalidRecord`` naming the first bad field."""
        if self.parser is not None:
            return self.parser(payload)
        try:
            return self.schema.model_validate(payload, strict=True)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise InvalidRecord(f"{self.name} payload: {where}: {first['msg']}") from None

    def admit(self, payload: Any, ctx: AdmissionContext) -> Admitted:
        """Parse ``payload``, then run the kind's admission check."""
        return self.check(self.parse(payload), ctx)
