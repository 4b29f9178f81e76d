"""QR images of a text: PNG for screens, SVG for print.

Receipts and VietQR codes both come through here, so that every code the service
prints has the same error-correction level and quiet zone.
"""

from __future__ import annotations

import io
from typing import Any

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathImage

from ledger.errors import InvalidRequestError


class QRError(InvalidRequestError):
    """Nothing to encode, or an image size that cannot be drawn."""


def _qr(data: str, box_size: int, border: int) -> Any:
    if not data:
        raise QRError("nothing to encode")
    if box_size < 1 or border < 0:
        raise QRError("box size must be at least 1 and border at least 0")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(data)
    code.make(fit=True)
    return code


def png(data: str, *, box_size: int = 8, border: int = 4) -> bytes:
    buffer = io.BytesIO()
    _qr(data, box_size, border).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def svg(data: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """A single-path SVG: scales for print without the seams of one rectangle per module."""
    buffer = io.BytesIO()
    _qr(data, box_size, border).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()
