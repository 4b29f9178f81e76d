"""The one write path of the writers' endpoints (``write_views``, ``import_views``).

Every POST that writes goes the same way: the bearer token is checked in the read
session, the request is read and parsed (into a 422 naming each problem, never a
500), then the write runs inside the transaction that holds the append lock, where
the ``Idempotency-Key`` is looked up and the answer stored with it. Parsing stays
outside that transaction: a large body must not hold up every other writer.

Answers name private or fresh state, so none may be cached anywhere: every response
made here is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import marshmallow
from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import Schema
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from ledger.errors import ValidationError
from ledger.funds import idempotency
from ledger.funds.access import Scope
from ledger.funds.group_commit import GroupCommitter
from ledger.funds.privacy import PrivacyKey
from public_api import auth
from public_api.database import database, settings

# A leaf is at most 64 KiB; a request body many times that is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024
NO_STORE = "no-store"
_READ_CHUNK = 64 * 1024

Write = Callable[[Session], dict[str, Any]]
Location = Callable[[Mapping[str, Any]], str | None]


# -- reading the request -------------------------------------------------------------


def read_body(limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of body, or 413 without reading more than that."""
    too_large = RequestEntityTooLarge(f"{what} must be at most {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    while len(data) <= limit:
        chunk = request.stream.read(min(_READ_CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        raise too_large
    return bytes(data)


def header_filename() -> str:
    """The ``X-Filename`` header: a file's name, percent-encoded UTF-8 ("" if none)."""
    return unquote(request.headers.get("X-Filename", ""), errors="replace")


class _NotANumber(ValueError):
    """NaN and Infinity: Python's parser reads them, JSON has no such numbers."""


def _refuse_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        reason = f"{err.msg} (line {err.lineno}, column {err.colno})"
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
    except _NotANumber as err:
        reason = str(err)
    except ValueError:  # an integer of thousands of digits
        reason = "a number in it is too long"
    except RecursionError:
        reason = "it is nested too deeply"
    message = f"the request body is not valid JSON: {reason}"
    raise ValidationError(message, {"_schema": [message]})


def _bad_text(value: Any) -> str | None:
    """What is wrong with the strings of a parsed body, if anything.

    JSON may escape a lone surrogate (``"\\ud800"``) or NUL; neither is text a leaf
    or PostgreSQL can hold, so they are refused here, before anything hashes or stores them.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds an unpaired surrogate escape"
    return None


def json_body() -> dict[str, Any]:
    """The body as a JSON object; anything else is a 422 naming the problem, never a 500."""
    body = _parse(read_body(MAX_BODY_BYTES, "the request body"))
    problem = _bad_text(body)
    if problem is not None:
        message = f"the request body is not valid text: {problem}"
        raise ValidationError(message, {"_schema": [message]})
    if not isinstance(body, dict):
        message = "the request body must be a JSON object"
        raise ValidationError(message, {"_schema": [message]})
    return body


def load(schema: type[Schema], data: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``data`` through ``schema``; a 422 naming each bad member, never a 500."""
    try:
        loaded: dict[str, Any] = schema().load(data)
    except marshmallow.ValidationError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        problems = {name: [str(m) for m in _listed(ms)] for name, ms in messages.items()}
        text = "; ".join(f"{name}: {' '.join(ms)}" for name, ms in sorted(problems.items()))
        raise ValidationError(f"invalid {what}: {text}", problems) from None
    return loaded


def _listed(messages: Any) -> list[Any]:
    return messages if isinstance(messages, list) else [messages]


def privacy() -> PrivacyKey:
    """The privacy key, read once per app (``ledger init`` creates it)."""
    cached: PrivacyKey | None = current_app.extensions.get("ledger.privacy")
    if cached is None:
        cached = PrivacyKey.load(settings().privacy_key_file)
        current_app.extensions["ledger.privacy"] = cached
    return cached


_committer_lock = threading.Lock()


def committer() -> GroupCommitter:
    """This process's group committer for the app's database (one per app, made on first use)."""
    found: GroupCommitter | None = current_app.extensions.get("ledger.committer")
    if found is None:
        with _committer_lock:
            found = current_app.extensions.get("ledger.committer")
            if found is None:
                # The leader of a batch runs in its own request, where ``privacy`` works.
                found = GroupCommitter(database(), settings(), privacy)
                current_app.extensions["ledger.committer"] = found
    return found


# -- answering -------------------------------------------------------------------------


def answer(
    status: int, document: Any, *, location: str | None = None, replayed: bool = False
) -> Response:
    """``document`` as JSON with ``status``, never cached; a replay says it is one."""
    response = jsonify(document)
    response.status_code = status
    response.headers["Cache-Control"] = NO_STORE
    if location is not None:
        response.headers["Location"] = location
    if replayed:
        response.headers["Idempotency-Replayed"] = "true"
    return response


def entry_location(document: Mapping[str, Any]) -> str | None:
    """Where the log entry an answer names can be read, if it names one."""
    index = document.get("index")
    return f"/api/v1/log/entries/{index}" if isinstance(index, int) else None


def _nowhere(_document: Mapping[str, Any]) -> str | None:
    return None


def idempotency_of(described: Any) -> tuple[str | None, str]:
    """The request's ``Idempotency-Key`` (checked, or None) and the hash of what it asks."""
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        idempotency.check_key(key)
    return key, idempotency.request_hash(request.method, request.path, described)


def idempotent(
    scope: Scope, described: Any, status: int, write: Write, location: Location = _nowhere
) -> Response:
    """Run ``write`` in the write transaction, unless the Idempotency-Key already did.

    ``described`` is what the request asks, as JSON: a retry with the key must ask the
    same, or it is refused (409) rather than answered with an unrelated result.
    """
    key, fingerprint = idempotency_of(described)
    with database().writing() as session:
        if key is not None:
            stored = idempotency.replay(session, scope.actor, key, fingerprint)
            if stored is not None:
                code, document = stored
                return answer(code, document, location=location(document), replayed=True)
        document = write(session)
        if key is not None:
            idempotency.store(session, scope.actor, key, fingerprint, status, document)
    return answer(status, document, location=location(document))


# -- documenting -----------------------------------------------------------------------

# The OpenAPI description of the header, for every endpoint that honours it.
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": "a retry with the same key returns the first answer without writing",
}


def filename_header(description: str) -> dict[str, Any]:
    """The OpenAPI description of ``X-Filename`` (see ``header_filename``)."""
    return {
        "name": "X-Filename",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 255},
        "description": description,
    }


def json_request(schema: type[Schema]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that takes a JSON object (``json_body``)."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def documented(
    blp: Blueprint,
    *,
    answer: tuple[int, type[Schema], str],
    failures: Mapping[int, tuple[type[Schema], str]],
    parameters: Sequence[dict[str, Any]] = (),
    request_body: dict[str, Any] | None = None,
    summary: str | None = None,
) -> Callable[[Any], Any]:
    """OpenAPI for a writer's view: its answer, its failures (status -> schema, why), bearer."""

    def decorate(view: Any) -> Any:
        for status, (schema, description) in failures.items():
            view = blp.alt_response(status, schema=schema, description=description)(view)
        code, schema, description = answer
        view = blp.alt_response(code, schema=schema, description=description, success=True)(view)
        doc: dict[str, Any] = {"security": auth.SECURITY, "parameters": list(parameters)}
        if summary is not None:
            doc["summary"] = summary
        if request_body is not None:
            doc["requestBody"] = request_body
        return blp.doc(**doc)(view)

    return decorate
