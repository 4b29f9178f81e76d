"""Alembic migrations for the ledger's tables, applied by ``ledger init``."""
