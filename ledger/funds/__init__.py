"""Fund operations: units, funds, campaigns, gifts, allocations and their balances.

Everything here is recorded as entries of the log (see docs/fund-entries.md); the
tables in ``ledger.funds.models`` are projections of those entries kept in the same
transaction, plus private data that never enters a leaf.
"""
