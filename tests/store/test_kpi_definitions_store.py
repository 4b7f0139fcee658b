"""KPI definitions over the store on hand-computed fixtures, on both backends: the unit of
transaction (a purchase day; zero-amount purchases count) and CAC's referral cost
(referral money rewards, up to the as-of day only)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import insert

from domain import kpi_reports
from domain.clock import utcnow
from domain.events import Event, EventType
from domain.kpi import report as kpi_report
from domain.members import Channel
from domain.store.tables import referral_codes, referral_rewards, referrals
from tests.factories import make_member

AS_OF = date(2026, 1, 10)


def _at(day: int) -> datetime:
    return datetime(2026, 1, day, 12, tzinfo=UTC)


async def test_referral_rewards_after_the_as_of_day_are_not_yet_acquisition_cost(database):
    inviter = await make_member(database, joined_at=_at(1))
    invitees = [await make_member(database, channel=Channel.REFERRAL, joined_at=_at(day))
                for day in (2, 3, 9, 20)]  # the one joining on the 20th is after as-of
    async with database.engine.begin() as conn:
        code = (await conn.execute(insert(referral_codes).values(
            member_id=inviter.id, code="ABC123", created_at=_at(1))
            .returning(referral_codes.c.id))).scalar_one()
        # rewards of 1,000 (day 2, paid), 2,000 (day 9, payable), 4,000 (day 9,
        # rejected: never a cost) and 8,000 (day 20: after as-of)
        for n, (member, day, money, status) in enumerate([
                (invitees[0], 2, 1_000, "paid"), (invitees[1], 9, 2_000, "payable"),
                (invitees[2], 9, 4_000, "rejected"), (invitees[3], 20, 8_000, "payable")]):
            referral = (await conn.execute(insert(referrals).values(
                code_id=code, inviter_id=inviter.id, invitee_id=member.id, status="joined",
                invited_at=_at(day), joined_at=_at(day), flags=[], review="none")
                .returning(referrals.c.id))).scalar_one()
            await conn.execute(insert(referral_rewards).values(
                referral_id=referral, beneficiary="inviter", member_id=inviter.id,
                trigger=f"join-{n}", rule_version=1, points=0, money_minor=money,
                currency="CNY", status=status, created_at=_at(day)))
    async with database.unit_of_work() as uow:
        await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow())
    async with database.unit_of_work(write=False) as uow:
        inputs = await uow.kpi.funding_inputs(as_of=AS_OF, start=date(2026, 1, 1), end=AS_OF)
    # spend 1,000 + 2,000 = 3,000 over the 3 referral members joined by the 10th
    assert inputs.spend_by_channel == {"referral": 3_000}
    assert inputs.acquired_by_channel["referral"] == 3


async def test_purchases_of_one_member_on_one_day_are_one_transaction(database):
    a = await make_member(database, joined_at=_at(1))
    b = await make_member(database, joined_at=_at(1))
    purchases = [(a, 2, 100), (a, 2, 0), (a, 2, 50),  # three purchases, one day
                 (a, 4, 0),  # a zero-amount purchase is still a purchase
                 (b, 3, 0)]
    events = [Event(external_id=f"p{n}", member_id=m.id, type=EventType.PURCHASE,
                    occurred_at=_at(day).replace(hour=8 + n), amount_minor=amount,
                    channel=None, properties=None)
              for n, (m, day, amount) in enumerate(purchases)]
    async with database.unit_of_work() as uow:
        await uow.events.insert_new(events, received_at=utcnow())
        await uow.commit()
    async with database.unit_of_work() as uow:
        await kpi_reports.refresh_kpi_rollups(uow=uow, actor="test", now=utcnow())
    async with database.unit_of_work(write=False) as uow:
        inputs = await uow.kpi.funding_inputs(as_of=AS_OF, start=date(2026, 1, 1), end=AS_OF)
    report = kpi_report.assemble(inputs, options=kpi_report.Options())
    # transactions: a on the 2nd, a on the 4th, b on the 3rd = 3; revenue 150
    assert (report.transactions, report.revenue_minor) == (3, 150)
    assert report.aov_minor == 50  # 150 / 3, not 150 / 5 order lines
    # purchasers a and b; only a bought on two days: 1 / 2
    assert (report.purchasers, report.repeaters, report.repeat_purchase_rate) == (2, 1, 0.5)
    assert report.payers == 2  # b's only purchase was free: b is a payer all the same
    assert report.arpu_minor == 75  # 150 / 2 active members
    by_day = {d.day: d.purchasers for d in report.daily}
    assert [by_day[date(2026, 1, d)] for d in (2, 3, 4)] == [1, 1, 1]
