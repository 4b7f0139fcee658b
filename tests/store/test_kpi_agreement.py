"""THE agreement test: the SQL producer of the funding report's inputs (rollups refreshed
incrementally and in full) and a straightforward Python computation over the raw events
agree exactly on a seeded demo community, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from domain import demo, kpi_reports
from domain.clock import utcnow
from domain.events import Event, EventType
from domain.kpi.inputs import (
    NO_TIER,
    TRAILING_DAYS,
    CohortMatrix,
    FundingInputs,
    month_start,
    months_between,
    next_month,
)
from domain.models import histories as model_histories
from domain.store import bulk
from domain.store.tables import (
    acquisition_spend,
    events,
    kpi_activity_days,
    kpi_cohort_months,
    kpi_joined_days,
    kpi_member_months,
    kpi_member_summary,
    kpi_member_trailing,
    kpi_trailing_counts,
    members,
    tiers,
)

END = date(2025, 6, 1)  # the demo's data ends before this day


async def _raw(db):
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(events.c.member_id, events.c.type,
                                          events.c.occurred_at, events.c.amount_minor))).all()
        people = (await conn.execute(select(members.c.id, members.c.channel, members.c.tier_id,
                                            members.c.joined_at, members.c.status))).all()
        keys = dict((await conn.execute(select(tiers.c.id, tiers.c.key))).all())
        spend = (await conn.execute(select(acquisition_spend.c.channel,
                                           acquisition_spend.c.month,
                                           acquisition_spend.c.amount_minor))).all()
    return rows, people, keys, spend


def reference(rows, people, keys, spend=(), *, as_of: date, start: date, end: date,
              w: int = 30) -> FundingInputs:
    """Every input from raw events (and the recorded acquisition spend rows), the obvious
    way."""
    day_of = {}
    per_day: dict[tuple[int, date], Counter] = defaultdict(Counter)
    for member_id, kind, at, amount in rows:
        day = at.astimezone(UTC).date()
        c = per_day[(member_id, day)]
        c["events"] += 1
        c[kind] += 1
        c["revenue"] += amount or 0
        day_of.setdefault(member_id, set()).add(day)
    live = [p for p in people if p.status == "active"]

    def joined(p, until, since=None):
        d = p.joined_at.astimezone(UTC).date()
        return d <= until and (since is None or d >= since)

    total = [p for p in live if joined(p, as_of)]
    by_channel = Counter(p.channel for p in total)
    by_tier = Counter(keys.get(p.tier_id, NO_TIER) for p in total)
    new = Counter(p.channel for p in live if joined(p, end, start))
    tier_of = {p.id: keys.get(p.tier_id, NO_TIER) for p in people}

    first_day = start - timedelta(days=TRAILING_DAYS)
    days = [first_day + timedelta(days=i) for i in range((end - first_day).days + 1)]
    daily = {d: Counter() for d in days}
    for (_m, d), c in per_day.items():
        if d in daily:
            daily[d]["active"] += 1
            daily[d]["purchasers"] += c["purchase"] > 0
            daily[d]["revenue"] += c["revenue"]
            daily[d]["events"] += c["events"]
            daily[d]["content"] += c["post"] + c["comment"]
            daily[d]["shares"] += c["share"]

    def active_in(m, lo, hi):
        return sorted(d for d in day_of.get(m, ()) if lo <= d <= hi)

    curve = [0] * 30
    by_tier_active = Counter()
    dau = wau = at_start = lost = 0
    s = as_of - timedelta(days=w)
    for m in day_of:
        n30 = len(active_in(m, as_of - timedelta(days=29), as_of))
        if n30:
            curve[n30 - 1] += 1
            by_tier_active[tier_of[m]] += 1
        wau += bool(active_in(m, as_of - timedelta(days=6), as_of))
        dau += bool(active_in(m, as_of, as_of))
        if active_in(m, s - timedelta(days=w - 1), s):
            at_start += 1
            lost += not active_in(m, as_of - timedelta(days=w - 1), as_of)

    purchase_days = defaultdict(list)
    for (m, d), c in sorted(per_day.items(), key=lambda x: (x[0][0], x[0][1])):
        if c["purchase"]:
            purchase_days[m].append(d)
    first_purchase = {m: ds[0] for m, ds in purchase_days.items()}
    first_active = {m: min(ds) for m, ds in day_of.items()}
    payers = sum(1 for d in first_purchase.values() if d <= as_of)
    before = [p for p in live if p.joined_at.astimezone(UTC).date() < start]
    non_paying = [p for p in before if not (p.id in first_purchase
                                            and first_purchase[p.id] < start)]
    converted = sum(1 for p in non_paying if p.id in first_purchase
                    and start <= first_purchase[p.id] <= end)
    in_period = Counter(m for m, ds in purchase_days.items() for d in ds if start <= d <= end)

    months = months_between(min(min(ds) for ds in day_of.values()), as_of)
    month_active = []
    month_revenue = []
    for m in months:
        last = min(next_month(m) - timedelta(days=1), as_of)
        cells = [(k, c) for k, c in per_day.items() if m <= k[1] <= last]
        month_active.append(len({k[0] for k, _ in cells}))
        month_revenue.append(sum(c["revenue"] for _, c in cells))
    month_new = [sum(1 for p in live if joined(p, min(next_month(m) - timedelta(days=1), as_of),
                                               m)) for m in months]
    joined_before = sum(1 for p in live if p.joined_at.astimezone(UTC).date() < months[0])
    month_members, running = [], joined_before
    for n in month_new:
        running += n
        month_members.append(running)
    month_days = [(min(next_month(m) - timedelta(days=1), as_of) - m).days + 1 for m in months]
    month_tx = [sum(c["purchase"] > 0 for k, c in per_day.items()
                    if m <= k[1] <= min(next_month(m) - timedelta(days=1), as_of))
                for m in months]
    month_dau = [sum(1 for k in per_day if m <= k[1] <= min(next_month(m) - timedelta(days=1),
                                                              as_of)) for m in months]

    def cohorts(first: dict, counted) -> CohortMatrix:
        matrix = CohortMatrix()
        for cohort in sorted({month_start(d) for d in first.values() if d <= as_of}):
            span = months_between(cohort, as_of)
            group = [m for m, d in first.items() if d <= as_of and month_start(d) == cohort]
            active_row, revenue_row = [], []
            for month in span:
                last = min(next_month(month) - timedelta(days=1), as_of)
                hits = [(m, c) for m in group for d in day_of[m] if month <= d <= last
                        for c in [per_day[(m, d)]] if counted(c)]
                active_row.append(len({m for m, _ in hits}))
                revenue_row.append(sum(c["revenue"] for _, c in hits))
            matrix.cohorts.append(cohort)
            matrix.active.append(active_row)
            matrix.revenue.append(revenue_row)
        return matrix

    spend_from = month_start(start)
    spend_to = next_month(month_start(end)) - timedelta(days=1)
    acquired = Counter(p.channel for p in live if joined(p, min(spend_to, as_of), spend_from))
    spent: Counter = Counter()
    for channel, month, amount in spend:  # the period's calendar months, whole
        if spend_from <= month <= spend_to:
            spent[channel] += amount
    period = [daily[d] for d in days[TRAILING_DAYS:]]
    return FundingInputs(
        as_of=as_of, start=start, end=end, members_total=len(total),
        members_by_channel=dict(by_channel), members_by_tier=dict(by_tier),
        new_members=sum(new.values()), new_by_channel=dict(new), days=days,
        daily_active=[daily[d]["active"] for d in days],
        daily_purchasers=[daily[d]["purchasers"] for d in days],
        daily_revenue=[daily[d]["revenue"] for d in days],
        daily_events=[daily[d]["events"] for d in days],
        daily_content=[daily[d]["content"] for d in days],
        dau=dau, wau=wau, mau=sum(curve), power_curve=curve,
        active_by_tier=dict(by_tier_active), churn_window_days=w, churn_at_start=at_start,
        churn_lost=lost, payers=payers, non_paying_at_start=len(non_paying),
        converted=converted,
        period_active=len({m for m in day_of if active_in(m, start, end)}),
        period_purchasers=len(in_period),
        period_repeaters=sum(1 for n in in_period.values() if n >= 2),
        period_revenue=sum(c["revenue"] for c in period),
        period_transactions=sum(c["purchasers"] for c in period),
        member_content=sum(c["content"] for c in period),
        all_content=sum(c["content"] + c["shares"] for c in period),
        months=months, month_members=month_members, month_new=month_new,
        month_active=month_active, month_revenue=month_revenue, month_transactions=month_tx,
        month_dau_sum=month_dau, month_days=month_days,
        activity_cohorts=cohorts(first_active, lambda c: True),
        purchase_cohorts=cohorts(first_purchase, lambda c: c["purchase"] > 0),
        spend_by_channel={c: n for c, n in spent.items() if n},
        acquired_by_channel=dict(acquired),
    )


async def _inputs(db, **kwargs) -> FundingInputs:
    async with db.unit_of_work(write=False) as uow:
        return await uow.kpi.funding_inputs(**kwargs)


async def _refresh(db, *, full=False):
    async with db.unit_of_work() as uow:
        return await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow(),
                                                     full=full)


@pytest.fixture(scope="module")
def community() -> demo.Community:
    return demo.generate(members=500, days=60, seed=11, end=END)


@pytest.mark.parametrize("as_of,start,end", [
    (END - timedelta(days=1), None, None),  # the last data day (default period)
    (date(2025, 5, 17), date(2025, 5, 1), date(2025, 5, 10)),  # mid-month, later data exist
])
async def test_sql_producer_agrees_with_python_over_raw_events(database, community, as_of,
                                                               start, end):
    await bulk.write_community(database, community, reason="test")
    async with database.unit_of_work() as uow:  # spend in, before and after the periods
        for channel, month, amount in (("wechat", date(2025, 3, 1), 70_000),
                                       ("wechat", date(2025, 5, 9), 120_000),
                                       ("douyin", date(2025, 5, 1), 300_000),
                                       ("douyin", date(2025, 6, 1), 45_000),
                                       ("app", date(2025, 7, 1), 9_999)):
            await uow.kpi.record_spend(channel=channel, month=month_start(month),
                                       amount_minor=amount, now=utcnow())
        await uow.commit()
    first = await _refresh(database)
    assert first.full
    start = start or as_of - timedelta(days=29)
    end = end or as_of
    rows, people, keys, spend = await _raw(database)
    expected = reference(rows, people, keys, spend, as_of=as_of, start=start, end=end)
    got = await _inputs(database, as_of=as_of, start=start, end=end)
    assert expected.members_total == 500 or expected.members_total > 0
    # both periods lie in May: its spend only, whole (March, June and July left out)
    assert expected.spend_by_channel == {"wechat": 120_000, "douyin": 300_000}
    for name in FundingInputs.__dataclass_fields__:
        assert getattr(got, name) == getattr(expected, name), name

    # events arriving later (a late purchase in an old month, a new day) and a second,
    # incremental refresh give what a full rebuild gives, and what Python gives
    member_id = people[0].id
    late = [Event(external_id=f"late-{i}", member_id=member_id, type=kind,
                  occurred_at=datetime.combine(day, datetime.min.time(), UTC)
                  + timedelta(hours=3), amount_minor=amount, channel=None, properties=None)
            for i, (kind, day, amount) in enumerate([
                (EventType.PURCHASE, date(2025, 4, 5), 1234),
                (EventType.POST, as_of, None),
                (EventType.PURCHASE, as_of, 99)])]
    async with database.unit_of_work() as uow:
        await uow.events.insert_new(late, received_at=utcnow())
        await uow.commit()
    incremental = await _refresh(database)
    assert not incremental.full and incremental.days == 2  # only the changed days
    after = await _inputs(database, as_of=as_of, start=start, end=end)
    rows, people, keys, spend = await _raw(database)
    assert after == reference(rows, people, keys, spend, as_of=as_of, start=start, end=end)
    await _refresh(database, full=True)
    assert await _inputs(database, as_of=as_of, start=start, end=end) == after


async def test_purchase_histories_from_the_summary_match_member_days(database, community):
    await bulk.write_community(database, community, reason="test")
    await _refresh(database)
    as_of = END - timedelta(days=1)
    async with database.unit_of_work(write=False) as uow:
        fast = await uow.kpi.purchase_histories(as_of)
        slow = await uow.histories.as_of(as_of, basis="purchases")
        assert await uow.kpi.purchase_histories(as_of - timedelta(days=3)) is None
    assert len(fast) == len(slow) > 10
    for column in ("member_ids", "frequency", "recency", "age", "monetary"):
        assert (getattr(fast, column) == getattr(slow, column)).all(), column
    # grouped by (x, t_x, T) in SQL: the same buyers as grouping the per-member rows
    async with database.unit_of_work(write=False) as uow:
        grouped = await uow.kpi.purchase_groups(as_of)
        assert await uow.kpi.purchase_groups(as_of - timedelta(days=3)) is None
    expected = model_histories.group(slow)
    assert len(grouped) == len(slow) and grouped.fingerprint() == expected.fingerprint()
    order, want = (np.lexsort((g.age, g.recency, g.frequency)) for g in (grouped, expected))
    for column in ("frequency", "recency", "age", "count"):
        assert (getattr(grouped, column)[order] == getattr(expected, column)[want]).all()
    assert grouped.monetary[order] == pytest.approx(expected.monetary[want], rel=1e-12)


async def _rollups(db) -> dict[str, list]:
    async with db.engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in (await conn.execute(select(t))).all())
                for t in (kpi_activity_days, kpi_member_summary, kpi_member_months,
                          kpi_cohort_months, kpi_member_trailing, kpi_trailing_counts,
                          kpi_joined_days)}


async def test_incremental_refresh_of_many_new_events_equals_a_full_rebuild(database,
                                                                            community):
    """Increments applied per cell (new days, new purchase days, first purchases,
    purchases on days that had some, revenue on non-purchase days, events back-dated
    before a member's first activity, a member's first events, later days moving the
    trailing windows) give exactly the rollups a full rebuild gives."""
    await bulk.write_community(database, community, reason="test")
    await _refresh(database)
    rows, people, _, _ = await _raw(database)
    rng = random.Random(5)
    kinds = [EventType.LOGIN, EventType.POST, EventType.PURCHASE, EventType.PURCHASE,
             EventType.LIKE, EventType.SHARE, EventType.COMMENT, EventType.CHECK_IN]
    later = []
    for i in range(3_000):
        member = rng.choice(people).id
        kind = rng.choice(kinds)
        day = END - timedelta(days=rng.choice([1, 1, 2, 3, 10, 40, 59, 75, 120]
                                              + [-(i // 1_000) * 3] * 3))  # later days
        amount = rng.randint(1, 5_000) if kind == EventType.PURCHASE or i % 17 == 0 else None
        later.append(Event(external_id=f"later-{i}", member_id=member, type=kind,
                           occurred_at=datetime.combine(day, datetime.min.time(), UTC)
                           + timedelta(seconds=rng.randint(0, 86_399)),
                           amount_minor=amount, channel=None, properties=None))
    async with database.engine.connect() as conn:
        buyers = (await conn.execute(
            select(kpi_member_summary.c.member_id, kpi_member_summary.c.first_purchase)
            .where(kpi_member_summary.c.first_purchase.is_not(None)).limit(20))).all()
    assert len(buyers) == 20
    for j, (member, first_purchase) in enumerate(buyers):  # more on the first purchase day
        later.append(Event(external_id=f"first-day-{j}", member_id=member,
                           type=EventType.PURCHASE if j % 2 else EventType.LIKE,
                           occurred_at=datetime.combine(date.fromisoformat(str(first_purchase)),
                                                        datetime.min.time(), UTC),
                           amount_minor=100 + j, channel=None, properties=None))
    for chunk in range(0, len(later), 1_000):  # insert batches, a refresh after each
        async with database.unit_of_work() as uow:
            await uow.events.insert_new(later[chunk:chunk + 1_000], received_at=utcnow())
            await uow.commit()
        result = await _refresh(database)
        assert not result.full and result.members >= 20
    incremental = await _rollups(database)
    await _refresh(database, full=True)
    full = await _rollups(database)
    for name in full:
        assert incremental[name] == full[name], name
