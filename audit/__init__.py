"""The audit layer: checks anyone can run on the log, and the awards built on them.

Nothing here writes outside the log: anomaly acknowledgements and award decisions
are entries, recorded through ``ledger.funds.recorder`` like every fund operation.
``load_all`` registers those entry kinds; the command line and the web app call it.
"""

from __future__ import annotations


def load_all() -> None:
    """Import the modules whose entry kinds register themselves with the recorder."""
    from audit import acknowledgements  # noqa: F401
    from audit.awards import workflow  # noqa: F401
