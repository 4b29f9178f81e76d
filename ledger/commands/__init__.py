"""Sub-commands of ``ledger``, one module per area; each has ``register(main)``."""
