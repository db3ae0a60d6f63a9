"""Participants (the public directory) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CallerDep, JSONBody, LedgerDep, OperatorDep
from api.schemas import (
    TOKEN_REQUEST_SCHEMA,
    TOKEN_REVOKE_SCHEMA,
    LegalIdOut,
    ParticipantOut,
    TokenOut,
    json_body_doc,
    token_request_from_json,
    token_revoke_from_json,
)

router = APIRouter(tags=["participants"])


@router.get("/participants")
def list_participants(ledger: LedgerDep) -> list[ParticipantOut]:
    """Every registered participant, in registration order; an empty role list is deactivated."""
    out = []
    for p in ledger.participants():
        scheme, _, value = p.legal_id.partition(":")
        out.append(
            ParticipantOut(
                address=p.address, name=p.name, legal_id=LegalIdOut(scheme=scheme, value=value), roles=sorted(p.roles)
            )
        )
    return out


@router.post("/tokens", status_code=201, openapi_extra=json_body_doc(TOKEN_REQUEST_SCHEMA), tags=["tokens"])
def issue_token(ledger: LedgerDep, _operator: OperatorDep, body: JSONBody) -> TokenOut:
    """A new API token for a registered participant (operator only). Shown once."""
    address, label = token_request_from_json(body)
    return TokenOut(token=ledger.issue_token(address, label), address=address, label=label)


@router.delete("/tokens", status_code=204, openapi_extra=json_body_doc(TOKEN_REVOKE_SCHEMA), tags=["tokens"])
def revoke_token(ledger: LedgerDep, caller: CallerDep, body: JSONBody) -> Response:
    """Revoke a token: the operator any, a participant its own."""
    ledger.revoke_token(token_revoke_from_json(body), caller)
    return Response(status_code=204)
