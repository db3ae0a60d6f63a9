"""Passports on the web (DESIGN §12; ``ledger.passport_views``): the GS1 Digital Link
resolver at the public base URL, the issuer's DID document and status list, QR codes,
and the passport as JSON under ``/v1``.

The resolver (``/01/<GTIN>[/10/<lot>][/21/<serial>]``) answers by ``?linkType=`` first,
then by ``Accept``:

- ``text/html`` (and ``*/*``, a browser or a phone's camera app): the public page, in
  English or Simplified Chinese (``?lang=``, else ``Accept-Language``);
- ``application/vc+jwt``: the credential as its issuer signed it (VC-JOSE);
- ``application/vc+ld+json``, ``application/ld+json``, ``application/json``: the
  credential's JSON;
- ``application/linkset+json`` (or ``?linkType=all``): the RFC 9264 linkset.

A GTIN-8/12/13 is redirected (301) to its GTIN-14 path, the query kept; a bad check digit
or a path GS1 does not allow is a 400 problem; an item without a passport a 404 that says
so. Every answer carries ``Link: <…?linkType=all>; rel="linkset"``. The resolver takes any
query parameter (GS1 data attributes such as ``15=`` and custom ones are allowed by the
standard and ignored); its values are still held to no control characters.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from api.deps import LedgerDep, SettingsDep
from api.routers.records import RecordId
from ledger import formats, gs1, passport_views
from ledger.qr import qr_bytes
from ledger.errors import NotFound

router = APIRouter(tags=["passports"])
resolver = APIRouter(tags=["passports"])

VC_JWT = "application/vc+jwt"
VC_JSON = "application/vc+ld+json"
LINKSET = "application/linkset+json"
Address = Annotated[str, Path(pattern=formats.anchored(formats.ADDRESS), description="the issuer's address")]


def any_query(endpoint):
    """Mark an endpoint as taking any query parameter (``api.deps.reject_unknown_query``)."""
    endpoint.accepts_any_query = True
    return endpoint


def _wanted(request: Request, link_type: str | None) -> str:
    """``html``, ``jwt``, ``json`` or ``linkset`` (module docstring)."""
    if link_type is not None:
        if link_type == "all":
            return "linkset"
        if link_type == passport_views.PIP:
            return "html"
        if link_type in passport_views.LINK_TYPES:
            accept = request.headers.get("accept", "")
            return "json" if VC_JSON in accept or "application/json" in accept else "jwt"
        raise NotFound(f"no link of type {link_type!r} here; this resolver serves {', '.join(passport_views.LINK_TYPES)} "
                       "and all")  # fmt: skip
    best, best_q = "html", -1.0
    for part in request.headers.get("accept", "*/*").split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = {"text/html": "html", "application/xhtml+xml": "html", VC_JWT: "jwt", VC_JSON: "json",
                "application/ld+json": "json", "application/json": "json", LINKSET: "linkset",
                "*/*": "html", "text/*": "html"}.get(media.strip().lower())  # fmt: skip
        if kind is not None and q > best_q:
            best, best_q = kind, q
    return best


def _web_page():
    from ledger.web import page  # jinja2 and the templates, only when a page is asked for

    return page


def _lang(request: Request, lang: str | None) -> str:
    return _web_page().negotiate_language(lang, request.headers.get("accept-language"))


@resolver.get("/01/{rest:path}", include_in_schema=True, response_class=HTMLResponse)
@any_query
def resolve(request: Request, ledger: LedgerDep, settings: SettingsDep, rest: str,
            linkType: Annotated[str | None, Query(description="a GS1/UNTP link type, or all")] = None,  # noqa: N803
            lang: Annotated[str | None, Query(description="en or zh-CN")] = None) -> Response:  # fmt: skip
    """Resolve a GS1 Digital Link to the passport (module docstring)."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    # the raw path: once decoded, a serial's %2F could not be told from a separator
    link = gs1.parse_path(raw.decode("ascii", "replace").split("?", 1)[0], request.url.query)
    canonical = link.path()
    if link.needs_redirect:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(canonical + query, status_code=301)
    view = passport_views.current(ledger, link)
    p = passport_views.page(ledger, view, settings.public_url)
    linkset_url = f"{settings.public_url.rstrip('/')}{canonical}?linkType=all"
    headers = {"Link": f'<{linkset_url}>; rel="linkset"; type="{LINKSET}"', "Vary": "Accept, Accept-Language"}
    wanted = _wanted(request, linkType)
    if wanted == "linkset":
        return JSONResponse(passport_views.linkset(p, settings.public_url), media_type=LINKSET, headers=headers)
    if wanted == "jwt":
        return Response(p.passport.vc_jwt, media_type=VC_JWT, headers=headers)
    if wanted == "json":
        return JSONResponse(p.passport.dpp.credential, media_type=VC_JSON, headers=headers)
    language = _lang(request, lang)
    html = _web_page().render_passport(p, lang=language, public_url=settings.public_url,
                                    proof=p.proof_bundle(ledger.origin, ledger.log.note_vkey),
                                    link=link)  # fmt: skip
    return HTMLResponse(html, headers={**headers, "Content-Language": language})


@resolver.get("/participants/{address}/did.json")
def did_document(ledger: LedgerDep, settings: SettingsDep, address: Address) -> JSONResponse:
    """The issuer's did:web DID document, with the secp256k1 key that verifies its passports."""
    return JSONResponse(passport_views.did_document(ledger, address, settings.public_url),
                        media_type="application/did+json")  # fmt: skip


@resolver.get("/participants/{address}/status/revocation")
def status_list(ledger: LedgerDep, settings: SettingsDep, address: Address) -> JSONResponse:
    """The issuer's Bitstring Status List credential for revocation (unsecured; every set
    bit is a signed, anchored ``passport_revocation``)."""
    return JSONResponse(passport_views.status_list_credential(ledger, address, settings.public_url), media_type=VC_JSON)


@router.get("/passports/{record_id}")
def get_passport(ledger: LedgerDep, settings: SettingsDep, record_id: RecordId) -> dict[str, Any]:
    """A passport as the page shows it: product, status, footprint, issuer, anchor, links."""
    return _web_page().page_json(_page(ledger, settings, record_id), settings.public_url)


@router.get("/passports/{record_id}/credential")
def get_credential(ledger: LedgerDep, settings: SettingsDep, record_id: RecordId) -> JSONResponse:
    """The passport credential's JSON (``application/vc+ld+json``)."""
    return JSONResponse(_page(ledger, settings, record_id).passport.dpp.credential, media_type=VC_JSON)


@router.get("/passports/{record_id}/vc.jwt")
def get_vc_jwt(ledger: LedgerDep, settings: SettingsDep, record_id: RecordId) -> Response:
    """The passport credential as its issuer signed it (``application/vc+jwt``)."""
    return Response(_page(ledger, settings, record_id).passport.vc_jwt, media_type=VC_JWT)


def _page(ledger, settings, record_id: str) -> passport_views.PassportPage:
    view = ledger.record(record_id)
    if view.entry.kind != "passport":
        raise NotFound(f"no passport {record_id!r} (record {record_id!r} is a {view.entry.kind})")
    return passport_views.page(ledger, view, settings.public_url)


@router.get("/qr.{fmt}", responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}})
def qr_code(ledger: LedgerDep, settings: SettingsDep, fmt: Annotated[str, Path(pattern="^(svg|png)$")],
            link: Annotated[str, Query(description="a Digital Link path, e.g. /01/09520123456788/21/12345",
                                       pattern=r"^/01/[0-9]{8,14}(/[!-~]*)?$", max_length=512)]) -> Response:  # fmt: skip
    """The QR code of a passport's Digital Link URI at the public base URL (SVG or PNG).
    The item must resolve to a passport: a code for an unknown item is a 404."""
    path, _, query = link.partition("?")
    dl = gs1.parse_path(path, query)
    passport_views.current(ledger, dl)
    uri = settings.public_url.rstrip("/") + dl.path()
    return Response(qr_bytes(uri, fmt), media_type="image/svg+xml" if fmt == "svg" else "image/png",
                    headers={"Content-Disposition": f'inline; filename="{_file_name(dl)}.{fmt}"'})  # fmt: skip


def _file_name(dl: gs1.DigitalLink) -> str:
    return "qr-" + "-".join(x for x in (dl.gtin, dl.lot, dl.serial) if x)[:100].replace("/", "_")

