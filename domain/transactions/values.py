"""Transaction import values: the defaults (chunk, columns, currency scale), the header
titles a file needs (`Columns`), a file's checked rows column by column (`Transactions`)
and what an import did (`TransactionReport`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.importing import Rejected

DEFAULT_CHUNK = 50_000  # rows per transaction
DEFAULT_COLUMNS = ("customer_id", "date", "amount")
DEFAULT_SCALE = 100  # minor units per major unit (cents per dollar)
ACTOR = "import-transactions"
MAX_CUSTOMER_ID = 128  # characters, as any channel identity



@dataclass(frozen=True, slots=True)
class Columns:
    """The header titles of the three columns a transactions file needs."""

    customer: str = DEFAULT_COLUMNS[0]
    date: str = DEFAULT_COLUMNS[1]
    amount: str = DEFAULT_COLUMNS[2]


@dataclass(slots=True)
class Transactions:
    """A file's valid rows column by column (index `i` of every list is one row, in file
    order), and its rejected rows."""

    line: list[int] = field(default_factory=list)
    customer: list[str] = field(default_factory=list)
    occurred_us: list[int] = field(default_factory=list)  # UTC microseconds since EPOCH
    amount_minor: list[int] = field(default_factory=list)
    external_id: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    read: int = 0  # rows read, blank lines not counted

    def __len__(self) -> int:
        return len(self.line)

    def first_seen(self) -> dict[str, int]:
        """Each customer's earliest transaction in the file (UTC microseconds): the
        joined_at of a member the import creates."""
        first: dict[str, int] = {}
        for customer, us in zip(self.customer, self.occurred_us, strict=True):
            if us < first.get(customer, us + 1):
                first[customer] = us
        return first


@dataclass(slots=True)
class TransactionReport:
    read: int = 0
    members_created: int = 0
    purchases: int = 0  # purchase events newly recorded
    duplicates: int = 0  # rows whose purchase was recorded before (an earlier import)
    rejected: list[Rejected] = field(default_factory=list)
