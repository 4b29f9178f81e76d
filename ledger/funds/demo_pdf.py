"""A one-page PDF of plain text, for the decisions and slips ``ledger demo`` files.

Written out by hand: a decision of a few lines needs no PDF library, and the demo
files hundreds of them, so they must cost next to nothing and be the same bytes for
the same text (a document is named by its SHA-256).
"""

from __future__ import annotations

import textwrap

from ledger.funds.text import fold_ascii

WIDTH = 84  # characters of 11 pt Helvetica between the margins of an A4 page


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF of ``lines`` (folded to ASCII: the standard fonts lack Vietnamese).

    Long lines are wrapped, continuation lines indented.
    """
    wrapped = [
        part
        for line in lines
        for part in textwrap.wrap(fold_ascii(line), WIDTH, subsequent_indent="    ") or [""]
    ]
    shown = " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
        for line in wrapped
    )
    stream = f"BT /F1 11 Tf 56 790 Td 16 TL {shown} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
