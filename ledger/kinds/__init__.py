"""Record kinds ("personalities"): one module per kind (DESIGN §8), one line each below.

A kind fixes its payload model, which roles may author it, its admission check and its
effects (index terms, typed edges, derived state); see ``ledger.kinds.base``. Unknown
kinds are refused.
"""

from __future__ import annotations

from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind, ParentRecord, PayloadUnavailable
from ledger.kinds.access_event import ACCESS_EVENT
from ledger.kinds.contract import CONTRACT_AGREEMENT, CONTRACT_OFFER, CONTRACT_REQUEST, CONTRACT_REVOCATION
from ledger.kinds.dataset import DATASET
from ledger.kinds.participant import PARTICIPANT, ROLES
from ledger.kinds.passport import PASSPORT, PASSPORT_REVOCATION
from ledger.kinds.pcf import PCF

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        PARTICIPANT,
        DATASET,
        PCF,
        CONTRACT_OFFER,
        CONTRACT_REQUEST,
        CONTRACT_AGREEMENT,
        CONTRACT_REVOCATION,
        ACCESS_EVENT,
        PASSPORT,
        PASSPORT_REVOCATION,
    )
}


def get_kind(name: str) -> Kind:
    """The kind called ``name``; ``InvalidRecord`` if there is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidRecord(f"unknown record kind {name!r}; this ledger accepts {sorted(KINDS)}")
    return kind


__all__ = ["KINDS", "ROLES", "AdmissionContext", "Admitted", "Kind", "ParentRecord", "PayloadUnavailable", "get_kind"]
