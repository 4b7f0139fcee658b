"""Importing a business's transaction history: `customer_id,date,amount` CSV files.

The row rules are pure: `parse_amount` (decimal text to integer minor units, exactly),
`parse_date` (a day or a timestamp to a UTC instant), `purchase_external_id` (the
event id a row always gets) and `read_transactions` (a whole file to checked columns,
with every bad row's line and reason). `import_transactions` then stores the rows one
transaction per chunk: it finds each customer's member by a channel identity (the
customer id on the import's channel), creates the missing ones in bulk, and records one
purchase event per row through `domain.events`. Event ids are derived from the row's
content, so importing the same file again creates no members and no events.

The parts: `values` (defaults and records), `rows` (the row rules and NegativeAmount),
`reading` (a file to checked columns) and `storing` (`import_transactions`).
"""

from domain.transactions.reading import read_transactions
from domain.transactions.rows import (
    NegativeAmount,
    check_channel,
    check_scale,
    member_profile,
    parse_amount,
    parse_customer,
    parse_date,
    purchase_external_id,
)
from domain.transactions.storing import (
    import_transactions,
    summary_counts,
)
from domain.transactions.values import (
    ACTOR,
    DEFAULT_CHUNK,
    DEFAULT_COLUMNS,
    DEFAULT_SCALE,
    MAX_CUSTOMER_ID,
    Columns,
    TransactionReport,
    Transactions,
)

__all__ = [
    "ACTOR",
    "Columns",
    "DEFAULT_CHUNK",
    "DEFAULT_COLUMNS",
    "DEFAULT_SCALE",
    "MAX_CUSTOMER_ID",
    "NegativeAmount",
    "TransactionReport",
    "Transactions",
    "check_channel",
    "check_scale",
    "import_transactions",
    "member_profile",
    "parse_amount",
    "parse_customer",
    "parse_date",
    "purchase_external_id",
    "read_transactions",
    "summary_counts",
]
