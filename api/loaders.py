"""DataLoaders, made afresh for every request (a shared loader would leak data)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from domain.store.database import Database


class Loaders:
    """One loader per relation; each batch is one SQL statement."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tier = DataLoader(self._tiers)
        self.identities = DataLoader(self._identities)
        self.member = DataLoader(self._members)
        self.tier_history = DataLoader(self._tier_history)
        self.tier_member_count = DataLoader(self._tier_member_counts)
        self.campaign = DataLoader(self._campaigns)
        self._recent_events: dict[int, DataLoader] = {}

    def recent_events(self, limit: int) -> DataLoader:
        loader = self._recent_events.get(limit)
        if loader is None:
            async def load(member_ids):
                async with self.db.unit_of_work(write=False) as uow:
                    found = await uow.events.recent_for_members(member_ids, limit=limit)
                return [found.get(m, []) for m in member_ids]

            loader = self._recent_events[limit] = DataLoader(load)
        return loader

    async def _tiers(self, ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.tiers.get_many(ids)
        return [found.get(i) for i in ids]

    async def _identities(self, member_ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.members.identities_of(member_ids)
        return [found.get(m, []) for m in member_ids]

    async def _members(self, ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.members.get_many(ids)
        return [found.get(i) for i in ids]

    async def _tier_history(self, member_ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.tiers.history(member_ids)
        return [found.get(m, []) for m in member_ids]

    async def _tier_member_counts(self, tier_ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.tiers.member_counts(tier_ids)
        return [found.get(t, 0) for t in tier_ids]

    async def _campaigns(self, ids):
        async with self.db.unit_of_work(write=False) as uow:
            found = await uow.campaigns.get_many(ids)
        return [found.get(i) for i in ids]
