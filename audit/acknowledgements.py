"""Acknowledged findings: an entry of kind ``acknowledgement`` with its reason."""
