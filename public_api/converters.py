"""URL converters: one spelling per resource, since responses are cached as immutable."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter


class IndexConverter(BaseConverter):
    """A log index in ASCII decimal without leading zeros: ``7``, never ``07`` or fullwidth."""

    regex = r"0|[1-9][0-9]*"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)

    def openapi_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
