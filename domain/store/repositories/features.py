"""Member features for tier models, computed in SQL from `members` and the `member_days`
rollup, fetched in bulk as numpy arrays (a million members in seconds).

The catalogue declares each feature once: its name, what it means, where it comes from
(a per-member expression over `members m`, or an aggregate over the member's rollup rows
`member_days d`) and its SQL. Features of other areas (points balance, accepted and
converted referrals) are correlated sub-selects over their own tables in the `members`
source.
Windowed features count the UTC days in (as_of - window_days, as_of].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.tier_models import MemberFeatures, UnknownFeature

NEVER_ACTIVE_RECENCY = 36_500  # recency_days of a member without any activity: a century


@dataclass(frozen=True, slots=True)
class Window:
    """SQL literals and date arithmetic for one computation (as-of day and window)."""

    dialect: str
    as_of_day: date
    window_days: int

    def day(self, value: date) -> str:
        return f"DATE '{value.isoformat()}'" if self.dialect == "postgresql" \
            else f"'{value.isoformat()}'"

    @property
    def as_of(self) -> str:
        return self.day(self.as_of_day)

    @property
    def since(self) -> str:  # exclusive lower bound of the window
        return self.day(self.as_of_day - timedelta(days=self.window_days))

    def days_until_as_of(self, day_sql: str) -> str:
        if self.dialect == "postgresql":
            return f"({self.as_of} - {day_sql})"
        return f"CAST(julianday({self.as_of}) - julianday({day_sql}) AS INTEGER)"

    def joined_day(self) -> str:
        if self.dialect == "postgresql":
            return "CAST(timezone('UTC', m.joined_at) AS DATE)"
        return "substr(m.joined_at, 1, 10)"

    def in_window(self, value: str) -> str:
        return f"sum(CASE WHEN d.day > {self.since} THEN {value} ELSE 0 END)"


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    description: str
    source: str  # "members" (expression over m) or "activity" (aggregate over d)
    sql: Callable[[Window], str]
    lifetime: bool = False  # an activity aggregate that reads days before the window
    missing: float = 0.0  # value for a member without rollup rows (activity features)


CATALOGUE: dict[str, Feature] = {f.name: f for f in (
    Feature("spend_minor", "Revenue in minor units in the window.", "activity",
            lambda w: w.in_window("d.revenue_minor")),
    Feature("spend_minor_lifetime", "Revenue in minor units up to the as-of day.", "activity",
            lambda w: "sum(d.revenue_minor)", lifetime=True),
    Feature("active_days", "Days with any event in the window.", "activity",
            lambda w: w.in_window("1")),
    Feature("posts", "Posts in the window.", "activity", lambda w: w.in_window("d.posts")),
    Feature("comments", "Comments in the window.", "activity",
            lambda w: w.in_window("d.comments")),
    Feature("check_ins", "Check-ins in the window.", "activity",
            lambda w: w.in_window("d.check_ins")),
    Feature("logins", "Logins in the window.", "activity", lambda w: w.in_window("d.logins")),
    Feature("purchases", "Days with a purchase in the window.", "activity",
            lambda w: w.in_window("CASE WHEN d.purchases > 0 THEN 1 ELSE 0 END")),
    Feature("recency_days", "Days from the last active day to the as-of day "
            f"({NEVER_ACTIVE_RECENCY} when never active).", "activity",
            lambda w: w.days_until_as_of("max(d.day)"), lifetime=True,
            missing=NEVER_ACTIVE_RECENCY),
    Feature("tenure_days", "Days from the join day to the as-of day.", "members",
            lambda w: w.days_until_as_of(w.joined_day())),
    Feature("points_balance", "Current points balance (the ledger now, not as of the day).",
            "members", lambda w: "coalesce((SELECT b.balance FROM points_balances b"
                                 " WHERE b.member_id = m.id), 0)"),
    Feature("referrals_accepted", "Invitees who joined with the member's code on or before "
            "the as-of day (referrals a reviewer rejected excluded).", "members",
            lambda w: "(SELECT count(*) FROM referrals r WHERE r.inviter_id = m.id"
                      f" AND r.join_day <= {w.as_of} AND r.review <> 'rejected')"),
    Feature("referrals_converted", "Invitees of the member whose first purchase inside the "
            "attribution window fell on or before the as-of day (rejected excluded).",
            "members",
            lambda w: "(SELECT count(*) FROM referrals r WHERE r.inviter_id = m.id"
                      f" AND r.first_purchase_on <= {w.as_of} AND r.status = 'converted'"
                      " AND r.review <> 'rejected')"),
)}


def describe() -> list[tuple[str, str]]:
    """(name, description) of every feature, by name."""
    return [(f.name, f.description) for f in sorted(CATALOGUE.values(), key=lambda f: f.name)]


class FeatureRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @staticmethod
    def names() -> frozenset[str]:
        return frozenset(CATALOGUE)

    @staticmethod
    def describe() -> list[tuple[str, str]]:
        return describe()

    async def load(self, names: Iterable[str], *, as_of: date, window_days: int
                   ) -> MemberFeatures:
        """The named features of every active (not merged) member, by member id ascending."""
        wanted = list(dict.fromkeys(names))
        for index, name in enumerate(wanted):
            if name not in CATALOGUE:
                raise UnknownFeature(f"unknown feature {name!r}", field=f"features.{index}")
        window = Window(self.conn.dialect.name, as_of, window_days)
        from_members = [CATALOGUE[n] for n in wanted if CATALOGUE[n].source == "members"]
        from_activity = [CATALOGUE[n] for n in wanted if CATALOGUE[n].source == "activity"]
        columns = ", ".join(["m.id", *(f"CAST({f.sql(window)} AS BIGINT)" for f in from_members)])
        member_rows = await self._fetch(
            f"SELECT {columns} FROM members m WHERE m.status = 'active' ORDER BY m.id",
            1 + len(from_members))
        member_ids = member_rows[:, 0].astype(np.int64)
        values = {f.name: member_rows[:, 1 + i] for i, f in enumerate(from_members)}
        if from_activity:
            values.update(await self._activity(from_activity, window, member_ids))
        return MemberFeatures(member_ids=member_ids, values={n: values[n] for n in wanted})

    async def _activity(self, features: list[Feature], window: Window,
                        member_ids: np.ndarray) -> dict[str, np.ndarray]:
        # A scan in member order groups without a sort; SQLite must not pick the day index
        # for the date range (random row lookups, then a sort): `+d.day` keeps it off.
        day = "+d.day" if window.dialect == "sqlite" else "d.day"
        where = f"{day} <= {window.as_of}"
        if not any(f.lifetime for f in features):  # only the window's rows count
            where += f" AND {day} > {window.since}"
        columns = ", ".join(f"CAST({f.sql(window)} AS BIGINT)" for f in features)
        rows = await self._fetch(f"SELECT d.member_id, {columns} FROM member_days d "
                                 f"WHERE {where} GROUP BY d.member_id ORDER BY d.member_id",
                                 1 + len(features))
        ids = rows[:, 0].astype(np.int64)
        at = np.clip(np.searchsorted(ids, member_ids), 0, max(len(ids) - 1, 0))
        found = ids[at] == member_ids if len(ids) else np.zeros(len(member_ids), dtype=bool)
        return {f.name: np.where(found, rows[at, 1 + i] if len(ids) else 0.0, f.missing)
                for i, f in enumerate(features)}

    async def _fetch(self, sql: str, width: int) -> np.ndarray:
        """All rows of `sql` as a float64 matrix, fetched by the driver in one go."""
        rows = await fetch_raw(self.conn, sql)
        if not rows:
            return np.zeros((0, width))
        return np.array(rows, dtype=np.float64)


async def fetch_raw(conn: AsyncConnection, sql: str) -> list:
    """Rows of `sql` from the driver itself (tuples or records, no SQLAlchemy Row per row),
    inside the connection's transaction."""
    await conn.execute(text("SELECT 1"))  # make sure the transaction has begun
    raw = (await conn.get_raw_connection()).driver_connection
    if conn.dialect.name == "postgresql":
        return [tuple(r) for r in await raw.fetch(sql)]
    cursor = await raw.execute(sql)
    try:
        return await cursor.fetchall()
    finally:
        await cursor.close()
