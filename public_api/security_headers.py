"""Headers every answer carries, so that no response can be turned against a reader.

Pages set their own Content-Security-Policy (what they load); every other answer (JSON,
CSV, images, tiles) gets one that allows nothing at all, so that a response opened
directly in a browser can run nothing, even if a donor's name holds markup. Nothing
here may be framed (clickjacking a receipt page), no type is sniffed (a CSV rendered
as HTML), and no page leaks its URL, which may hold a search, to the sites it links.
"""

from __future__ import annotations

from flask import Flask, Response

NOTHING = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
POLICY = "Content-Security-Policy"
_KEYED = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def add_headers(response: Response) -> Response:
    """Add each header the answer lacks; an answer's own value is kept.

    The names present are read once: this runs on every answer, and werkzeug looks a
    header up by scanning them all.
    """
    headers = response.headers
    present = {name.lower() for name, _value in headers}
    for key, name, value in _KEYED:
        if key not in present:
            headers.add(name, value)
    if POLICY.lower() not in present:
        headers.add(POLICY, NOTHING)
    else:
        policy = headers[POLICY]
        if "frame-ancestors" not in policy:
            headers[POLICY] = f"{policy}; frame-ancestors 'none'"
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
