"""Record kinds ("personalities"): one module per kind (DESIGN §8).

A kind fixes three things: the payload schema, which roles may author it, and its
admission check. Unknown kinds are refused. Kinds of later milestones (contracts,
access events, footprints, passports) register here the same way.
"""

from __future__ import annotations

from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind
from ledger.kinds.dataset import DATASET
from ledger.kinds.participant import PARTICIPANT, ROLES

KINDS: dict[str, Kind] = {k.name: k for k in (PARTICIPANT, DATASET)}


def get_kind(name: str) -> Kind:
    """The kind called ``name``; ``InvalidRecord`` if there is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidRecord(f"unknown record kind {name!r}; this ledger accepts {sorted(KINDS)}")
    return kind


__all__ = ["KINDS", "ROLES", "AdmissionContext", "Admitted", "Kind", "get_kind"]
