"""QR codes of Digital Link URIs (DESIGN §12), as SVG or PNG bytes, with segno."""

from __future__ import annotations

import io

import segno

FORMATS = ("svg", "png")


def qr_bytes(uri: str, fmt: str) -> bytes:
    """``uri`` as a QR code: error correction M (15 % of the code may be damaged), a
    4-module quiet zone; SVG with the URI as its title, PNG at 8 pixels a module."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    code = segno.make(uri, error="m", micro=False)
    buf = io.BytesIO()
    if fmt == "svg":
        code.save(buf, kind="svg", scale=4, border=4, title=uri, svgclass="qr", xmldecl=False)
    else:
        code.save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()
