"""Audit: independent verification, anomaly checks and mobiliser rankings (to come)."""
