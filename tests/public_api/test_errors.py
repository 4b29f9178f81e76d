"""Bad input, unknown paths and an unready database: always a 4xx or 503 JSON error, never 5xx.

Also the OpenAPI document, and that building the app touches neither disk nor database.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.pool import Pool
from werkzeug.test import TestResponse

from ledger.db import Database
from ledger.keys import SigningKey
from public_api import create_app

LOG = "/api/v1/log"
SIZE = 5  # genesis and four notes
HUGE = [str(2**64), str(10**30)]


@pytest.fixture
def api(
    app: Flask, ledger: Database, signer: SigningKey, append_notes: Callable[..., None]
) -> Iterator[FlaskClient]:
    """A client for a log of ``SIZE`` entries; the app's connections are closed afterwards."""
    append_notes(ledger, signer, SIZE - 1, batch=2)
    yield app.test_client()
    app.extensions["ledger.database"].dispose()


def error_of(response: TestResponse) -> dict[str, Any]:
    """The contract's error body, after checking its shape; returns the inner object."""
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    return dict(error)


def assert_error(response: TestResponse, status: int, *mentions: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error = error_of(response)
    for word in mentions:
        assert word in error["message"], error
    assert "immutable" not in response.headers.get("Cache-Control", "")
    return error


BAD_PARAMETERS = [
    # (url, field named in the message)
    *[(f"{LOG}/entries?start={value}", "start") for value in ("abc", "1.5", "", "-1", *HUGE)],
    *[(f"{LOG}/entries?limit={value}", "limit") for value in ("abc", "1.5", "", "0", "-3")],
    (f"{LOG}/entries?limit=1001", "1000"),
    (f"{LOG}/entries?limit={10**30}", "1000"),
    # int() would read these; a URL parameter is plain ASCII decimal.
    *[(f"{LOG}/entries?start={quote(value)}", "start") for value in ("\uff11", " 1", "+1", "1_0")],
    (f"{LOG}/proofs/inclusion", "index"),
    (f"{LOG}/proofs/inclusion?tree_size=3", "index"),
    *[(f"{LOG}/proofs/inclusion?index={value}", "index") for value in ("x", "1.5", "", "-1")],
    *[(f"{LOG}/proofs/inclusion?index={value}", "index") for value in HUGE],
    (f"{LOG}/proofs/inclusion?index=0&tree_size=0", "tree_size"),
    (f"{LOG}/proofs/inclusion?index=0&tree_size=1.5", "tree_size"),
    (f"{LOG}/proofs/inclusion?index=0&tree_size={2**64}", "tree_size"),
    (f"{LOG}/proofs/inclusion?index=3&tree_size=3", "3"),
    (f"{LOG}/proofs/inclusion?index={SIZE}", str(SIZE)),
    (f"{LOG}/proofs/consistency", "first"),
    (f"{LOG}/proofs/consistency?second=2", "first"),
    *[(f"{LOG}/proofs/consistency?first={value}", "first") for value in ("0", "-1", "", "a")],
    (f"{LOG}/proofs/consistency?first={10**30}&second=2", "first"),
    (f"{LOG}/proofs/consistency?first=1&second=1.5", "second"),
    (f"{LOG}/proofs/consistency?first=1&second=0", "second"),
    (f"{LOG}/proofs/consistency?first=3&second=2", "first"),
    (f"{LOG}/proofs/consistency?first={SIZE + 1}", "first"),
]

NOT_FOUND = [
    # (url, words the message must contain)
    (f"{LOG}/entries?start={SIZE + 1}", (str(SIZE + 1), str(SIZE))),
    (f"{LOG}/entries?start={2**53 - 1}", (str(2**53 - 1),)),
    (f"{LOG}/entries/{SIZE}", (str(SIZE),)),
    (f"{LOG}/entries/{2**64}", (str(2**64),)),
    (f"{LOG}/entries/{2**53}", (str(2**53),)),
    (f"{LOG}/entries/-1", ()),
    (f"{LOG}/entries/abc", ()),
    (f"{LOG}/entries/1.5", ()),
    (f"{LOG}/entries/00", ()),  # one spelling per immutable resource
    (f"{LOG}/entries/\uff17", ()),  # a fullwidth digit
    (f"{LOG}/proofs/inclusion?index=0&tree_size={SIZE + 1}", (str(SIZE + 1), str(SIZE))),
    (f"{LOG}/proofs/consistency?first=1&second={SIZE + 1}", (str(SIZE + 1),)),
    ("/api/v1/nope", ()),
    ("/api/v1/log", ()),
    (f"{LOG}/entries/0/extra", ()),
]


def test_bad_parameters_answer_400_naming_the_problem(api: FlaskClient) -> None:
    for url, mention in BAD_PARAMETERS:
        error = assert_error(api.get(url), 400, mention)
        assert error["code"] == "bad_request", url


def test_what_does_not_exist_answers_404(api: FlaskClient) -> None:
    for url, mentions in NOT_FOUND:
        error = assert_error(api.get(url), 404, *mentions)
        assert error["code"] == "not_found", url


def test_the_boundaries_themselves_are_fine(api: FlaskClient) -> None:
    """The last valid value next to each invalid one above, so the limits are exact."""
    for url in (
        f"{LOG}/entries?start={SIZE}",
        f"{LOG}/entries?limit=1000",
        f"{LOG}/entries?limit=1",
        f"{LOG}/entries/{SIZE - 1}",
        f"{LOG}/proofs/inclusion?index={SIZE - 1}",
        f"{LOG}/proofs/inclusion?index=0&tree_size={SIZE}",
        f"{LOG}/proofs/consistency?first={SIZE}",
        f"{LOG}/proofs/consistency?first=1&second={SIZE}",
        f"{LOG}/proofs/consistency?first=2&second=2",
    ):
        assert api.get(url).status_code == 200, url


def test_the_page_size_limit_follows_the_setting(env: dict[str, str], ledger: Database) -> None:
    app = create_app({**env, "LEDGER_MAX_PAGE_SIZE": "3", "TESTING": True})
    client = app.test_client()
    assert client.get(f"{LOG}/entries?limit=3").status_code == 200
    assert_error(client.get(f"{LOG}/entries?limit=4"), 400, "at most 3")
    app.extensions["ledger.database"].dispose()


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_writing_to_a_read_endpoint_answers_405(api: FlaskClient, method: str) -> None:
    for path in ("/checkpoint", "/keys", "/entries", "/entries/0", "/proofs/inclusion"):
        response = getattr(api, method)(f"{LOG}{path}", json={"index": 0})
        error = assert_error(response, 405)
        assert error["code"] == "method_not_allowed"
        assert "GET" in response.headers["Allow"]


def test_pages_outside_the_api_keep_html_errors(api: FlaskClient) -> None:
    response = api.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert api.get("/").mimetype == "text/html"


# Query values that parsers trip over, next to arbitrary text and numbers.
TRICKY = st.sampled_from(
    ["", "0", "1", "-0", "1.0", "1e3", "NaN", "inf", "0x10", "\u0661", "\uff11", " 1", "1 ", "+1"]
)
VALUES = st.one_of(
    TRICKY.map(quote),
    st.text(max_size=24).map(lambda text: quote(text, safe="")),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=-2, max_value=SIZE + 2).map(str),
    st.binary(max_size=8).map(quote_from_bytes),  # not UTF-8, once decoded
)
NAMES = st.one_of(
    st.sampled_from(["start", "limit", "index", "tree_size", "first", "second"]),
    st.text(max_size=8).map(lambda text: quote(text, safe="")),
)


@given(
    path=st.sampled_from(["/entries", "/proofs/inclusion", "/proofs/consistency"]),
    pairs=st.lists(st.tuples(NAMES, VALUES), max_size=4),
)
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_fuzzed_queries_never_fail_the_server(
    api: FlaskClient, path: str, pairs: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{name}={value}" for name, value in pairs)
    response = api.get(f"{LOG}{path}", query_string=query)
    assert response.status_code in (200, 400, 404), (query, response.status_code)
    if response.status_code >= 400:
        error_of(response)
    else:
        assert isinstance(response.get_json(), dict)


# --- the OpenAPI document ---------------------------------------------------------

LOG_PATHS = {
    f"{LOG}/checkpoint": set(),
    f"{LOG}/keys": set(),
    f"{LOG}/entries": {"400", "404"},
    f"{LOG}/entries/{{index}}": {"404"},
    f"{LOG}/proofs/inclusion": {"400", "404"},
    f"{LOG}/proofs/consistency": {"400", "404"},
}
PARAMETERS = {
    f"{LOG}/entries": {("start", "query", False), ("limit", "query", False)},
    f"{LOG}/entries/{{index}}": {("index", "path", True)},
    f"{LOG}/proofs/inclusion": {("index", "query", True), ("tree_size", "query", False)},
    f"{LOG}/proofs/consistency": {("first", "query", True), ("second", "query", False)},
}
REQUIRED_MEMBERS = {
    f"{LOG}/keys": {"keys"},
    f"{LOG}/entries": {"entries", "next"},
    f"{LOG}/entries/{{index}}": {"index", "leaf", "leaf_hash", "entry"},
    f"{LOG}/proofs/inclusion": {"index", "tree_size", "leaf_hash", "hashes"},
    f"{LOG}/proofs/consistency": {"first", "second", "hashes"},
}


def resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = document
        for part in ref[2:].split("/"):
            assert part in node, f"unresolvable {ref}"
            node = node[part]
    return node


def every_ref(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from every_ref(value)
    elif isinstance(node, list):
        for value in node:
            yield from every_ref(value)


def json_schema(document: dict[str, Any], response: Any) -> dict[str, Any]:
    response = resolve(document, response)
    assert response["description"]
    schema: dict[str, Any] = resolve(document, response["content"]["application/json"]["schema"])
    return schema


def is_error_schema(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    error = resolve(document, schema.get("properties", {}).get("error"))
    return (
        schema.get("required") == ["error"]
        and isinstance(error, dict)
        and {"code", "message"} <= set(error.get("required", []))
    )


@pytest.fixture
def openapi(api: FlaskClient) -> dict[str, Any]:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document: dict[str, Any] = response.get_json()
    return document


def test_openapi_is_an_openapi_3_document(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    assert openapi["info"]["title"] and openapi["info"]["version"]
    for ref in every_ref(openapi):
        resolve(openapi, {"$ref": ref})
    for path, item in openapi["paths"].items():
        assert path.startswith("/api/"), path
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "put", "post", "delete", "patch", "head", "options"}
            assert operation["responses"], (path, method)
            for status, response in operation["responses"].items():
                assert status == "default" or (status.isdigit() and len(status) == 3)
                assert resolve(openapi, response)["description"], (path, status)


def test_openapi_lists_every_log_endpoint_with_its_answers(openapi: dict[str, Any]) -> None:
    assert set(LOG_PATHS) <= set(openapi["paths"])
    for path, error_statuses in LOG_PATHS.items():
        item = openapi["paths"][path]
        operation = item["get"]
        responses = operation["responses"]
        assert "200" in responses, path
        assert is_error_schema(openapi, json_schema(openapi, responses["default"])), path
        for status in error_statuses:
            assert is_error_schema(openapi, json_schema(openapi, responses[status])), path

        declared = [*item.get("parameters", []), *operation.get("parameters", [])]
        parameters = {
            (p["name"], p["in"], p.get("required", False))
            for p in (resolve(openapi, p) for p in declared)
        }
        assert parameters == PARAMETERS.get(path, set()), path
        if path in REQUIRED_MEMBERS:
            schema = json_schema(openapi, responses["200"])
            assert REQUIRED_MEMBERS[path] <= set(schema["required"]), path

    checkpoint = openapi["paths"][f"{LOG}/checkpoint"]["get"]["responses"]["200"]
    assert "text/plain" in resolve(openapi, checkpoint)["content"]


# --- an app without a ready database ----------------------------------------------


def _no_ledger_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("LEDGER_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def connections() -> Iterator[list[object]]:
    """Every database connection any engine opens while the test runs."""
    opened: list[object] = []

    def record(dbapi_connection: object, _record: object) -> None:
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", record)
    yield opened
    event.remove(Pool, "connect", record)


def test_building_the_app_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, connections: list[object]
) -> None:
    _no_ledger_environment(monkeypatch)
    instance = tmp_path / "not" / "there"
    app = create_app({"LEDGER_INSTANCE_DIR": str(instance), "TESTING": True})
    assert connections == []
    assert list(tmp_path.iterdir()) == []

    response = app.test_client().get(f"{LOG}/checkpoint")
    error = assert_error(response, 503, "ledger init")
    assert error["code"] == "not_initialised"
    assert list(tmp_path.iterdir()) == [], "a request must not create the database either"


def test_building_the_app_opens_no_connection(
    env: dict[str, str], connections: list[object], db: Database
) -> None:
    app = create_app({**env, "TESTING": True})
    assert connections == []
    with db.engine.connect():  # the listener does see connections, when there are some
        pass
    assert len(connections) == 1
    app.extensions["ledger.database"].dispose()


UNINITIALISED_URLS = [
    f"{LOG}/checkpoint",
    f"{LOG}/keys",
    f"{LOG}/entries",
    f"{LOG}/entries/0",
    f"{LOG}/proofs/inclusion?index=0",
    f"{LOG}/proofs/consistency?first=1&second=1",
]


@pytest.mark.parametrize("touched", [False, True], ids=["never-opened", "empty"])
def test_an_uninitialised_database_answers_503_run_ledger_init(
    env: dict[str, str], db: Database, touched: bool
) -> None:
    """503, not 404: the log is not missing anything, the service is not set up yet."""
    if touched:
        with db.engine.connect():  # an empty SQLite file, or an empty PostgreSQL schema
            pass
    app = create_app({**env, "TESTING": True})
    client = app.test_client()
    for url in UNINITIALISED_URLS:
        response = client.get(url)
        error = assert_error(response, 503, "ledger init")
        assert error["code"] == "not_initialised", url
        assert response.headers["Retry-After"]
    app.extensions["ledger.database"].dispose()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_database_that_is_down_answers_503_unavailable(env: dict[str, str]) -> None:
    url = f"postgresql+psycopg://ledger@127.0.0.1:{_closed_port()}/ledger"
    app = create_app({**env, "LEDGER_DATABASE_URL": url, "TESTING": True})
    response = app.test_client().get(f"{LOG}/checkpoint")
    error = assert_error(response, 503)
    assert error["code"] == "unavailable"
    assert url not in error["message"]
    app.extensions["ledger.database"].dispose()
