"""The offline JSON-LD check of a credential's ``@context`` (pyld; nothing is fetched).

``check_context(credential)`` expands the credential with pyld and a document loader that
never touches the network, and raises ``InvalidRecord`` if it does not expand; ``expand``
returns the expanded node. The loader serves, in this order:

1. contexts registered with ``register_context(url, document)`` (the tests register the
   UNTP contexts from ``../shared/vectors``; a deployment may register what it may hold);
2. contexts shipped in ``ledger/contexts/``: the W3C VC 2.0 base context
   ``https://www.w3.org/ns/credentials/v2``, byte for byte the published file (sha256
   ``59955ced…``, W3C Software and Document License; see that folder's README);
3. UNTP DPP contexts this ledger knows but does not hold (``KNOWN_NOT_HELD``: 0.6.1 and
   the working draft). The UNTP repository is GPL-3.0, so its contexts are not shipped.
   Such a URL is accepted and loaded as an **empty context**.

Any other URL — and a relative one — is refused before pyld runs:
``the @context <url> is not a context this ledger holds``. So is a context that does not
expand (a protected VC 2.0 term redefined, an invalid term definition), naming pyld's
error on one line, and a credential that does not expand to one node typed
``VerifiableCredential``.

**LIMITATION — known, not held.** Under an empty UNTP context JSON-LD gives the UNTP terms
no meaning at all. The VC 2.0 context shipped here (the Recommendation's) has **no**
``@vocab``: drafts mapped undefined terms to ``https://www.w3.org/ns/credentials/
issuer-dependent#``, and w3c/vc-data-model#1520 (2024) removed that. So expansion **drops**
every UNTP property (``product``, ``granularityLevel``, ``emissionsScorecard``, …) and
leaves UNTP type names as relative IRIs (``"DigitalProductPassport"``). What the check then
proves is only that the VC 2.0 terms are used as VC 2.0 defines them and that no
protected term is redefined; the UNTP members are checked by the JSON models
(``ledger.untp``), not by JSON-LD. Registering the UNTP context gives the full expansion.

Contexts are part of admission, so they must not change under a URL: registering a second,
different document for a URL is refused, and the shipped context cannot be replaced. The
registry is process-wide: register at start-up, and register the same contexts wherever
admission is recomputed (the audit, bundle verifiers), or their verdicts can differ.
Documents deeper than ``MAX_DEPTH`` or larger than ``MAX_BYTES`` are refused before pyld
sees them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from ledger.canonical import canonicalize
from ledger.errors import InvalidRecord
from ledger.pact.formats import describe
from ledger.untp_models import DPP_0_6_1_CONTEXT, DPP_WORKING_CONTEXT, VC_V2_CONTEXT

__all__ = ["KNOWN_NOT_HELD", "MAX_BYTES", "MAX_DEPTH", "SHIPPED", "check_context", "expand", "register_context"]

#: URL -> file in ``ledger/contexts/``.
SHIPPED = {VC_V2_CONTEXT: "credentials-v2.jsonld"}
#: Recognised, not shipped (licence): loaded as an empty context unless registered.
KNOWN_NOT_HELD = frozenset({DPP_0_6_1_CONTEXT, DPP_WORKING_CONTEXT})
MAX_DEPTH, MAX_BYTES = 32, 256 * 1024
_VERIFIABLE_CREDENTIAL = "https://www.w3.org/2018/credentials#VerifiableCredential"
_registered: dict[str, dict[str, Any]] = {}


@cache
def _shipped(name: str) -> dict[str, Any]:
    return json.loads(resources.files("ledger").joinpath("contexts", name).read_bytes())


def register_context(url: str, document: dict[str, Any]) -> None:
    """Serve ``document`` (a JSON-LD context document, ``{"@context": …}``) for ``url``.

    Raises TypeError for a non-str URL or a non-dict document, ValueError for a document
    without ``@context``, one that is not JSON, the URL of a shipped context, or a URL
    already registered with a different document. Registering the same document again
    does nothing.
    """
    if type(url) is not str or type(document) is not dict:
        raise TypeError(f"register_context: expected a str and a dict, got {type(url).__name__} "
                        f"and {type(document).__name__}")  # fmt: skip
    if url in SHIPPED:
        raise ValueError(f"register_context: {url} is shipped with the ledger and cannot be replaced")
    if not isinstance(document.get("@context"), (dict, list)):
        raise ValueError(f"register_context: expected a context document with an @context object, got keys "
                         f"{sorted(document)[:10]}")  # fmt: skip
    canonical = canonicalize(document)  # MalformedJSON (a ValueError) if it is not JSON
    held = _registered.get(url)
    if held is not None and canonicalize(held) != canonical:
        raise ValueError(f"register_context: {url} is already registered with another document")
    _registered[url] = copy.deepcopy(document)


def _document(url: str) -> dict[str, Any]:
    if url in _registered:
        return copy.deepcopy(_registered[url])
    if url in SHIPPED:
        return copy.deepcopy(_shipped(SHIPPED[url]))
    if url in KNOWN_NOT_HELD:
        return {"@context": {}}
    raise InvalidRecord(f"the @context {url[:200]} is not a context this ledger holds")


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld's document loader: what ``_document`` serves, never the network."""
    return {"contextUrl": None, "documentUrl": url, "document": _document(url)}


def _context_urls(value: Any) -> Iterator[str]:
    """Every context URL ``value`` names (``@context`` and ``@import``, at any depth);
    ``InvalidRecord`` if it nests deeper than ``MAX_DEPTH``."""
    stack = [(value, 1)]  # (a container, its depth): ``[]`` has depth 1
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidRecord(f"the credential nests deeper than {MAX_DEPTH} levels")
        if isinstance(v, dict):
            for key in ("@context", "@import"):
                named = v.get(key)
                yield from (u for u in (named if isinstance(named, list) else [named]) if isinstance(u, str))
            stack.extend((x, depth + 1) for x in v.values() if isinstance(x, (dict, list)))
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v if isinstance(x, (dict, list)))


def _invalid_record_in(error: BaseException) -> InvalidRecord | None:
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, InvalidRecord):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _one_line(error: Any) -> str:
    message = str(error.args[0]) if error.args else type(error).__name__
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    where = ""
    if isinstance(details, dict) and isinstance(details.get("context"), dict):
        where = f" (in the context {json.dumps(details['context'], ensure_ascii=False)[:120]})"
    return " ".join(f"{code + ': ' if code else ''}{message}{where}".split())


def expand(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential's one expanded JSON-LD node (every term a full IRI).

    Raises ``InvalidRecord`` as the module docstring says.
    """
    if type(credential) is not dict:
        raise InvalidRecord(f"credential: expected a JSON object, got {describe(credential)}")
    for url in _context_urls(credential):
        _document(url)  # refuses a URL we do not hold, before pyld asks for it
    try:
        size = len(canonicalize(credential))
    except (ValueError, TypeError) as e:
        raise InvalidRecord(f"credential: expected JSON: {e}") from None
    if size > MAX_BYTES:
        raise InvalidRecord(f"credential: at most {MAX_BYTES} bytes of JSON, got {size}")
    from pyld import jsonld  # imported on first use: it costs CLI start-up ~0.3 s

    options = {"documentLoader": _loader, "processingMode": "json-ld-1.1", "base": None}
    try:
        out = jsonld.expand(copy.deepcopy(credential), options)
    except jsonld.JsonLdError as e:
        found = _invalid_record_in(e)
        if found is not None:
            raise InvalidRecord(str(found)) from None
        raise InvalidRecord(f"credential: the @context does not expand as JSON-LD: {_one_line(e)}") from None
    except (RecursionError, TypeError, ValueError, KeyError, AttributeError) as e:
        raise InvalidRecord(f"credential: the @context does not expand as JSON-LD: {type(e).__name__}") from None
    nodes = [n for n in out if isinstance(n, dict)]
    if len(nodes) != 1:
        raise InvalidRecord(f"credential: expected one JSON-LD node, got {len(nodes)}")
    if _VERIFIABLE_CREDENTIAL not in nodes[0].get("@type", []):
        raise InvalidRecord(f"credential: does not expand to a {_VERIFIABLE_CREDENTIAL}")
    return nodes[0]


def check_context(credential: dict[str, Any]) -> None:
    """None if the credential's ``@context`` expands offline (``expand``); else ``InvalidRecord``."""
    expand(credential)
