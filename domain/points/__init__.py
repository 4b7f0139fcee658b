"""Points: an append-only ledger per member, earn rules, expiry and benefits.

`rules` holds the pure rules (FIFO lots, expiry remainders, multiplier and cap math,
validation); `ledger` the use cases that write entries; `benefits` the catalogue.
"""
