"""`tierwise points accrue|expire` against a real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from domain import events
from domain.clock import utcnow
from domain.points import ledger
from domain.points.rules import EarnRule
from domain.store.database import Database
from scripts import cli
from tests.factories import T0, make_member


async def _given_a_member_with_two_check_ins(url: str) -> int:
    db = Database(url)
    try:
        member = await make_member(db)
        async with db.unit_of_work() as uow:
            await ledger.set_earn_rules(uow=uow, earn_rules=[EarnRule("check_in", 5,
                                                                      expiry_days=10)],
                                        multipliers=[], actor="test", now=utcnow())
        async with db.unit_of_work() as uow:
            await events.record_events(uow=uow, now=utcnow(), raws=[
                events.EventInput(external_id=f"c{n}", type="check_in", member_id=member.id,
                                  occurred_at=T0 + timedelta(days=n)) for n in range(2)])
        return member.id
    finally:
        await db.dispose()


def test_points_accrue_and_expire_commands_report_and_repeat_safely(database_url, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    asyncio.run(_given_a_member_with_two_check_ins(database_url))
    as_of = (T0 + timedelta(days=5)).isoformat()
    assert cli.main(["points", "accrue", "--as-of", as_of]) == 0
    assert cli.main(["points", "accrue", "--as-of", as_of]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "accrued 10 points in 2 entries for 1 members (2 events examined)",
        "accrued 0 points in 0 entries for 0 members (2 events examined)"]
    assert cli.main(["points", "expire", "--as-of", (T0 + timedelta(days=10)).isoformat()]) == 0
    assert capsys.readouterr().out.strip() == "expired 5 points in 1 entries for 1 members"
    assert cli.main(["points", "accrue", "--as-of", as_of, "--since", as_of]) == 1
    assert "INVALID_VALUE" in capsys.readouterr().out
