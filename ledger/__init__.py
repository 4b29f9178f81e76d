"""The verifiable donation ledger: log core, storage and fund operations.

The core modules (``canonical``, ``entries``, ``merkle``, ``keys``, ``checkpoint``,
``verify``) take and return plain values and never import Flask, so the command line,
a worker or an outside verifier can use them without a web application.
"""
