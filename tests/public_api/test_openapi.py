"""The OpenAPI document at /api/v1/openapi.json and the documentation page made from it.

The document must be valid OpenAPI 3, list every route the app serves under
/api/v1, and say how each can fail: writers' 401/403/409/413/422 (with ``fields``),
public 400/404 where parameters can be wrong, and 429 everywhere. The page at
/api/v1/docs must show all of it to a person, without JavaScript and without
anything from another site.
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.core.errors import InvalidSchema

API = "/api/v1"
OPERATIONS = ("get", "head", "post", "put", "patch", "delete")
# Methods werkzeug adds to every rule on its own; the document lists what views do.
AUTOMATIC = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: FlaskClient, funds: Any) -> dict[str, Any]:
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    found: dict[str, Any] = response.get_json()
    return found


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref: str = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


def parameters(document: dict[str, Any], path: str, operation: dict[str, Any]) -> list[Any]:
    shared = document["paths"][path].get("parameters", [])
    return [_resolve(document, p) for p in [*shared, *operation.get("parameters", [])]]


def response_schema(document: dict[str, Any], response: Any) -> dict[str, Any]:
    content = _resolve(document, response)["content"]["application/json"]
    schema: dict[str, Any] = _resolve(document, content["schema"])
    return schema


def is_writer(operation: dict[str, Any]) -> bool:
    return bool(operation.get("security"))


# -- the document ------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.0")
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.0 meta-schema


def test_the_validator_does_refuse_a_broken_document(document: dict[str, Any]) -> None:
    broken = copy.deepcopy(document)
    _path, _method, operation = operations(broken)[0]
    operation["responses"]["200"] = {"content": "not an object"}
    with pytest.raises((InvalidSchema, ValueError)):
        schemathesis.openapi.from_dict(broken).validate()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_under_api_v1_is_in_the_document(app: Flask, document: dict[str, Any]) -> None:
    served = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(f"{API}/")
        for method in (rule.methods or set()) - AUTOMATIC
    }
    documented = {(path, method) for path, method, _operation in operations(document)}
    assert served - documented == set()
    assert documented - served == set()
    assert (f"{API}/openapi.json", "get") in served
    assert (f"{API}/docs", "get") in served


def test_every_operation_documents_429_with_retry_after(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        answer = _resolve(document, operation["responses"].get("429"))
        assert answer, (method, path)
        assert "Retry-After" in answer["headers"], (method, path)
        body = response_schema(document, answer)
        assert body["required"] == ["error"], (method, path)


def test_writers_document_a_bearer_token_and_every_way_they_fail(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    writers = [(p, m, o) for p, m, o in operations(document) if is_writer(o)]
    assert len(writers) >= 10
    for path, method, operation in writers:
        (requirement,) = operation["security"]
        (scheme,) = requirement
        assert schemes[scheme]["type"] == "http" and schemes[scheme]["scheme"] == "bearer"
        statuses = set(operation["responses"])
        assert {"401", "403", "429"} <= statuses, (method, path, statuses)
        if method == "post":
            assert "409" in statuses, (method, path)
        if "requestBody" in operation:
            assert "413" in statuses, (method, path)
        places = {p["in"] for p in parameters(document, path, operation)}
        if "requestBody" not in operation and "query" not in places:
            continue  # nothing to be invalid
        assert "422" in statuses, (method, path)
        invalid = response_schema(document, operation["responses"]["422"])
        error = _resolve(document, invalid["properties"]["error"])
        assert {"code", "message", "fields"} <= set(error["required"]), (method, path)
        fields = error["properties"]["fields"]
        assert fields["type"] == "object" and fields["additionalProperties"]["type"] == "array"


def test_public_operations_document_their_bad_parameters_and_missing_things(
    document: dict[str, Any],
) -> None:
    for path, method, operation in operations(document):
        if is_writer(operation):
            continue
        assert not operation.get("security"), path
        places = {p["in"] for p in parameters(document, path, operation)}
        statuses = set(operation["responses"])
        if "query" in places:
            assert "400" in statuses, (method, path)
        if "path" in places:
            assert "404" in statuses, (method, path)
        for status in statuses - {"default"}:
            if status.startswith("4") and status != "429":
                body = response_schema(document, operation["responses"][status])
                assert body["required"] == ["error"], (method, path, status)


def test_the_document_is_cacheable_and_conditional(client: FlaskClient, funds: Any) -> None:
    first = client.get(f"{API}/openapi.json")
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get(f"{API}/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


# -- the page for people ---------------------------------------------------------------


class PageParts(HTMLParser):
    """What a page loads and links to, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[tuple[str, str]] = []
        self.scripts = 0
        self.inline_styles = 0
        self.ids: set[str] = set()
        self.anchors: set[str] = set()
        self.headings: list[str] = []
        self.text: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "script":
            self.scripts += 1
        if tag == "style" or "style" in found:
            self.inline_styles += 1
        if tag in ("link", "img", "iframe", "source") and ("href" in found or "src" in found):
            self.loads.append((tag, found.get("href") or found.get("src", "")))
        if "id" in found:
            self.ids.add(found["id"])
        if tag == "a" and found.get("href", "").startswith("#"):
            self.anchors.add(found["href"][1:])
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading.append(data)


@pytest.fixture
def page(client: FlaskClient, funds: Any) -> tuple[Any, PageParts]:
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    parts = PageParts()
    parts.feed(response.get_data(as_text=True))
    return response, parts


def test_the_page_shows_every_operation_with_its_parameters_and_answers(
    page: tuple[Any, PageParts], document: dict[str, Any]
) -> None:
    _response, parts = page
    text = " ".join(" ".join(parts.text).split())
    for path, method, operation in operations(document):
        assert f"{method.upper()} {path}" in parts.headings, (method, path)
        for parameter in parameters(document, path, operation):
            assert f"{parameter['name']} ({parameter['in']})" in text, (path, parameter["name"])
        for status in operation["responses"]:
            assert status in text
    for name in document["components"]["schemas"]:
        assert f"schema-{name}" in parts.ids, name
    assert parts.anchors <= parts.ids, parts.anchors - parts.ids


def test_the_page_shows_request_bodies_member_by_member(
    page: tuple[Any, PageParts], document: dict[str, Any]
) -> None:
    _response, parts = page
    text = " ".join(parts.text)
    contribution = document["components"]["schemas"]["ContributionInput"]
    for member in contribution["properties"]:
        assert member in text
    assert "ContributionInput" in text and "multipart/form-data" in text


def test_the_page_has_vietnamese_headings_with_english_alongside(
    page: tuple[Any, PageParts],
) -> None:
    _response, parts = page
    for heading in ("Tham số · Parameters", "Phản hồi · Responses", "Xác thực · Authentication"):
        assert heading in parts.headings, heading
    assert any(h.startswith("Nội dung yêu cầu · Request body") for h in parts.headings)
    assert "Lược đồ dữ liệu · Schemas" in parts.headings


def test_the_page_loads_nothing_from_elsewhere_and_needs_no_script(
    page: tuple[Any, PageParts], client: FlaskClient
) -> None:
    response, parts = page
    assert parts.scripts == 0 and parts.inline_styles == 0
    assert parts.loads, "the page has its stylesheet"
    for tag, url in parts.loads:
        if url.startswith("data:"):
            continue
        assert url.startswith("/") and not url.startswith("//"), (tag, url)
        assert client.get(url).status_code == 200, url
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy
    assert "script-src" not in policy
    assert response.headers["Cache-Control"].startswith("public, max-age=")
