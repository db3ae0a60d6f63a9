"""What every record kind provides, and what admission hands it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ledger.errors import InvalidRecord
from ledger.store.values import ParticipantInfo, StoredEntry


@dataclass(frozen=True, slots=True)
class AdmissionContext:
    """What a kind may look at when admitting a record."""

    operator: str  # the log operator's address
    author: str
    parents: tuple[StoredEntry, ...]  # the parent entries, in the order the envelope lists them


@dataclass(frozen=True, slots=True)
class Admitted:
    """The effect of admitting a record besides appending it."""

    registers: ParticipantInfo | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    roles: frozenset[str]  # roles allowed to author it (the operator may always author)
    schema: type[BaseModel]
    default_visibility: str  # "public" or "private"
    check: Callable[[BaseModel, AdmissionContext], Admitted]

    def admit(self, payload: Any, ctx: AdmissionContext) -> Admitted:
        """Validate ``payload`` against the schema, then run the kind's admission check."""
        try:
            model = self.schema.model_validate(payload, strict=True)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise InvalidRecord(f"{self.name} payload: {where}: {first['msg']}") from None
        return self.check(model, ctx)
