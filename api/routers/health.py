"""Health: 200 while the log can take records and the sealer is not halted, else 503."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import LedgerDep
from api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", responses={503: {"model": HealthOut, "description": "the sealer halted"}})
def health(request: Request, ledger: LedgerDep) -> JSONResponse:
    """Liveness of the database and the sealer."""
    sealer = request.app.state.sealer
    last = ledger.checkpoint_or_none()
    out = HealthOut(
        status="ok" if sealer.healthy else "unhealthy",
        sealer=sealer.state,
        detail=sealer.detail,
        tree_size=ledger.tree_size(),
        checkpoint_size=None if last is None else last.tree_size,
    )
    return JSONResponse(out.model_dump(), status_code=200 if sealer.healthy else 503)
