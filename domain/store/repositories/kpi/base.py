"""The shared pieces of KpiRepository's parts: the scratch (temporary) tables of one
refresh, the constants and table aliases, the state dataclasses, small helpers and
`KpiBase` (the connection and the dialect-aware SQL helpers every part uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    Table,
    cast,
    func,
    literal,
    literal_column,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.kpi.inputs import WEEK_DAYS, WINDOW_DAYS
from domain.store.tables import Id, kpi_member_months, kpi_member_summary, member_days

# member_days columns added up into the day totals, in kpi_activity_days order after
# active and purchasers, and the increments a refresh keeps per changed cell
_DAY_COLUMNS_ADDED = ("revenue_minor", "events", "logins", "posts", "comments", "shares",
                      "check_ins")
_CELL_ADDITIVE = (*_DAY_COLUMNS_ADDED, "purchases")
# The changed member-day cells of one incremental refresh: a temporary table (per
# connection, never in the schema), filled and emptied inside the refresh.
new_cells = Table(
    "kpi_new_cells", MetaData(),
    Column("member_id", BigInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("month", Date, nullable=False),
    Column("new_cell", Integer, nullable=False),  # 1: the cell did not exist before
    Column("new_purchase", Integer, nullable=False),  # 1: first purchase of the day
    Column("bought", Integer, nullable=False),  # 1: a purchase day now
    Column("revenue_now", BigInteger, nullable=False),
    *(Column(name, BigInteger, nullable=False) for name in _CELL_ADDITIVE),
    prefixes=["TEMPORARY"],
)
# The members whose kpi_member_trailing rows one step changes (kpi_trailing_counts moves
# by their contributions before and after): a temporary table like kpi_new_cells.
moving = Table(
    "kpi_trailing_moving", MetaData(),
    Column("member_id", BigInteger, primary_key=True),
    prefixes=["TEMPORARY"],
)
_COUNT_KEYS = ["tier_id", "d30", "in_week", "on_day", "prior"]
FITS_KEPT = 20  # model fits kept in kpi_model_fits (the latest)
# The trailing windows kept per member, as (first, last) days before the anchor day.
_TRAILING = {"d1": (0, 0), "d7": (WEEK_DAYS - 1, 0), "d30": (WINDOW_DAYS - 1, 0),
             "prior30": (2 * WINDOW_DAYS - 1, WINDOW_DAYS)}
_TRAILING_SPAN = 2 * WINDOW_DAYS
# The changed members of one incremental refresh, read once: the aggregate of their new
# cells (kpi_new_cells), their kpi_member_summary and kpi_member_trailing values before
# (NULL: no row) and the tier they are counted under; a temporary table like kpi_new_cells.
new_members = Table(
    "kpi_new_members", MetaData(),
    Column("member_id", Id, primary_key=True),
    Column("first_active", Date, nullable=False),
    Column("last_active", Date, nullable=False),
    Column("active_days", Integer, nullable=False),  # new cells
    Column("first_purchase", Date),  # of the new cells now purchase days
    Column("last_purchase", Date),
    Column("purchase_days", Integer, nullable=False),  # new purchase days
    Column("revenue_minor", BigInteger, nullable=False),  # added purchase-day revenue
    Column("first_purchase_revenue_minor", BigInteger),  # revenue of first_purchase's cell
    Column("first_active_before", Date),
    Column("first_purchase_before", Date),
    # new cells inside the trailing windows ending on the anchor day, and the row before
    *(Column(name, Integer, nullable=False) for name in _TRAILING),
    *(Column(f"{name}_before", Integer) for name in _TRAILING),
    Column("tier_id", BigInteger),
    prefixes=["TEMPORARY"],
)
# The changed (member, month) cells of one incremental refresh: the increments, the
# kpi_member_months row before (had_row 0: none) and the member's cohort months.
new_months = Table(
    "kpi_new_months", MetaData(),
    Column("member_id", Id, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("active_days", Integer, nullable=False),
    Column("purchase_days", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("had_row", Integer, nullable=False),
    Column("purchase_days_before", Integer, nullable=False),
    Column("revenue_before", BigInteger, nullable=False),
    Column("cohort", Date, nullable=False),
    Column("buyer_cohort", Date),
    prefixes=["TEMPORARY"],
    sqlite_with_rowid=False,
)
FULL_REBUILD_DAYS = 62  # more days than this with new events (or join days): rebuild instead
_CHUNK = 500
md = member_days
summary = kpi_member_summary
months_t = kpi_member_months
# literal 0, not a bound parameter: SQLite then reads the partial purchase-day index alone
_PURCHASE_DAY = md.c.purchases > literal_column("0")


@dataclass(frozen=True, slots=True)
class KpiState:
    events_watermark: int
    latest_day: date | None
    refreshed_at: datetime


@dataclass(frozen=True, slots=True)
class MemberMarks:
    """The largest member id and tier-assignment id (the member-side watermarks)."""

    members: int
    assignments: int




def _sum(expr):
    return func.coalesce(func.sum(expr), literal(0))



def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


class KpiBase:
    """The connection and the SQL helpers shared by every part of KpiRepository."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def _month(self, column):
        """The first day of the column's calendar month, as a Date."""
        if self._pg:
            return cast(func.date_trunc("month", column), Date)
        return type_coerce(func.substr(column, 1, 7).concat("-01"), Date)

    def _insert(self, table):
        return (postgresql if self._pg else sqlite).insert(table)

    async def _upsert_adding(self, table, keys: list[str], query, columns: list[str], *,
                             kept: tuple | list = ()) -> None:
        """INSERT the query's rows; on a key conflict add the other columns to the row's
        (but leave the `kept` ones as they are)."""
        # (a WHERE before ON CONFLICT: SQLite cannot parse `FROM t ON CONFLICT` otherwise)
        statement = self._insert(table).from_select(columns, query.where(true()))
        await self.conn.execute(statement.on_conflict_do_update(
            index_elements=keys, set_={col: table.c[col] + statement.excluded[col]
                                       for col in columns if col not in keys
                                       and col not in kept}))
