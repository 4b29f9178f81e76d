"""Every public list as CSV (``?format=csv``), safe to open in a spreadsheet.

* UTF-8 with a byte order mark: without it Excel reads a CSV file in the local code
  page and Vietnamese names come out garbled.
* A text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  is read by spreadsheets as a formula (a donor named ``=HYPERLINK(…)`` would become a
  link), so such text is written after an apostrophe, which spreadsheets show as text.
  Numbers are written as numbers.
* Nested members become columns named by their path (``donor.display``); a list of
  values is one cell, its values separated by spaces; ``true``/``false`` for booleans
  and an empty cell for a missing value.

A long list is streamed: its rows are read in batches by key as they are sent, so the
memory a download takes does not grow with the list.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from marshmallow import Schema, fields, validate

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
CSV, JSON = "csv", "json"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+")
# The OpenAPI description of the CSV form of a list's 200 answer (for ``blp.doc``).
DOC = {
    "responses": {
        200: {"content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}}
    }
}
_ROWS_PER_CHUNK = 200
# Part of the ETag of a streamed list: a change of columns must not look unchanged.
_LAYOUT = "1"


class FormatArgsSchema(Schema):
    format = fields.String(
        load_default=JSON,
        validate=validate.OneOf((JSON, CSV)),
        metadata={"description": "csv: the same list as a CSV file (UTF-8 with BOM)"},
    )


def wants_csv(args: dict[str, Any]) -> bool:
    return bool(args.get("format") == CSV)


def cell(value: Any) -> str:
    """One value as a CSV cell, neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    many = isinstance(value, list | tuple)
    text = " ".join(str(item) for item in value) if many else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def lookup(document: dict[str, Any], path: str) -> Any:
    """The member at a dotted ``path``, or None where any part is missing."""
    value: Any = document
    for name in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def lines(columns: Sequence[str], items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The BOM and header, then the rows, a chunk of rows per string."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(columns)
    for count, item in enumerate(items, start=1):
        writer.writerow([cell(lookup(item, path)) for path in columns])
        if count % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _disposition(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def document(
    filename: str,
    columns: Sequence[str],
    items: Iterable[dict[str, Any]],
    headers: dict[str, str],
) -> Response:
    """A short list (funds, units, a leaderboard) as one CSV body; its ETag is its hash."""
    response = Response("".join(lines(columns, items)), content_type=CONTENT_TYPE)
    response.headers.update({**headers, **_disposition(filename)})
    return response


def stream(
    filename: str,
    columns: Sequence[str],
    items: Iterator[dict[str, Any]],
    headers: dict[str, str],
    tree_size: int,
) -> Response:
    """A long list streamed as it is read; ``items`` must not need the request context.

    Its ETag cannot be the hash of a body that is not there yet; the list is read at
    one tree size, so that size and the request name the body exactly.
    """
    response = Response(lines(columns, items), content_type=CONTENT_TYPE)
    # Never gather the body into memory (werkzeug would, to count a Content-Length).
    response.implicit_sequence_conversion = False
    response.headers.update({**headers, **_disposition(filename)})
    arguments = urlencode(sorted(request.args.items(multi=True)))
    name = f"{_LAYOUT}\n{tree_size}\n{request.path}\n{arguments}".encode()
    response.set_etag(hashlib.sha256(name).hexdigest()[:32])
    return response
