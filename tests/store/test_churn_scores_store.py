"""Predictive churn scores in the real store: buyers who stopped rank first, the stored
scores are the models' own predictions on the rollup's histories, and runs replace them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from domain import churn_scores, events
from domain.clock import utcnow
from domain.models.errors import ModelNotFittable
from domain.paging import PageRequest
from domain.store.database import Database
from scripts import cli
from tests.factories import make_member

START = datetime(2026, 1, 5, 10, tzinfo=UTC)
AS_OF = date(2026, 5, 25)  # 20 weeks after START


async def _buy(db, member_id, weeks, *, base):
    raws = [events.EventInput(external_id=f"buy-{member_id}-{w}", type="purchase",
                              occurred_at=START + timedelta(weeks=w), member_id=member_id,
                              amount_minor=base + 150 * (w % 3))
            for w in weeks]
    async with db.unit_of_work() as uow:
        await events.record_events(uow=uow, raws=raws, now=utcnow())


async def _community(db):
    """20 weekly buyers still buying, 15 who bought weekly for 8 weeks and stopped 12
    weeks ago, 5 who bought once."""
    steady, lapsed, once = [], [], []
    for n in range(20):
        member = await make_member(db)
        await _buy(db, member.id, range(0, 20), base=1000 + 100 * (n % 7))
        steady.append(member.id)
    for n in range(15):
        member = await make_member(db)
        await _buy(db, member.id, range(0, 8), base=1200 + 100 * (n % 5))
        lapsed.append(member.id)
    for _ in range(5):
        member = await make_member(db)
        await _buy(db, member.id, [3], base=900)
        once.append(member.id)
    return steady, lapsed, once


async def _score(db, *, as_of=AS_OF, horizon_days=30):
    async with db.unit_of_work() as uow:
        return await churn_scores.score_churn_risk(uow=uow, as_of=as_of,
                                                   horizon_days=horizon_days,
                                                   today=utcnow().date(), actor="test",
                                                   now=utcnow())


async def _all_scores(db):
    async with db.unit_of_work(write=False) as uow:
        page = await uow.churn_scores.page(PageRequest(first=100))
    return page.items


async def test_buyers_who_stopped_are_at_risk_and_ranked_by_value_lost(database):
    steady, lapsed, once = await _community(database)
    model = await _score(database)
    assert (model.as_of, model.horizon_days, model.members) == (AS_OF, 30, 40)
    assert model.bgnbd.converged and model.gamma_gamma.converged
    assert model.gamma_gamma.n == 35  # buyers with a repeat purchase

    scores = await _all_scores(database)
    by_member = {s.member_id: s for s in scores}
    assert set(by_member) == {*steady, *lapsed, *once}
    # Ordered by value lost, largest first; every lapsed buyer ranks above every steady one.
    values = [s.value_lost_minor for s in scores]
    assert values == sorted(values, reverse=True)
    assert max(by_member[m].p_alive for m in lapsed) < min(by_member[m].p_alive for m in steady)
    assert {s.member_id for s in scores[:15]} == set(lapsed)
    # In BG/NBD a member drops out only after a repeat purchase: one-time buyers are alive.
    assert all(by_member[m].p_alive == 1.0 and by_member[m].value_lost_minor == 0
               for m in once)


async def test_stored_scores_are_the_models_predictions_on_the_rollup_histories(database):
    await _community(database)
    await _score(database, horizon_days=14)
    async with database.unit_of_work(write=False) as uow:
        history = await uow.histories.as_of(AS_OF)
    _, expected = churn_scores.score(history, as_of=AS_OF, horizon_days=14)
    stored = {s.member_id: s for s in await _all_scores(database)}
    got = np.array([[stored[m].p_alive, stored[m].expected_transactions,
                     stored[m].value_lost_minor] for m in expected.member_ids.tolist()])
    np.testing.assert_allclose(got[:, 0], expected.p_alive, rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], expected.expected_transactions, rtol=1e-9)
    np.testing.assert_allclose(got[:, 2], np.rint(expected.value_lost_minor), atol=0.5)
    # Value lost = spend x expected purchases if alive x P(dead), member by member.
    np.testing.assert_allclose(
        expected.value_lost_minor,
        expected.expected_spend_minor * expected.expected_transactions / expected.p_alive
        * (1 - expected.p_alive), rtol=1e-9)


async def test_a_new_run_replaces_the_scores_and_keeps_the_model_history(database):
    steady, lapsed, _ = await _community(database)
    await _score(database)
    # As of week 8 the lapsed buyers had bought a week before: hardly any risk yet.
    earlier = await _score(database, as_of=AS_OF - timedelta(weeks=12))
    assert earlier.as_of == AS_OF - timedelta(weeks=12)
    scores = {s.member_id: s for s in await _all_scores(database)}
    assert max(scores[m].value_lost_minor for m in lapsed) < 100
    async with database.unit_of_work(write=False) as uow:
        assert (await uow.churn_scores.latest_model()).as_of == earlier.as_of


async def test_too_little_history_is_not_fittable_and_writes_nothing(database):
    member = await make_member(database)
    await _buy(database, member.id, [0, 1, 2], base=1000)
    with pytest.raises(ModelNotFittable):
        await _score(database)
    with pytest.raises(ModelNotFittable, match="no member has a purchase"):
        await _score(database, as_of=date(2025, 1, 1))
    async with database.unit_of_work(write=False) as uow:
        assert await uow.churn_scores.latest_model() is None
        assert await uow.churn_scores.count() == 0


def test_cli_scores_the_buyers_and_reports_an_unfittable_history(database_url, monkeypatch,
                                                                 capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    assert cli.main(["churn", "score", "--as-of", AS_OF.isoformat()]) == 2
    assert "no member has a purchase" in capsys.readouterr().out

    async def populate():
        db = Database(database_url)
        try:
            await _community(db)
        finally:
            await db.dispose()

    asyncio.run(populate())
    assert cli.main(["churn", "score", "--as-of", AS_OF.isoformat(),
                     "--horizon-days", "14"]) == 0
    out = capsys.readouterr().out
    assert f"churn scores as of {AS_OF}: 40 buyers, horizon 14 days" in out
    assert "BG/NBD r=" in out and "Gamma-Gamma p=" in out
