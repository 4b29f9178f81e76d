"""The HTTP layer: the public JSON API, the writers' API and (later) receipts and auditors' APIs."""

from public_api.app import create_app

__all__ = ["create_app"]
