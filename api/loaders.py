"""DataLoaders, made afresh for every request (a shared loader would leak data)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.dataloader import DataLoader

from domain import experiment_runs
from domain.store.database import Database


class Loaders:
    """One loader per relation; each batch is one SQL statement."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tier = self._loader(lambda uow, ids: uow.tiers.get_many(ids))
        self.identities = self._loader(lambda uow, ids: uow.members.identities_of(ids), [])
        self.member = self._loader(lambda uow, ids: uow.members.get_many(ids))
        self.tier_history = self._loader(lambda uow, ids: uow.tiers.history(ids), [])
        self.tier_member_count = self._loader(lambda uow, ids: uow.tiers.member_counts(ids), 0)
        self.campaign = self._loader(lambda uow, ids: uow.campaigns.get_many(ids))
        self.badge = self._loader(lambda uow, ids: uow.badges.get_many(ids))
        self.badge_award_count = self._loader(lambda uow, ids: uow.badges.award_counts(ids), 0)
        self.member_badges = self._loader(lambda uow, ids: uow.badges.awards_of(ids), [])
        self.points_balance = self._loader(lambda uow, ids: uow.points.balances(ids), 0)
        self.benefit = self._loader(lambda uow, ids: uow.points.get_benefits(ids))
        self.experiment = self._loader(lambda uow, ids: uow.experiments.get_many(ids))
        self.experiment_results = self._loader(
            lambda uow, ids: experiment_runs.results_of(uow=uow, campaign_ids=ids), [])
        self.referral_rewards = self._loader(lambda uow, ids: uow.referrals.rewards_of(ids),
                                             [])
        self.churn_risk = self._loader(lambda uow, ids: uow.lifecycle.churn_of(ids))
        self.lifecycle_history = self._loader(
            lambda uow, ids: uow.lifecycle.transitions_of(ids), [])
        self._recent_events: dict[int, DataLoader] = {}

    def recent_events(self, limit: int) -> DataLoader:
        loader = self._recent_events.get(limit)
        if loader is None:
            loader = self._recent_events[limit] = self._loader(
                lambda uow, ids: uow.events.recent_for_members(ids, limit=limit), [])
        return loader

    def _loader(self, fetch: Callable[[Any, list], Awaitable[dict]],
                missing: Any = None) -> DataLoader:
        """A loader over `fetch(uow, keys) -> {key: value}`; absent keys get `missing`."""

        async def load(keys):
            async with self.db.unit_of_work(write=False) as uow:
                found = await fetch(uow, list(keys))
            return [found.get(key, missing) for key in keys]

        return DataLoader(load)
