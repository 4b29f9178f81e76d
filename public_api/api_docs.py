"""The API documentation page for people (``/api/v1/docs``): the OpenAPI document, rendered.

The page is made on the server from the very document at ``/api/v1/openapi.json``,
so it cannot say something the API does not do. It needs no JavaScript and loads
nothing from another site (no Swagger UI or Redoc from a CDN): one stylesheet of
its own, under a Content-Security-Policy that allows nothing else.

Schemas are shown as tables of members; a member whose type is another named schema
links to that schema's table in the "Lược đồ dữ liệu · Schemas" section.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, render_template
from flask_smorest import Blueprint

from public_api import caching

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
_REF_PREFIX = "#/components/"

blp = Blueprint(
    "documentation",
    __name__,
    url_prefix="/api/v1",
    description="This API's own description, for programs and for people",
)
blp.after_request(caching.conditional)


# -- from the OpenAPI document to what the page shows ---------------------------------


@dataclass(frozen=True)
class Row:
    """One member of a schema: how deep it is nested, its name, type and constraints."""

    name: str
    type: str
    link: str | None
    required: bool
    description: str
    constraints: str
    depth: int = 0


@dataclass(frozen=True)
class Body:
    """One media type of a request or response body and the members of its schema."""

    media_type: str
    schema_name: str | None
    summary: str
    rows: list[Row]


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    headers: list[Row]
    bodies: list[Body]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    needs_token: bool
    parameters: list[Row]
    request_required: bool
    request: list[Body]
    answers: list[Answer]


@dataclass
class Group:
    name: str
    description: str
    operations: list[Operation] = field(default_factory=list)


class Document:
    """Read access to one OpenAPI document: references resolved, schemas described."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec

    def resolve(self, node: Any) -> Any:
        seen: set[str] = set()
        while isinstance(node, Mapping) and "$ref" in node:
            ref = str(node["$ref"])
            if ref in seen or not ref.startswith("#/"):
                return {}
            seen.add(ref)
            target: Any = self.spec
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            node = target
        return node

    @staticmethod
    def schema_name(node: Any) -> str | None:
        if isinstance(node, Mapping) and str(node.get("$ref", "")).startswith(
            _REF_PREFIX + "schemas/"
        ):
            return str(node["$ref"]).rsplit("/", 1)[-1]
        return None

    def _single_ref(self, node: Mapping[str, Any]) -> Any:
        """``allOf`` of one schema (a reference with words beside it) is that schema."""
        parts = node.get("allOf")
        if isinstance(parts, list) and len(parts) == 1:
            return parts[0]
        return node

    def type_of(self, node: Any) -> tuple[str, str | None]:
        """A short type for people, and the schema it links to, if it names one."""
        if not isinstance(node, Mapping):
            return "any", None
        nullable = " | null" if node.get("nullable") else ""
        alternatives = node.get("anyOf") or node.get("oneOf")
        if isinstance(alternatives, list) and alternatives:
            found = [self._alternative(part) for part in alternatives]
            link = next((linked for _label, linked in found if linked), None)
            return " | ".join(label for label, _linked in found) + nullable, link
        node = self._single_ref(node)
        name = self.schema_name(node)
        if name is not None:
            return name + nullable, name
        node = self.resolve(node)
        kind = node.get("type")
        if kind == "array":
            inner, link = self.type_of(node.get("items", {}))
            return f"array of {inner}{nullable}", link
        if kind == "object" or (kind is None and "properties" in node):
            extra = node.get("additionalProperties")
            if isinstance(extra, Mapping) and extra:
                inner, link = self.type_of(extra)
                return f"object of {inner}{nullable}", link
            return f"object{nullable}", None
        if kind is None:
            return "any" + nullable, None
        label = str(kind)
        if node.get("format"):
            label += f" ({node['format']})"
        return label + nullable, None

    def _alternative(self, node: Any) -> tuple[str, str | None]:
        """A branch of ``anyOf``; a bare nullable object (apispec's "or null") reads null."""
        if isinstance(node, Mapping) and dict(node) == {"type": "object", "nullable": True}:
            return "null", None
        return self.type_of(node)

    @staticmethod
    def constraints(node: Mapping[str, Any]) -> str:
        said: list[str] = []
        if "enum" in node:
            said.append("one of " + ", ".join(_json(value) for value in node["enum"]))
        for key, word in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("minItems", "items ≥"),
            ("maxItems", "items ≤"),
        ):
            if key in node:
                said.append(f"{word} {node[key]}")
        if "pattern" in node:
            said.append(f"pattern {node['pattern']}")
        if "default" in node:
            said.append(f"default {_json(node['default'])}")
        if node.get("readOnly"):
            said.append("read-only")
        return "; ".join(said)

    def rows(self, node: Any, depth: int = 0) -> list[Row]:
        """The members of an object schema; anonymous nested objects are expanded in place."""
        node = self.resolve(self._single_ref(node) if isinstance(node, Mapping) else node)
        if not isinstance(node, Mapping):
            return []
        required = set(node.get("required", []))
        found: list[Row] = []
        for name, member in (node.get("properties") or {}).items():
            kind, link = self.type_of(member)
            plain = self.resolve(self._single_ref(member))
            found.append(
                Row(
                    name=str(name),
                    type=kind,
                    link=link,
                    required=name in required,
                    description=str(plain.get("description", "")),
                    constraints=self.constraints(plain),
                    depth=depth,
                )
            )
            if link is None and isinstance(plain, Mapping) and "properties" in plain:
                found.extend(self.rows(plain, depth + 1))
        return found

    def body(self, media_type: str, content: Mapping[str, Any], *, expand: bool = True) -> Body:
        """A body; a named schema is expanded only if ``expand`` (else its name links to it)."""
        schema = content.get("schema", {})
        name = self.schema_name(self._single_ref(schema)) if isinstance(schema, Mapping) else None
        kind, _link = self.type_of(schema)
        rows = self.rows(schema) if expand or name is None else []
        return Body(media_type, name, kind, rows)

    def parameter(self, raw: Any) -> Row:
        parameter = self.resolve(raw)
        schema = parameter.get("schema", {})
        kind, link = self.type_of(schema)
        return Row(
            name=f"{parameter.get('name', '')} ({parameter.get('in', '')})",
            type=kind,
            link=link,
            required=bool(parameter.get("required")),
            description=str(parameter.get("description", "")),
            constraints=self.constraints(self.resolve(schema)),
        )

    def answer(self, status: str, raw: Any) -> Answer:
        response = self.resolve(raw)
        headers = [
            Row(
                name=str(name),
                type=self.type_of(self.resolve(header).get("schema", {}))[0],
                link=None,
                required=False,
                description=str(self.resolve(header).get("description", "")),
                constraints="",
            )
            for name, header in (response.get("headers") or {}).items()
        ]
        # Errors share a few shapes; their members are shown once, under Schemas.
        success = status[:1] in ("2", "3")
        bodies = [
            self.body(media, content, expand=success) for media, content in _content(response)
        ]
        return Answer(status, str(response.get("description", "")), headers, bodies)

    def operation(self, path: str, method: str, item: Mapping[str, Any]) -> Operation:
        raw = item[method]
        parameters = [*item.get("parameters", []), *raw.get("parameters", [])]
        request = self.resolve(raw.get("requestBody", {}))
        security = raw.get("security", self.spec.get("security", []))
        answers = sorted(
            (raw.get("responses") or {}).items(), key=lambda pair: _status_key(pair[0])
        )
        return Operation(
            method=method.upper(),
            path=path,
            anchor=_anchor(method, path),
            summary=str(raw.get("summary", "")),
            description=str(raw.get("description", "")),
            needs_token=bool(security),
            parameters=[self.parameter(p) for p in parameters],
            request_required=bool(request.get("required")),
            request=[self.body(media, content) for media, content in _content(request)],
            answers=[self.answer(status, response) for status, response in answers],
        )

    def groups(self) -> list[Group]:
        """Operations grouped by their first tag, in the document's order of tags."""
        described = {tag["name"]: tag.get("description", "") for tag in self.spec.get("tags", [])}
        groups: dict[str, Group] = {
            name: Group(name, str(text)) for name, text in described.items()
        }
        for path, item in (self.spec.get("paths") or {}).items():
            for method in METHODS:
                if method in item:
                    tags = item[method].get("tags") or ["other"]
                    group = groups.setdefault(tags[0], Group(tags[0], ""))
                    group.operations.append(self.operation(path, method, item))
        return [group for group in groups.values() if group.operations]

    def schemas(self) -> Iterator[tuple[str, str, list[Row]]]:
        for name, schema in sorted((self.spec.get("components", {}).get("schemas") or {}).items()):
            yield name, str(schema.get("description", "")), self.rows(schema)

    def security_schemes(self) -> list[tuple[str, Mapping[str, Any]]]:
        schemes = self.spec.get("components", {}).get("securitySchemes") or {}
        return sorted(schemes.items())


def _json(value: Any) -> str:
    """A value as the document writes it: ``null``, ``true``, ``"VND"``."""
    return json.dumps(value, ensure_ascii=False)


def _content(node: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return list((node.get("content") or {}).items())


def _status_key(status: str) -> tuple[int, str]:
    return (int(status), "") if status.isdigit() else (1000, status)


def _anchor(method: str, path: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in path).strip("-")
    return f"{method.lower()}-{cleaned}"


# -- the page ------------------------------------------------------------------------------


def _render() -> str:
    """The page, made once per app: the document does not change while the app runs."""
    made: str | None = current_app.extensions.get("ledger.api_docs")
    if made is None:
        document = Document(current_app.extensions["ledger.api"].spec.to_dict())
        made = render_template(
            "api_docs.html",
            info=document.spec.get("info", {}),
            openapi_version=document.spec.get("openapi", ""),
            groups=document.groups(),
            schemas=list(document.schemas()),
            security_schemes=document.security_schemes(),
        )
        current_app.extensions["ledger.api_docs"] = made
    return made


@blp.route("/docs")
@blp.doc(
    summary="This API's documentation as a web page (Vietnamese and English)",
    responses={
        "200": {
            "description": "the OpenAPI document rendered as HTML, without JavaScript",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def page() -> Response:
    response = Response(_render(), mimetype="text/html")
    response.headers.update(caching.policy(caching.SHORT))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
