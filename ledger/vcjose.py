"""Passports as VC-JOSE (DESIGN §12): compact JWS over a W3C VC 2.0, and did:web keys.

Per W3C "Securing Verifiable Credentials using JOSE and COSE" the credential itself is the
JWT claims set (no JWT-VC 1.1 ``vc``/``vp`` claims); our protected header is exactly
``{"alg":"ES256K","kid":"<DID>#key-1","typ":"vc+jwt","cty":"vc"}``; ES256K is RFC 8812
ECDSA secp256k1 + SHA-256 with a 64-byte ``r ‖ s`` signature (not DER, no recovery byte).
joserfc signs and verifies; this module shapes keys, headers and claims around it.

- Low s: ``sign_vc_jwt`` emits s <= n/2, since libsecp256k1 and noble-secp256k1 verify
  only low s by default and OpenSSL (under joserfc) signs either; (r, n-s) is valid iff
  (r, s) is. ``verify_vc_jwt`` accepts both, as RFC 8812 and joserfc do: other issuers'
  tools emit high s half the time, and the token is pinned by the author's signed record.
- Nonces are random (OpenSSL): tokens differ between signings, payload bytes do not
  (``canonicalize(credential)``). base64url must be canonical and unpadded; header and
  payload are strict JSON (``parse_json``: no duplicate keys), so parsers cannot disagree.
- No clock: ``validFrom``/``validUntil`` are the caller's policy. did:web hosts are
  lower-cased; a participant DID names its address in EIP-55 form only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import coincurve
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey

from ledger import formats
from ledger.canonical import canonicalize, parse_json
from ledger.eip712 import keccak256, to_checksum_address
from ledger.errors import InvalidRecord, InvalidSignature, MalformedInput, PayloadTooLarge

__all__ = [
    "DID_CONTEXT", "ES256K", "MAX_HEADER_LENGTH", "MAX_PAYLOAD_LENGTH", "VC_CTY", "VC_TYP", "CompactJWS",
    "VerifiedCredential", "address_of_did", "address_of_public_key", "check_claims", "check_header",
    "credential_matches", "did_document", "did_web", "did_web_url", "jwk_of_public_key", "key_id",
    "parse_compact", "public_key_of_jwk", "sign_vc_jwt", "verify_vc_jwt",
]  # fmt: skip

ES256K = "ES256K"
VC_TYP = "vc+jwt"
VC_CTY = "vc"
#: DID Core 1.0's context plus the one defining the ``JsonWebKey`` type, which DID Core 1.0
#: predates: the pair deployed did:web issuers publish (GOV.UK One Login, swiyu).
DID_CONTEXT = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1")
#: Longest base64url header / payload segment accepted: joserfc's payload default, and a
#: header limit that fits any did:web kid (joserfc's default 512 does not).
MAX_HEADER_LENGTH = 1024
MAX_PAYLOAD_LENGTH = 128_000
_REGISTRY = jws.JWSRegistry(algorithms=[ES256K])  # ES256K only: joserfc never picks another alg
_REGISTRY.max_header_length = MAX_HEADER_LENGTH
_HEADER_MEMBERS = frozenset({"alg", "kid", "typ", "cty"})
_VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_B64URL = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}(?::[0-9]{{1,5}})?", re.ASCII)
_PATH_SEGMENT = re.compile(r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})+", re.ASCII)
_ADDRESS = formats.ADDRESS


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Canonical unpadded base64url → bytes; MalformedInput naming ``what`` otherwise."""
    if _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise MalformedInput(f"{what}: expected unpadded base64url, got {text[:40]!r}")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise MalformedInput(f"{what}: non-canonical base64url (stray trailing bits)")
    return data


# -- did:web ---------------------------------------------------------------------------


def did_web(host: str, address: str) -> str:
    """``did:web:<host>:participants:<EIP-55 address>``; host[:port] lower-cased, ':' → %3A."""
    host = host.lower()
    if _HOST.fullmatch(host) is None:
        raise MalformedInput(f"did:web host: expected a DNS name with optional :port, got {host[:80]!r}")
    return f"did:web:{host.replace(':', '%3A')}:participants:{to_checksum_address(address)}"


def _did_web_parts(did: str) -> tuple[str, list[str]]:
    """``did:web:`` DID → (host[:port], path segments); MalformedInput otherwise."""
    if not isinstance(did, str) or not did.startswith("did:web:"):
        raise MalformedInput(f"did: expected a did:web DID, got {str(did)[:80]!r}")
    host, *path = did[len("did:web:") :].split(":")
    host = unquote(host)
    if _HOST.fullmatch(host) is None:
        raise MalformedInput(f"did:web host: expected a lower-case DNS name[:port], got {host[:80]!r}")
    if not all(_PATH_SEGMENT.fullmatch(segment) for segment in path):
        raise MalformedInput(f"did:web path: expected ':'-separated DID idchars, got {did[:120]!r}")
    return host, path


def did_web_url(did: str) -> str:
    """The did:web resolution URL: ``https://<host>/<path…>/did.json``, or
    ``https://<host>/.well-known/did.json`` without a path (percent-encoded port decoded).
    A DID URL (``#``, ``?``, ``/``) is refused with MalformedInput."""
    host, path = _did_web_parts(did)
    return f"https://{host}/{'/'.join(path) if path else '.well-known'}/did.json"


def address_of_did(did: str) -> str | None:
    """The participant address of ``did:web:<host>:participants:<EIP-55 address>``, or None
    for any other DID (another method or path, or an address not in EIP-55 form)."""
    try:
        _, path = _did_web_parts(did)
    except MalformedInput:
        return None
    if len(path) != 2 or path[0] != "participants" or _ADDRESS.fullmatch(path[1]) is None:
        return None
    return path[1] if to_checksum_address(path[1]) == path[1] else None


def key_id(did: str) -> str:
    """``<did>#key-1``: the DID's one verification method, the passport's ``kid``."""
    if not isinstance(did, str) or not did.startswith("did:") or "#" in did:
        raise MalformedInput(f"did: expected a DID without fragment, got {str(did)[:80]!r}")
    return did + "#key-1"


# -- keys --------------------------------------------------------------------------------


def _public_key(public_key: bytes) -> coincurve.PublicKey:
    if not isinstance(public_key, bytes):
        raise TypeError(f"public_key: expected bytes, got {type(public_key).__name__}")
    if len(public_key) not in (33, 65):
        raise MalformedInput(f"public_key: expected 33 or 65 bytes (SEC1), got {len(public_key)}")
    try:
        return coincurve.PublicKey(public_key)
    except ValueError as exc:
        raise MalformedInput("public_key: not a point on secp256k1") from exc


def address_of_public_key(public_key: bytes) -> str:
    """EIP-55 address: last 20 bytes of keccak256 of the uncompressed key without 0x04."""
    return to_checksum_address(keccak256(_public_key(public_key).format(compressed=False)[1:])[12:])


def jwk_of_public_key(public_key: bytes) -> dict[str, str]:
    """33- or 65-byte SEC1 secp256k1 key → ``{"kty":"EC","crv":"secp256k1","x","y"}``."""
    point = _public_key(public_key).format(compressed=False)
    return {"kty": "EC", "crv": "secp256k1", "x": _b64encode(point[1:33]), "y": _b64encode(point[33:])}


def public_key_of_jwk(jwk: Mapping[str, Any]) -> bytes:
    """A secp256k1 public JWK (``kty`` EC, ``crv`` secp256k1, 32-byte ``x``, ``y``) → 65-byte
    uncompressed SEC1. Refuses ``alg`` other than ES256K and a private ``d``; ignores other
    members. Raises MalformedInput."""
    if not isinstance(jwk, Mapping):
        raise MalformedInput(f"jwk: expected a JSON object, got {type(jwk).__name__}")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "secp256k1":
        raise MalformedInput(f"jwk: expected kty EC, crv secp256k1, got {jwk.get('kty')!r}, {jwk.get('crv')!r}")
    if "d" in jwk:
        raise MalformedInput("jwk: carries a private key ('d') where a public key belongs")
    if jwk.get("alg", ES256K) != ES256K:
        raise MalformedInput(f"jwk: expected alg ES256K, got {jwk.get('alg')!r}")
    coords = []
    for name in ("x", "y"):
        value = jwk.get(name)
        coord = _b64decode(value, f"jwk.{name}") if isinstance(value, str) else b""
        if len(coord) != 32:
            raise MalformedInput(f"jwk.{name}: expected 32 bytes of base64url, got {str(value)[:60]!r}")
        coords.append(coord)
    return _public_key(b"\x04" + coords[0] + coords[1]).format(compressed=False)


def did_document(did: str, public_key: bytes) -> dict[str, Any]:
    """The DID document served at ``did_web_url(did)``: one ``JsonWebKey`` verification
    method ``key_id(did)``, controlled by ``did``, usable to assert (sign) credentials."""
    kid = key_id(did)
    method = {"id": kid, "type": "JsonWebKey", "controller": did, "publicKeyJwk": jwk_of_public_key(public_key)}
    return {"@context": list(DID_CONTEXT), "id": did, "verificationMethod": [method], "assertionMethod": [kid]}


# -- the token ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A compact JWS split and decoded, NOT verified: what ``parse_compact`` returns."""

    header: dict[str, Any]
    payload: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """Passed ``verify_vc_jwt``; ``payload``: the signed bytes as received, ``credential``: parsed."""

    header: dict[str, Any]
    credential: dict[str, Any]
    payload: bytes


def parse_compact(token: str) -> CompactJWS:
    """Split ``header.payload.signature``, each canonical base64url; the header must be a
    strict-JSON object. WARNING: checks nothing about the signature. Raises MalformedInput
    (PayloadTooLarge over ``MAX_HEADER_LENGTH``/``MAX_PAYLOAD_LENGTH``), TypeError."""
    if not isinstance(token, str):
        raise TypeError(f"token: expected str, got {type(token).__name__}")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedInput(f"token: expected header.payload.signature, got {len(parts)} part(s)")
    if len(parts[0]) > MAX_HEADER_LENGTH or len(parts[1]) > MAX_PAYLOAD_LENGTH:
        raise PayloadTooLarge(f"token: header or payload over {MAX_HEADER_LENGTH}/{MAX_PAYLOAD_LENGTH} chars")
    header = parse_json(_b64decode(parts[0], "token header"))
    if not isinstance(header, dict):
        raise MalformedInput(f"token header: expected a JSON object, got {type(header).__name__}")
    payload, signature = _b64decode(parts[1], "token payload"), _b64decode(parts[2], "token signature")
    return CompactJWS(header=header, payload=payload, signature=signature)


def check_header(header: Mapping[str, Any], *, kid: str, algorithms: Collection[str] = (ES256K,)) -> None:
    """VC-JOSE header rules: ``alg`` in ``algorithms`` (never ``none``), ``typ`` vc+jwt,
    ``cty`` absent or vc, ``kid`` equal to ``kid``, no ``crit`` and no other member (so no
    ``jwk``/``jku``/``x5c`` can point at another key). Returns None or raises InvalidRecord."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise InvalidRecord(f"token header: expected alg in {sorted(algorithms)}, got {alg!r}")
    if header.get("typ") != VC_TYP:
        raise InvalidRecord(f"token header: expected typ {VC_TYP!r}, got {header.get('typ')!r}")
    if header.get("cty", VC_CTY) != VC_CTY:
        raise InvalidRecord(f"token header: expected cty {VC_CTY!r} or none, got {header.get('cty')!r}")
    if "crit" in header:
        raise InvalidRecord(f"token header: crit is not supported, got {header['crit']!r}")
    if extra := sorted(str(name) for name in header if name not in _HEADER_MEMBERS):
        raise InvalidRecord(f"token header: unexpected members {extra}")
    if header.get("kid") != kid:
        raise InvalidRecord(f"token header: expected kid {kid!r}, got {header.get('kid')!r}")


def check_claims(claims: object) -> dict[str, Any]:
    """VC 2.0 claims set rules: a JSON object, ``@context`` first the VC 2.0 context,
    ``type`` with VerifiableCredential, an ``issuer`` (URL or object with ``id``), a
    ``credentialSubject``, no ``vc``/``vp`` claims, and ``iss``, if present, equal to the
    issuer's id. Returns the claims or raises InvalidRecord."""
    if not isinstance(claims, dict):
        raise InvalidRecord(f"credential: expected a JSON object, got {type(claims).__name__}")
    if forbidden := sorted({"vc", "vp"} & claims.keys()):
        raise InvalidRecord(f"credential: VC-JOSE forbids the JWT claims {forbidden}")
    context = claims.get("@context")
    if not isinstance(context, list) or not context or context[0] != _VC_CONTEXT:
        raise InvalidRecord(f"credential: expected @context to start with {_VC_CONTEXT!r}")
    types = claims.get("type")
    if "VerifiableCredential" not in (types if isinstance(types, list) else [types]):
        raise InvalidRecord(f"credential: expected type to include VerifiableCredential, got {types!r}")
    issuer = claims.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not isinstance(issuer_id, str) or not issuer_id:
        raise InvalidRecord(f"credential: expected issuer as a URL or an object with id, got {issuer!r}")
    if "credentialSubject" not in claims:
        raise InvalidRecord("credential: expected a credentialSubject")
    if "iss" in claims and claims["iss"] != issuer_id:
        raise InvalidRecord(f"credential: iss {claims['iss']!r} does not match issuer {issuer_id!r}")
    return claims


def sign_vc_jwt(credential: dict[str, Any], private_key: bytes, kid: str) -> str:
    """Secure ``credential`` as a compact JWS (ES256K, low s) with ``kid``. It must pass
    ``check_claims`` (InvalidRecord): we never issue what we would refuse. TypeError /
    MalformedInput for a bad credential, key or kid."""
    if not isinstance(credential, dict) or not isinstance(private_key, bytes) or not isinstance(kid, str):
        raise TypeError("sign_vc_jwt: expected credential dict, private_key bytes, kid str")
    if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < _N:
        raise MalformedInput("private_key: expected 32 bytes, a secp256k1 scalar in [1, n)")
    if not kid:
        raise MalformedInput("kid: expected a DID URL, got ''")
    payload = canonicalize(check_claims(credential))
    if len(payload) * 4 > MAX_PAYLOAD_LENGTH * 3:
        raise PayloadTooLarge(f"credential: over {MAX_PAYLOAD_LENGTH * 3 // 4} bytes as JSON")
    public_key = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    key = ECKey.import_key(jwk_of_public_key(public_key) | {"d": _b64encode(private_key)})
    header = {"alg": ES256K, "kid": kid, "typ": VC_TYP, "cty": VC_CTY}
    token = jws.serialize_compact(header, payload, key, algorithms=[ES256K], registry=_REGISTRY)
    signing_input, signature = token.rsplit(".", 1)
    raw = _b64decode(signature, "signature")
    if (s := int.from_bytes(raw[32:], "big")) > _N // 2:  # low s, see the module docstring
        signature = _b64encode(raw[:32] + (_N - s).to_bytes(32, "big"))
    return f"{signing_input}.{signature}"


def verify_vc_jwt(token: str, public_key: bytes, *, kid: str) -> VerifiedCredential:
    """Verify a passport token against the author's key and DID key id, in order:
    ``parse_compact`` (MalformedInput); ``check_header``, ES256K only (InvalidRecord: ``none``
    never reaches verification); joserfc's signature check (InvalidSignature; low or high s);
    the payload as a strict-JSON object (MalformedInput); ``check_claims`` (InvalidRecord)."""
    parsed = parse_compact(token)
    check_header(parsed.header, kid=kid)
    key = ECKey.import_key(jwk_of_public_key(public_key))
    try:
        jws.deserialize_compact(token, key, algorithms=[ES256K], registry=_REGISTRY)
    except BadSignatureError as exc:
        raise InvalidSignature(f"token signature does not verify with the key of {kid}") from exc
    except (JoseError, ValueError) as exc:
        raise MalformedInput(f"token: refused by JWS: {exc}") from exc
    claims = parse_json(parsed.payload)
    if not isinstance(claims, dict):
        raise MalformedInput(f"token payload: expected a JSON object, got {type(claims).__name__}")
    return VerifiedCredential(header=parsed.header, credential=check_claims(claims), payload=parsed.payload)


def credential_matches(verified: VerifiedCredential, credential: Mapping[str, Any]) -> bool:
    """True if the verified payload and ``credential`` (the passport admission stores) are
    the same JSON value: equal JCS bytes — not Python ``==`` (where ``True == 1``), nor the raw
    payload (another issuer may sign non-canonical JSON of the same value)."""
    return canonicalize(verified.credential) == canonicalize(credential)


def candidate_public_keys(token: str) -> list[bytes]:
    """The public keys (65 bytes) an ES256K token's signature may be by: ECDSA public-key
    recovery with both recovery ids over SHA-256 of the signing input. A hint to find the
    signer's key from an address, not a check: ``verify_vc_jwt`` with the chosen key (and
    joserfc) decides. An unparseable token or signature gives none."""
    try:
        sig = parse_compact(token).signature
    except MalformedInput:
        return []
    signing_input = token.rpartition(".")[0]
    if len(sig) != 64:
        return []
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < _N and 0 < s < _N):
        return []
    s = min(s, _N - s)  # recovery wants low s; the candidate set is the same for s and n - s
    digest = hashlib.sha256(signing_input.encode("ascii")).digest()
    out = []
    for recid in (0, 1):
        try:
            key = coincurve.PublicKey.from_signature_and_message(
                r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((recid,)), digest, hasher=None)
        except ValueError:
            continue
        out.append(key.format(compressed=False))
    return out
