"""The load baseline: the smallest Flask app, served by the same gunicorn settings.

Whatever the machine, gunicorn, the sync workers and loopback HTTP cost this app too;
the ledger's read throughput is reported as a ratio to it, measured in the same run.
"""

from __future__ import annotations

from flask import Flask, Response

app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response("ok\n", mimetype="text/plain")
