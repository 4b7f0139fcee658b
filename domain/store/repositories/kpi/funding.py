"""The inputs of the funding report: every aggregate `funding_inputs` reads, from the
rollups, member_days over short windows and members by index.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Date, and_, case, cast, func, literal, select

from domain.kpi.inputs import (
    NO_TIER,
    TRAILING_DAYS,
    WEEK_DAYS,
    WINDOW_DAYS,
    CohortMatrix,
    FundingInputs,
    month_start,
    months_between,
    next_month,
)
from domain.referrals import RewardStatus
from domain.store.days import as_date, midnight
from domain.store.repositories.kpi.base import (
    _PURCHASE_DAY,
    KpiBase,
    _sum,
    md,
    summary,
)
from domain.store.tables import (
    acquisition_spend,
    campaign_experiments,
    campaigns,
    kpi_activity_days,
    kpi_cohort_months,
    kpi_dirty_days,
    kpi_dirty_members,
    kpi_joined_days,
    kpi_trailing_counts,
    members,
    referral_rewards,
    tiers,
)


@dataclass(frozen=True, slots=True)
class _Joined:
    """Member counts per (channel, tier id, join day)."""

    counts: dict[tuple[str, int | None, date], int]

    def by(self, part: int, *, since: date | None = None, until: date) -> dict:
        """Counts of members who joined in [since, until], by channel (part 0), tier id
        (1) or join month (2)."""
        out: dict = defaultdict(int)
        for key, n in self.counts.items():
            day = key[2]
            if day <= until and (since is None or day >= since):
                out[month_start(day) if part == 2 else key[part]] += n
        return {k: v for k, v in out.items() if v}


class FundingMixin(KpiBase):
    """`funding_inputs` and the reads behind it."""

    # --- inputs of the funding report -------------------------------------------------

    async def has_dirty(self) -> bool:
        for table in (kpi_dirty_days, kpi_dirty_members):
            if (await self.conn.execute(select(literal(1)).select_from(table).limit(1))).first():
                return True
        return False

    async def tier_keys(self) -> set[str]:
        return {k for (k,) in await self.conn.execute(select(tiers.c.key))}

    async def experiment_campaigns(self) -> dict[int, str]:
        """Campaigns with a started experiment: id -> name."""
        rows = await self.conn.execute(
            select(campaigns.c.id, campaigns.c.name)
            .select_from(campaigns.join(campaign_experiments,
                                        campaign_experiments.c.campaign_id == campaigns.c.id))
            .where(campaign_experiments.c.started_at.is_not(None)).order_by(campaigns.c.id))
        return {i: n for i, n in rows}

    async def _joined(self, *, until: date) -> _Joined:
        """Members (not merged away) who joined by the end of `until`, counted per
        channel, tier and UTC join day, from kpi_joined_days (kept by the refresh): every
        count by join date the report needs."""
        j = kpi_joined_days.c
        return _Joined({(channel, tier_id or None, as_date(day)): n
                        for day, channel, tier_id, n in await self.conn.execute(
                            select(j.day, j.channel, j.tier_id, j.members)
                            .where(j.day <= until, j.members != 0))})

    def _joined_day(self):
        if self._pg:
            return cast(func.timezone("UTC", members.c.joined_at), Date)
        return func.substr(members.c.joined_at, 1, 10)

    async def _tier_keys(self) -> dict[int | None, str]:
        keys: dict[int | None, str] = {None: NO_TIER}
        keys.update({i: k for i, k in await self.conn.execute(select(tiers.c.id, tiers.c.key))})
        return keys

    async def funding_inputs(self, *, as_of: date, start: date, end: date,
                             churn_window_days: int = WINDOW_DAYS) -> FundingInputs:
        """Every aggregate the funding report needs, as of the end of `as_of` (UTC), with
        the period [start, end] (start <= end <= as_of). Reads the rollups (refreshed by
        the caller), member_days over short windows, members by index."""
        tier_keys = await self._tier_keys()
        state = await self.state()
        latest = state.latest_day if state else None

        def by_tier(counts: dict) -> dict[str, int]:
            out: dict[str, int] = defaultdict(int)
            for tier_id, n in counts.items():
                out[tier_keys.get(tier_id, NO_TIER)] += n
            return dict(out)

        joined = await self._joined(until=as_of)
        by_channel = joined.by(0, until=as_of)
        by_tier_ = by_tier(joined.by(1, until=as_of))
        new_by_channel = joined.by(0, since=start, until=end)

        # daily series
        first_day = start - timedelta(days=TRAILING_DAYS)
        days = [first_day + timedelta(days=i) for i in range((end - first_day).days + 1)]
        index = {d: i for i, d in enumerate(days)}
        series = np.zeros((5, len(days)), dtype=np.int64)
        ad = kpi_activity_days.c
        for row in await self.conn.execute(
                select(ad.day, ad.active, ad.purchasers, ad.revenue_minor, ad.events,
                       ad.posts + ad.comments).where(ad.day >= first_day, ad.day <= end)):
            series[:, index[as_date(row[0])]] = row[1:]
        shares = (await self.conn.execute(select(_sum(ad.shares)).where(
            ad.day >= start, ad.day <= end))).scalar_one()

        # trailing windows (one scan of member_days over the longest window)
        if as_of == latest and churn_window_days == WINDOW_DAYS:  # kept by the refresh
            window = await self._trailing_kept(tier_keys)
        else:
            window = await self._trailing(as_of, churn_window_days, tier_keys)

        # conversion
        payers = (await self.conn.execute(select(func.count()).where(
            summary.c.first_purchase <= as_of))).scalar_one()
        joined_before_start = sum(joined.by(0, until=start - timedelta(days=1)).values())
        paid_before = await self._payers_joined_before(start, purchase_before=start)
        converted = await self._converted(start, end)

        # the period
        period_active = (window["mau"] if (start, end) == (as_of - timedelta(days=29), as_of)
                         else await self._distinct_active(start, end))
        buyers = (select(md.c.member_id, func.count().label("n"))
                  .where(_PURCHASE_DAY, md.c.day >= start, md.c.day <= end)
                  .group_by(md.c.member_id).subquery())
        purchasers, repeaters = (await self.conn.execute(
            select(func.count(), _sum(case((buyers.c.n >= 2, 1), else_=0)))
            .select_from(buyers))).one()
        period = series[:, TRAILING_DAYS:]

        # months
        months, month_stats = await self._months(as_of, latest, joined)
        activity_cohorts, purchase_cohorts = await self._cohorts(as_of, latest, months)

        # acquisition
        spend_from = month_start(start)
        spend_to = next_month(month_start(end))
        spend = await self._spend(spend_from, spend_to, as_of=as_of)
        acquired = joined.by(0, since=spend_from, until=min(spend_to - timedelta(days=1), as_of))

        return FundingInputs(
            as_of=as_of, start=start, end=end,
            members_total=sum(by_channel.values()), members_by_channel=by_channel,
            members_by_tier=by_tier_, new_members=sum(new_by_channel.values()),
            new_by_channel=new_by_channel, days=days,
            daily_active=series[0].tolist(), daily_purchasers=series[1].tolist(),
            daily_revenue=series[2].tolist(), daily_events=series[3].tolist(),
            daily_content=series[4].tolist(),
            dau=window["dau"], wau=window["wau"], mau=window["mau"],
            power_curve=window["curve"], active_by_tier=window["by_tier"],
            churn_window_days=churn_window_days, churn_at_start=window["at_start"],
            churn_lost=window["lost"],
            payers=payers, non_paying_at_start=joined_before_start - paid_before,
            converted=converted, period_active=period_active,
            period_purchasers=int(purchasers), period_repeaters=int(repeaters),
            period_revenue=int(period[2].sum()), period_transactions=int(period[1].sum()),
            member_content=int(period[4].sum()), all_content=int(period[4].sum()) + int(shares),
            months=months, **month_stats,
            activity_cohorts=activity_cohorts, purchase_cohorts=purchase_cohorts,
            spend_by_channel=spend, acquired_by_channel=acquired,
        )

    async def _trailing_kept(self, tier_keys) -> dict:
        """`_trailing` for the latest day and the default churn window, from the trailing
        counts per tier the refresh keeps (kpi_trailing_counts: a few hundred rows)."""
        c = kpi_trailing_counts.c
        rows = [(tier_id or None, d30, n, n * in_week, n * on_day, n * prior,
                 n * prior * (d30 == 0))
                for tier_id, d30, in_week, on_day, prior, n in await self.conn.execute(
                    select(c.tier_id, c.d30, c.in_week, c.on_day, c.prior, c.members))]
        return self._window_counts(rows, tier_keys)

    @staticmethod
    def _window_counts(rows, tier_keys) -> dict:
        curve = [0] * WINDOW_DAYS
        by_tier: dict[str, int] = defaultdict(int)
        out = dict(dau=0, wau=0, at_start=0, lost=0)
        for tier_id, d30_days, n, wau, dau, at_start, lost_n in rows:
            out["wau"] += int(wau)
            out["dau"] += int(dau)
            out["at_start"] += int(at_start)
            out["lost"] += int(lost_n)
            if d30_days:
                curve[d30_days - 1] += n
                by_tier[tier_keys.get(tier_id, NO_TIER)] += n
        return dict(out, mau=sum(curve), curve=curve, by_tier=dict(by_tier))

    async def _trailing(self, as_of: date, w: int, tier_keys) -> dict:
        lo = as_of - timedelta(days=max(WINDOW_DAYS, 2 * w) - 1)
        d30 = as_of - timedelta(days=WINDOW_DAYS - 1)
        d7 = as_of - timedelta(days=WEEK_DAYS - 1)
        recent = as_of - timedelta(days=w - 1)
        start = as_of - timedelta(days=w)
        before = start - timedelta(days=w - 1)

        def days_since(since, until=as_of):
            return _sum(case((and_(md.c.day >= since, md.c.day <= until), 1), else_=0))

        per_member = (select(md.c.member_id, days_since(d30).label("d30"),
                             days_since(d7).label("d7"), days_since(as_of).label("d1"),
                             days_since(recent).label("recent"),
                             days_since(before, start).label("prior"))
                      .where(md.c.day >= lo, md.c.day <= as_of)
                      .group_by(md.c.member_id).subquery())
        wau_flag = case((per_member.c.d7 > 0, 1), else_=0)
        dau_flag = case((per_member.c.d1 > 0, 1), else_=0)
        prior = case((per_member.c.prior > 0, 1), else_=0)
        lost = case((and_(per_member.c.prior > 0, per_member.c.recent == 0), 1), else_=0)
        rows = await self.conn.execute(
            select(members.c.tier_id, per_member.c.d30, func.count(), _sum(wau_flag),
                   _sum(dau_flag), _sum(prior), _sum(lost))
            .select_from(per_member.join(members, members.c.id == per_member.c.member_id))
            .group_by(members.c.tier_id, per_member.c.d30))
        return self._window_counts(rows, tier_keys)

    async def _distinct_active(self, start: date, end: date) -> int:
        return (await self.conn.execute(select(func.count(md.c.member_id.distinct())).where(
            md.c.day >= start, md.c.day <= end))).scalar_one()

    async def _payers_joined_before(self, joined_before: date, *, purchase_before: date) -> int:
        """Members (not merged away) who joined before `joined_before` with a first
        purchase before `purchase_before` (the summary's join day: no members join)."""
        return (await self.conn.execute(
            select(func.count()).where(summary.c.first_purchase < purchase_before,
                                       summary.c.joined_on < joined_before))).scalar_one()

    async def _converted(self, start: date, end: date) -> int:
        """Members (not merged away) who joined before `start` with a first purchase in
        [start, end]."""
        return (await self.conn.execute(
            select(func.count()).where(summary.c.first_purchase >= start,
                                       summary.c.first_purchase <= end,
                                       summary.c.joined_on < start))).scalar_one()

    async def _months(self, as_of: date, latest: date | None, joined: _Joined
                      ) -> tuple[list[date], dict]:
        first = as_date((await self.conn.execute(
            select(func.min(kpi_activity_days.c.day)))).scalar())
        if first is None or first > as_of:
            return [], dict(month_members=[], month_new=[], month_active=[], month_revenue=[],
                            month_transactions=[], month_dau_sum=[], month_days=[])
        months = months_between(first, as_of)
        slot = {m: i for i, m in enumerate(months)}
        n = len(months)
        new, active, revenue, transactions, dau_sum = (np.zeros(n, dtype=np.int64)
                                                       for _ in range(5))
        ad = kpi_activity_days.c
        month = self._month(ad.day)
        for m, t, s in await self.conn.execute(
                select(month, _sum(ad.purchasers), _sum(ad.active))
                .where(ad.day <= as_of).group_by(month)):
            if as_date(m) in slot:
                transactions[slot[as_date(m)]] = t
                dau_sum[slot[as_date(m)]] = s
        for m, count, rev in await self._month_active(as_of, latest, months):
            active[slot[m]] += count
            revenue[slot[m]] += rev
        joined_before = sum(joined.by(0, until=months[0] - timedelta(days=1)).values())
        for m, count in joined.by(2, since=months[0], until=as_of).items():
            new[slot[m]] = count
        totals = joined_before + np.cumsum(new)
        day_counts = [(min(next_month(m) - timedelta(days=1), as_of) - m).days + 1
                      for m in months]
        return months, dict(month_members=totals.tolist(), month_new=new.tolist(),
                            month_active=active.tolist(), month_revenue=revenue.tolist(),
                            month_transactions=transactions.tolist(),
                            month_dau_sum=dau_sum.tolist(), month_days=day_counts)

    async def _month_active(self, as_of, latest, months):
        """(month, active members, revenue) per month up to the as-of month."""
        c = kpi_cohort_months.c
        rows = [(as_date(m), int(n), int(r)) for m, n, r in await self.conn.execute(
            select(c.month, _sum(c.members), _sum(c.revenue_minor))
            .where(c.basis == "activity", c.month <= month_start(as_of)).group_by(c.month))]
        if not self._as_of_month_partial(as_of, latest):
            return rows
        current = month_start(as_of)
        rows = [r for r in rows if r[0] != current]
        n, revenue = (await self.conn.execute(
            select(func.count(md.c.member_id.distinct()), _sum(md.c.revenue_minor))
            .where(md.c.day >= current, md.c.day <= as_of))).one()
        return [*rows, (current, int(n), int(revenue))]

    @staticmethod
    def _as_of_month_partial(as_of: date, latest: date | None) -> bool:
        """Do the rollups hold days after the as-of day inside its month?"""
        return latest is not None and latest > as_of and as_of != next_month(
            month_start(as_of)) - timedelta(days=1)

    async def _cohorts(self, as_of: date, latest: date | None, months: list[date]
                       ) -> tuple[CohortMatrix, CohortMatrix]:
        current = month_start(as_of)
        c = kpi_cohort_months.c
        cells: dict[str, dict[tuple[date, date], tuple[int, int]]] = {
            "activity": {}, "purchase": {}}
        for basis, cohort, month, n, revenue in await self.conn.execute(
                select(c.basis, c.cohort, c.month, c.members, c.revenue_minor)
                .where(c.month <= current, c.cohort <= current)):
            cells[basis][(as_date(cohort), as_date(month))] = (n, int(revenue))
        if self._as_of_month_partial(as_of, latest):
            for basis, first_col, where in (
                    ("activity", summary.c.first_active, literal(True)),
                    ("purchase", summary.c.first_purchase, _PURCHASE_DAY)):
                cells[basis] = {k: v for k, v in cells[basis].items() if k[1] != current}
                per_member = (select(md.c.member_id, _sum(md.c.revenue_minor).label("rev"))
                              .where(where, md.c.day >= current, md.c.day <= as_of)
                              .group_by(md.c.member_id).subquery())
                cohort = self._month(first_col)
                for cohort_month, n, revenue in await self.conn.execute(
                        select(cohort, func.count(), _sum(per_member.c.rev))
                        .select_from(per_member.join(
                            summary, summary.c.member_id == per_member.c.member_id))
                        .group_by(cohort)):
                    cells[basis][(as_date(cohort_month), current)] = (n, int(revenue))
        out = []
        for basis in ("activity", "purchase"):
            cohorts = sorted({k[0] for k in cells[basis] if k[0] == k[1]})
            matrix = CohortMatrix(cohorts=cohorts, active=[], revenue=[])
            for cohort in cohorts:
                span = months_between(cohort, as_of)
                matrix.active.append([cells[basis].get((cohort, m), (0, 0))[0] for m in span])
                matrix.revenue.append([cells[basis].get((cohort, m), (0, 0))[1] for m in span])
            out.append(matrix)
        return out[0], out[1]

    async def _spend(self, first_month: date, end_month: date, *, as_of: date
                     ) -> dict[str, int]:
        """Recorded acquisition spend of the months in [first_month, end_month), plus
        referral money rewards (payable or paid) created in them up to the end of the
        as-of day, in channel 'referral' (a report as of a past day does not charge
        rewards created after it, as it does not count members acquired after it)."""
        spend: dict[str, int] = defaultdict(int)
        s = acquisition_spend.c
        for channel, amount in await self.conn.execute(
                select(s.channel, _sum(s.amount_minor))
                .where(s.month >= first_month, s.month < end_month).group_by(s.channel)):
            spend[channel] += int(amount)
        r = referral_rewards.c
        referral = (await self.conn.execute(select(_sum(r.money_minor)).where(
            r.status.in_([RewardStatus.PAYABLE.value, RewardStatus.PAID.value]),
            r.created_at >= midnight(first_month),
            r.created_at < midnight(min(end_month, as_of + timedelta(days=1)))))
        ).scalar_one()
        if referral:
            spend["referral"] += int(referral)
        return {k: v for k, v in spend.items() if v}
