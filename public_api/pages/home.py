"""The home page: what came in, what went out, per fund and campaign."""

from __future__ import annotations

from flask import render_template

from public_api.pages.common import blueprint

blp = blueprint("home")


@blp.get("/")
def home() -> str:
    return render_template("pages/home.html")
