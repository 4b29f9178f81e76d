"""Vietnamese first, English on request: the pages' language, by URL and nothing else.

The language is the ``lang`` query parameter (``vi`` by default, or ``en``), never a
cookie or ``Accept-Language``: one URL is one page, so shared caches need not vary,
and a link shared between people opens in the language it was sent in. Messages are
marked with ``_()`` in templates and code and translated by the catalogues under
``public_api/translations`` (``make translations`` extracts and compiles them).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, request
from flask_babel import Babel

LANGUAGES = ("vi", "en")
DEFAULT = "vi"


def current_language() -> str:
    wanted = request.args.get("lang", DEFAULT)
    return wanted if wanted in LANGUAGES else DEFAULT


def lang_url(language: str, **changes: Any) -> str:
    """The current page in ``language`` (and with ``changes`` to its query), as a path."""
    args = {key: value for key, value in request.args.items() if key != "lang"}
    args.update({key: value for key, value in changes.items() if value is not None})
    if language != DEFAULT:
        args["lang"] = language
    query = urlencode(args)
    return f"{request.path}?{query}" if query else request.path


def page_url(path: str, **query: Any) -> str:
    """A link to another page that keeps the reader's language."""
    args = {key: value for key, value in query.items() if value is not None}
    if current_language() != DEFAULT:
        args["lang"] = current_language()
    encoded = urlencode(args)
    return f"{path}?{encoded}" if encoded else path


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=current_language, default_locale=DEFAULT)
    app.jinja_env.globals.update(
        current_language=current_language, lang_url=lang_url, page_url=page_url
    )
