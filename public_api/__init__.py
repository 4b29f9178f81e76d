"""The HTTP layer: public JSON API, receipts and (later) writers' and auditors' APIs."""

from public_api.app import create_app

__all__ = ["create_app"]
