"""The application factory: settings in, a configured Flask app out, no side effects.

Creating the app opens no database connection and writes nothing; migrations and
keys are the business of ``ledger init``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from ledger.db import Database
from ledger.settings import Settings
from public_api import database, errors
from public_api.converters import IndexConverter
from public_api.openapi import make_api


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides ``LEDGER_*`` settings and Flask config keys."""
    app = Flask(__name__)
    app.url_map.converters["index"] = IndexConverter
    settings = Settings.load(config)
    app.config.update(
        {key: value for key, value in (config or {}).items() if not key.startswith("LEDGER_")}
    )
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["ledger.settings"] = settings
    app.extensions["ledger.database"] = Database(settings.database_url)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    database.init_app(app)
    api = make_api(app)
    api.register_converter(IndexConverter, IndexConverter.openapi_schema)
    errors.init_app(app)

    from audit import load_all as load_audit_kinds
    from public_api import (
        api_docs,
        audit_views,
        award_views,
        caching,
        compression,
        cors,
        donation_views,
        finding_views,
        fund_views,
        health_views,
        i18n,
        list_views,
        pages,
        proxies,
        ranking_views,
        ratelimit,
        receipt_pages,
        receipt_views,
        security_headers,
        tile_views,
        usage_views,
        write_views,
    )
    from public_api.import_views import blp as import_blueprint
    from public_api.log_views import blp as log_blueprint

    caching.init_app(app)  # errors and writes: no-store
    cors.init_app(app)  # public reads: Access-Control-Allow-Origin: *
    compression.init_app(app)  # gzip for text answers
    security_headers.init_app(app)  # nosniff, no framing, no referrer, CSP for non-pages
    ratelimit.init_app(app, settings)  # per client address; 429 with Retry-After
    proxies.init_app(app, settings.trusted_proxies)  # the client's address behind proxies

    app.register_blueprint(health_views.blp)  # /healthz and /readyz for load balancers
    api.register_blueprint(api_docs.blp)  # /api/v1/docs, the document for people
    api.register_blueprint(log_blueprint)
    app.register_blueprint(tile_views.blp)  # the same log as C2SP tlog-tiles
    api.register_blueprint(fund_views.blp)
    api.register_blueprint(list_views.blp)  # gifts, spending, leaderboard, statistics
    api.register_blueprint(donation_views.blp)
    api.register_blueprint(receipt_views.blp)
    api.register_blueprint(usage_views.blp)  # where each gift went
    i18n.init_app(app)  # the pages' language: ?lang=en, Vietnamese by default
    pages.register(app)  # the public web pages
    receipt_pages.register(app, api)  # the donor's receipt page /r/<id> and its PDF
    write_views.register(api)  # the writers' endpoints and their bearer security scheme
    api.register_blueprint(import_blueprint)  # statement imports (bearer, after the scheme)
    load_audit_kinds()  # acknowledgements and award entries, recorded like fund operations
    audit_views.register(api)  # the auditor's API: the full audit
    finding_views.register(api)  # anomaly findings and their acknowledgements
    ranking_views.register(api)  # mobiliser rankings
    award_views.register(api)  # nominations, the board's decisions, exports
    return app
