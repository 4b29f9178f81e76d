"""Helpers the test modules share: ``from support.statements import Sheet``.

``tests/`` is on ``sys.path`` (``pythonpath`` in pyproject.toml), so these import the
same way under ``--import-mode=importlib`` wherever the test module sits.
"""
