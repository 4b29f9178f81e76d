"""gunicorn entry point: ``gunicorn wsgi:app``."""

from public_api import create_app

app = create_app()
