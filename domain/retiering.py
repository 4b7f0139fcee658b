"""Re-tiering: turn the tiers a model wants into moves, preview them, apply them.

Rules (on top of `domain.tier_models.place`):
- a member whose current tier was assigned MANUALLY keeps it (automatic runs never
  override an operator);
- promotions (a better rank, or any tier for a member without one) apply at once;
- humane demotion: a member the model would demote keeps the tier until the model has
  wanted a demotion for `grace_days` (counted from the first run that wanted it; a run
  that no longer wants it clears the clock). grace_days = 0 demotes at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from domain import tier_models
from domain.tier_models import MemberFeatures, TierModel, TierModelNotFound, TierModelSpec

DAY_SECONDS = 86_400
NO_TIER = 0  # tier id arrays use 0 for "no tier"


@dataclass(frozen=True, slots=True)
class TierState:
    """Current tier of each active member, by member id ascending."""

    member_ids: np.ndarray
    tier_ids: np.ndarray  # 0: none
    manual: np.ndarray  # bool: the current tier was assigned manually
    pending_since: np.ndarray  # epoch seconds a wanted demotion started, -1: none

    def aligned(self, member_ids: np.ndarray) -> TierState:
        """This state for `member_ids` (members missing here have no tier)."""
        if np.array_equal(member_ids, self.member_ids):
            return self
        at = np.clip(np.searchsorted(self.member_ids, member_ids), 0,
                     max(len(self.member_ids) - 1, 0))
        found = (self.member_ids[at] == member_ids) if len(self.member_ids) else \
            np.zeros(len(member_ids), dtype=bool)

        def take(values, missing):
            return np.where(found, values[at], missing) if len(values) else \
                np.full(len(member_ids), missing)
        return TierState(member_ids=member_ids, tier_ids=take(self.tier_ids, NO_TIER),
                         manual=take(self.manual, False),
                         pending_since=take(self.pending_since, -1))


@dataclass(frozen=True, slots=True)
class Retiering:
    """What a run decides for every active member (arrays in member id order)."""

    member_ids: np.ndarray
    current: np.ndarray
    wanted: np.ndarray
    new: np.ndarray
    pending_since: np.ndarray  # after the run: -1 none
    pending_before: np.ndarray

    @property
    def changed(self) -> np.ndarray:
        return self.new != self.current

    def moves(self) -> dict[tuple[int | None, int | None], int]:
        """Members per (current tier, new tier), stays included; None is "no tier"."""
        pairs = np.stack([self.current, self.new], axis=1) if len(self.current) else \
            np.zeros((0, 2), dtype=np.int64)
        unique, counts = np.unique(pairs, axis=0, return_counts=True)
        return {(_tier(a), _tier(b)): int(c) for (a, b), c in zip(unique, counts, strict=True)}

    def counts(self) -> tuple[Counter, Counter]:
        """Members per tier before and after (None: no tier)."""
        before = Counter({_tier(t): int(c) for t, c in zip(*np.unique(self.current,
                                                                       return_counts=True),
                                                             strict=True)})
        after = Counter({_tier(t): int(c) for t, c in zip(*np.unique(self.new,
                                                                      return_counts=True),
                                                            strict=True)})
        return before, after


def _tier(value) -> int | None:
    return None if int(value) == NO_TIER else int(value)


@dataclass(frozen=True, slots=True)
class Preview:
    """A run's outcome in numbers: what the API shows and what apply reports."""

    members: int
    changed: int
    held_by_grace: int  # the model wants a demotion; the grace period keeps the tier
    protected_manual: int  # the model wants a change; a manual assignment keeps the tier
    moves: dict[tuple[int | None, int | None], int]
    before: Counter
    after: Counter


def decide(*, wanted: np.ndarray, state: TierState, ranks: dict[int, int], now: datetime,
           grace_days: int) -> Retiering:
    """Apply manual protection and the humane-demotion grace rule to the wanted tiers."""
    ids = np.array(sorted(ranks), dtype=np.int64)
    rank_values = np.array([ranks[i] for i in ids], dtype=np.float64)

    def rank(tier_ids):
        at = np.clip(np.searchsorted(ids, tier_ids), 0, max(len(ids) - 1, 0))
        known = (ids[at] == tier_ids) & (tier_ids != NO_TIER) if len(ids) else \
            np.zeros(len(tier_ids), dtype=bool)
        return np.where(known, rank_values[at] if len(ids) else 0.0, np.inf)

    now_s = int(now.timestamp())
    current, manual, since = state.tier_ids, state.manual, state.pending_since
    demotion = rank(wanted) > rank(current)
    due = (grace_days == 0) | ((since >= 0) & (now_s - since >= grace_days * DAY_SECONDS))
    held = ~manual & demotion & ~due
    new = np.where(manual | held, current, wanted)
    pending = np.where(held, np.where(since >= 0, since, now_s), -1)
    return Retiering(member_ids=state.member_ids, current=current, wanted=wanted, new=new,
                     pending_since=pending, pending_before=since)


def summarise(retiering: Retiering, *, state: TierState) -> Preview:
    wants_change = retiering.wanted != retiering.current
    before, after = retiering.counts()
    return Preview(
        members=len(retiering.member_ids), changed=int(retiering.changed.sum()),
        held_by_grace=int((retiering.pending_since >= 0).sum()),
        protected_manual=int((wants_change & state.manual).sum()),
        moves=retiering.moves(), before=before, after=after,
    )


# --- use cases -------------------------------------------------------------------------


async def _validated(uow, spec: TierModelSpec) -> TierModelSpec:
    ranks = {t.id: t.rank for t in await uow.tiers.list()}
    return tier_models.validate(spec, ranks=ranks, known_features=uow.features.names())


async def create_tier_model(*, uow, spec: TierModelSpec, actor: str, now: datetime
                            ) -> TierModel:
    """Validate and store a model as the next version (inactive until applied)."""
    model = await _save(uow, await _validated(uow, spec), actor=actor, now=now)
    await uow.commit()
    return model


async def _save(uow, spec: TierModelSpec, *, actor: str, now: datetime) -> TierModel:
    model_id = await uow.tier_models.add(spec, created_by=actor, now=now)
    model = await uow.tier_models.get(model_id)
    await uow.audit.record(actor=actor, action="tier_model.create",
                           subject=f"tier_model:{model_id}",
                           detail={"kind": str(spec.kind), "version": model.version})
    return model


async def _resolve(uow, *, model_id: int | None, spec: TierModelSpec | None) -> TierModel | None:
    if model_id is None:
        return None
    model = await uow.tier_models.get(model_id)
    if model is None:
        raise TierModelNotFound(f"tier model {model_id} does not exist", field="modelId")
    return model


async def _run(uow, spec: TierModelSpec, *, as_of: date, now: datetime
               ) -> tuple[Retiering, TierState]:
    ranks = {t.id: t.rank for t in await uow.tiers.list()}
    features: MemberFeatures = await uow.features.load(
        spec.feature_names(), as_of=as_of, window_days=spec.window_days)
    state = (await uow.tier_models.tier_state()).aligned(features.member_ids)
    wanted = tier_models.place(spec, features)
    return decide(wanted=wanted, state=state, ranks=ranks, now=now,
                  grace_days=spec.grace_days), state


async def preview_tier_model(*, uow, model_id: int | None = None,
                             spec: TierModelSpec | None = None, as_of: date | None = None,
                             now: datetime) -> Preview:
    """What applying the model would do now, without writing anything."""
    model = await _resolve(uow, model_id=model_id, spec=spec)
    spec = await _validated(uow, model.spec if model else _required(spec))
    retiering, state = await _run(uow, spec, as_of=as_of or now.date(), now=now)
    return summarise(retiering, state=state)


async def apply_tier_model(*, uow, model_id: int | None = None,
                           spec: TierModelSpec | None = None, actor: str,
                           as_of: date | None = None, now: datetime
                           ) -> tuple[TierModel, Preview]:
    """Save the model (or take a saved one), make it the active one and re-tier every
    active member in one transaction; history rows only for members whose tier changes.
    Manual moves in flight finish first, and none starts until this one commits: the
    tiers it decides from stay the tiers it replaces."""
    await uow.tiers.lock_moves()
    model = await _resolve(uow, model_id=model_id, spec=spec)
    if model is None:
        model = await _save(uow, await _validated(uow, _required(spec)), actor=actor, now=now)
    spec = await _validated(uow, model.spec)
    retiering, state = await _run(uow, spec, as_of=as_of or now.date(), now=now)
    await uow.tier_models.write_retiering(retiering, model_version=model.version, actor=actor,
                                          reason=f"tier model v{model.version} ({spec.kind})",
                                          now=now)
    await uow.tier_models.activate(model.id)
    preview = summarise(retiering, state=state)
    await uow.audit.record(actor=actor, action="tier_model.apply",
                           subject=f"tier_model:{model.id}",
                           detail={"version": model.version, "changed": preview.changed,
                                   "held_by_grace": preview.held_by_grace,
                                   "members": preview.members})
    await uow.commit()
    return await uow.tier_models.get(model.id), preview


def _required(spec: TierModelSpec | None) -> TierModelSpec:
    if spec is None:
        raise tier_models.InvalidTierModel("give either modelId or model", field="model")
    return spec
