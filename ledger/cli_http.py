"""The few HTTP calls ``tdsl submit --url`` and ``tdsl receipt --url`` make to a ledger API.

Errors come back as RFC 9457 problem+json; ``RemoteError`` carries the status and the
problem's detail (or title) so the CLI can print one line.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ledger.errors import RemoteError
TIMEOUT = httpx.Timeout(30.0, connect=10.0)




def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:1000]
    return str(body)[:300]


def _call(method: str, url: str, *, token: str | None = None, json: Any = None) -> Any:  # noqa: A002
    try:
        response = httpx.request(method, url, headers=_headers(token), json=json, timeout=TIMEOUT)
    except httpx.HTTPError as e:
        raise RemoteError(f"cannot reach {url}: {e}") from e
    if response.is_error:
        raise RemoteError(f"{method} {url}: {response.status_code} {_problem(response)}")
    try:
        return response.json()
    except ValueError as e:
        raise RemoteError(f"{method} {url}: the answer is not JSON") from e


def get_log(base_url: str) -> dict[str, Any]:
    """``GET /v1/log``: the log's origin, chain id, contract, size, checkpoint."""
    info = _call("GET", f"{base_url}/v1/log")
    if not isinstance(info, dict):
        raise RemoteError(f"GET {base_url}/v1/log: expected a JSON object")
    return info


def post_record(base_url: str, submission: dict[str, Any], *, token: str | None) -> Any:
    """``POST /v1/records`` with one submission; returns the server's answer."""
    return _call("POST", f"{base_url}/v1/records", token=token, json=submission)


def get_receipt(base_url: str, record_id: str, *, token: str | None) -> Any:
    """``GET /v1/records/{id}/receipt``: the receipt JSON as the token may see it."""
    return _call("GET", f"{base_url}/v1/records/{quote(record_id, safe='')}/receipt", token=token)


def get_record(base_url: str, record_id: str, *, token: str | None) -> Any:
    """``GET /v1/records/{id}``: envelope, place, and the payload where the token may read it."""
    return _call("GET", f"{base_url}/v1/records/{quote(record_id, safe='')}", token=token)


def get_lineage(base_url: str, record_id: str, *, direction: str, depth: int, token: str | None) -> Any:
    """``GET /v1/records/{id}/lineage``: nodes and typed edges."""
    query = urlencode({"direction": direction, "depth": depth})
    return _call("GET", f"{base_url}/v1/records/{quote(record_id, safe='')}/lineage?{query}", token=token)


def disclose(base_url: str, record_id: str, grantees: list[str], *, token: str | None) -> Any:
    """``POST /v1/records/{id}/disclosures``."""
    return _call("POST", f"{base_url}/v1/records/{quote(record_id, safe='')}/disclosures", token=token,
                 json={"grantees": grantees})  # fmt: skip


def withdraw_disclosure(base_url: str, record_id: str, grantee: str, *, token: str | None) -> Any:
    """``DELETE /v1/records/{id}/disclosures/{grantee}``."""
    rid, who = quote(record_id, safe=""), quote(grantee, safe="")
    return _call("DELETE", f"{base_url}/v1/records/{rid}/disclosures/{who}", token=token)


def download_bundle(args, since, until, scope, out) -> int:
    """``GET /v1/audit/bundle``, streamed onto ``out``; returns the bytes written."""
    params = {"since": since.isoformat().replace("+00:00", "Z"),
              "until": "anchored" if until is None else until.isoformat().replace("+00:00", "Z")}  # fmt: skip
    params |= scope.to_json()
    if args.context_proofs:
        params["context_proofs"] = "true"
    url = f"{args.url.rstrip('/')}/v1/audit/bundle?{urlencode(params)}"
    written = 0
    try:
        with httpx.stream("GET", url, headers=_headers(args.token), timeout=httpx.Timeout(600.0, connect=10.0)) as r:
            if r.is_error:
                r.read()
                raise RemoteError(f"GET {url}: {r.status_code} {_problem(r)}")
            for chunk in r.iter_bytes():
                out.write(chunk)
                written += len(chunk)
    except httpx.HTTPError as e:
        raise RemoteError(f"cannot reach {url}: {e}") from e
    return written
