"""Pages: explorer."""

from __future__ import annotations

from public_api.pages.common import blueprint

blp = blueprint("pages_explorer")
