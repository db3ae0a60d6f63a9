"""``participant``: the operator registers an address with a legal identity and roles.

Only the log operator may author it. Registering an address again replaces its name,
identifier and roles (an empty role list deactivates it); the newest registration wins.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger import formats
from ledger.eip712 import to_checksum_address
from ledger.errors import InvalidRecord
from ledger.kinds.base import AdmissionContext, Admitted, Kind
from ledger.store.values import ParticipantInfo

#: Roles a participant can hold. ``regulator`` may read every payload; ``operator`` runs the log.
ROLES = frozenset({"operator", "regulator", "provider", "consumer", "producer", "exporter"})

_ADDRESS = formats.ADDRESS


class LegalId(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scheme: Literal["LEI", "USCC", "EORI", "DUNS", "VAT", "GLN", "OTHER"]
    value: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9 ._/:-]+$")


class ParticipantPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(pattern=f"^{_ADDRESS.pattern}$")  # pydantic's regex: $ is the very end
    name: str = Field(min_length=1, max_length=200)
    legal_id: LegalId
    roles: list[str] = Field(max_length=len(ROLES))


def _check(p: ParticipantPayload, ctx: AdmissionContext) -> Admitted:
    if ctx.author != ctx.operator:
        raise InvalidRecord("participant records must be authored by the log operator")
    unknown = set(p.roles) - ROLES
    if unknown or len(set(p.roles)) != len(p.roles):
        raise InvalidRecord(f"participant roles must be distinct values of {sorted(ROLES)}, got {p.roles}")
    address = to_checksum_address(p.address)
    if address != p.address:
        raise InvalidRecord(f"participant address must be EIP-55 checksummed: {address}")
    if "operator" in p.roles and address != ctx.operator:
        raise InvalidRecord("only the log operator's own address can hold the operator role")
    legal = f"{p.legal_id.scheme}:{p.legal_id.value}"
    return Admitted(registers=ParticipantInfo(address, p.name, legal, frozenset(p.roles)))


PARTICIPANT = Kind(
    name="participant",
    roles=frozenset(),
    schema=ParticipantPayload,
    default_visibility="public",
    check=_check,
)
