"""``tdsl verify`` of a passport: a ``vc+jwt`` file or a GS1 Digital Link URL (DESIGN §12).

- **A Digital Link URL** (``https://…/01/<GTIN>/21/<serial>``): the resolver's linkset
  names the receipt and the credential; the receipt is checked offline as for
  ``tdsl verify RECEIPT`` (against ``--identity``, anchors with ``--rpc``/``--chain-db``),
  it must be a ``passport`` whose payload it carries (passports are public), and the
  served ``vc+jwt`` must be that payload's. Then the credential as for a ``vc+jwt`` file.
- **A vc+jwt file**: the issuer's did:web is resolved (``did:web:host:participants:0x…`` →
  ``https://host/participants/0x…/did.json``; plain ``http`` only for ``localhost`` and
  ``127.0.0.1``, for local ledgers), or read from ``--did-document FILE``; the JWS must
  verify with its key (``ledger.vcjose``: ES256K, ``typ`` vc+jwt, ``kid`` the DID's key)
  and that key's address must be the DID's; then the credential's status list
  (``credentialStatus``) is fetched and its bit must be clear: a revoked passport is
  reported ``invalid: revoked``. Without ``--no-status`` the status check needs the
  network; ``--no-status`` skips it and says so.

Exit codes as for receipts: 0 valid, 1 invalid (with the reason), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ledger import status_list, vcjose
from ledger.canonical import parse_json
from ledger.errors import VerificationError

TIMEOUT = 15.0


def _get(url: str, accept: str) -> bytes:
    import httpx

    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")):
        raise VerificationError(f"refusing {url}: https only (plain http for localhost)")
    try:
        r = httpx.get(url, headers={"Accept": accept}, timeout=TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as e:
        raise VerificationError(f"cannot fetch {url}: {e}") from None
    if r.status_code != 200:
        raise VerificationError(f"{url} answered {r.status_code}")
    return r.content


def _json(url: str, accept: str) -> Any:
    return parse_json(_get(url, accept))


def resolve_did_url(did: str) -> str:
    """did:web's rule (``vcjose.did_web_url``: https), with plain http for a local host."""
    url = vcjose.did_web_url(did)
    if urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1"):
        url = "http://" + url.removeprefix("https://")
    return url


def _did_key(did: str, did_document: Path | None) -> bytes:
    if did_document is not None:
        doc = parse_json(did_document.read_bytes())
    else:
        doc = _json(resolve_did_url(did), "application/did+json")
    if not isinstance(doc, dict) or doc.get("id") != did:
        raise VerificationError(f"the DID document is not {did}'s")
    kid = vcjose.key_id(did)
    methods = [m for m in doc.get("verificationMethod", []) if isinstance(m, dict) and m.get("id") == kid]
    if len(methods) != 1 or kid not in doc.get("assertionMethod", []):
        raise VerificationError(f"the DID document has no assertion key {kid}")
    key = vcjose.public_key_of_jwk(methods[0].get("publicKeyJwk") or {})
    if vcjose.address_of_public_key(key) != vcjose.address_of_did(did):
        raise VerificationError(f"the key in {did}'s document is not the DID's address")
    return key


def _status(credential: dict[str, Any]) -> str:
    entry = status_list.parse_status_entry(credential.get("credentialStatus"))
    listed = _json(entry.list_url, "application/vc+ld+json")
    subject = listed.get("credentialSubject") if isinstance(listed, dict) else None
    if not isinstance(subject, dict) or subject.get("statusPurpose") != entry.purpose:
        raise VerificationError(f"{entry.list_url} is not a {entry.purpose} status list")
    revoked = status_list.is_set(status_list.decode_list(subject.get("encodedList", "")), entry.index)
    if revoked:
        raise VerificationError(f"revoked: bit {entry.index} of {entry.list_url} is set")
    return f"not revoked (bit {entry.index} of {entry.list_url} is clear)"


def check_jwt(token: str, *, did_document: Path | None, check_status: bool) -> tuple[dict[str, Any], str]:
    """The credential a valid token secures, and its status line; VerificationError otherwise."""
    header = vcjose.parse_compact(token).header
    kid = header.get("kid")
    if not isinstance(kid, str) or "#" not in kid:
        raise VerificationError("the token's kid is not a DID URL")
    did = kid.split("#", 1)[0]
    if vcjose.address_of_did(did) is None:
        raise VerificationError(f"the issuer {did!r} is not a participant did:web")
    verified = vcjose.verify_vc_jwt(token, _did_key(did, did_document), kid=kid)
    issuer = verified.credential.get("issuer")
    if (issuer.get("id") if isinstance(issuer, dict) else issuer) != did:
        raise VerificationError(f"the credential's issuer is not the signer {did}")
    status = _status(verified.credential) if check_status else "status not checked (--no-status)"
    return verified.credential, status


def _receipt_of(url: str, args: argparse.Namespace, check_receipt_file) -> tuple[str, str]:
    """Check the passport's receipt from the resolver's linkset; (its vc_jwt, the receipt's result line)."""
    base = url.split("?", 1)[0]
    linkset = _json(f"{base}?linkType=all", "application/linkset+json")["linkset"][0]
    receipt_url = linkset["describedby"][0]["href"]
    data = _get(receipt_url, "application/json")
    tmp = Path(args.tmpdir) / "passport-receipt.json"
    tmp.write_bytes(data)
    line = check_receipt_file(tmp)
    receipt = json.loads(data)
    if receipt["entry"].get("kind") != "passport" or not isinstance(receipt.get("payload"), dict):
        raise VerificationError("the receipt is not of a passport with its payload")
    return receipt["payload"]["vc_jwt"], line


def cmd_verify_passport(args: argparse.Namespace, target: str, check_receipt_file) -> int:
    """``check_receipt_file(path) -> str`` checks a receipt as ``tdsl verify`` does (raising)."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmpdir:
            args.tmpdir = tmpdir
            lines = []
            if target.startswith(("https://", "http://")):
                stored, line = _receipt_of(target, args, check_receipt_file)
                token = _get(target.split("?", 1)[0] + "?linkType=untp:dpp", "application/vc+jwt").decode().strip()
                if token != stored:
                    raise VerificationError("the resolver serves a vc+jwt other than the one the log holds")
                lines.append(line)
            else:
                try:
                    token = Path(target).read_text(encoding="ascii").strip()
                except (OSError, UnicodeDecodeError) as e:
                    raise VerificationError(f"cannot read {target}: {e}") from None
            credential, status = check_jwt(token, did_document=args.did_document, check_status=not args.no_status)
    except Exception as e:  # noqa: BLE001 — a verifier fails closed: any error is "invalid"
        print(f"invalid: {str(e) or type(e).__name__}", file=sys.stderr)
        return 1
    subject = credential.get("credentialSubject", {})
    product = subject.get("product", {}) if isinstance(subject, dict) else {}
    for line in lines:
        print(line, flush=True)
    print(f"valid: passport {credential.get('id')} for {product.get('id')} signed by {vcjose.address_of_did(kid_did(token))}; "
          f"{status}", flush=True)  # fmt: skip
    return 0


def kid_did(token: str) -> str:
    return str(vcjose.parse_compact(token).header.get("kid", "")).split("#", 1)[0]
