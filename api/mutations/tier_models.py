from __future__ import annotations

from datetime import date

import strawberry

from api.errors import UserError, user_errors
from api.mutations.common import error_codes, run
from api.relay import pk_of
from api.types import enums
from api.types.tier_models import TierModel, TierModelRun
from domain import retiering, tier_models
from domain.access import Permission
from domain.clock import utcnow
from domain.errors import DomainError

TierModelErrorCode = error_codes(
    "TierModelErrorCode", "UNKNOWN_FEATURE", "UNKNOWN_TIER", "DUPLICATE_TIER", "TOO_FEW_TIERS",
    "NON_MONOTONE_THRESHOLDS", "OVERLAPPING_THRESHOLDS", "QUOTAS_NOT_100")


@strawberry.type
class TierModelUserError(UserError):
    code: TierModelErrorCode


@strawberry.input
class FeatureMinimumInput:
    feature: str
    minimum: float


@strawberry.input(description="One tier's rule; which fields count depends on the kind.")
class TierRuleInput:
    tier_id: strawberry.ID
    minimums: list[FeatureMinimumInput] = strawberry.field(
        default_factory=list, description="THRESHOLDS: feature >= minimum for all; the "
                                          "lowest tier is the catch-all and takes none.")
    percent: float | None = strawberry.field(default=None,
                                             description="QUOTAS: percent of members.")
    min_score: int | None = strawberry.field(
        default=None, description="RFM: lowest total score (3-15); not for the lowest tier.")


@strawberry.input
class TierModelInput:
    kind: enums.TierModelKind
    tiers: list[TierRuleInput]
    features: list[str] = strawberry.field(
        default_factory=list, description="QUOTAS score (default spend_minor, active_days) or "
                                          "KMEANS features.")
    window_days: int = tier_models.DEFAULT_WINDOW_DAYS
    grace_days: int = tier_models.DEFAULT_GRACE_DAYS
    seed: int = 0


@strawberry.input
class CreateTierModelInput:
    model: TierModelInput


@strawberry.input(description="Either a saved model's id or a new model (saved first).")
class ApplyTierModelInput:
    model_id: strawberry.ID | None = None
    model: TierModelInput | None = None
    as_of: date | None = strawberry.field(default=None,
                                          description="Day features are computed for; today.")


@strawberry.type
class CreateTierModelPayload:
    tier_model: TierModel | None
    user_errors: list[TierModelUserError]


@strawberry.type
class ApplyTierModelPayload:
    tier_model: TierModel | None
    result: TierModelRun | None
    user_errors: list[TierModelUserError]


@strawberry.type
class PreviewTierModelPayload:
    preview: TierModelRun | None
    user_errors: list[TierModelUserError]


def model_spec(input: TierModelInput | None) -> tier_models.TierModelSpec | None:
    if input is None:
        return None
    rules = tuple(tier_models.TierRule(
        tier_id=pk_of(rule.tier_id, "Tier", field=f"model.tiers.{i}.tierId"),
        minimums=tuple((m.feature, m.minimum) for m in rule.minimums),
        percent=rule.percent, min_score=rule.min_score) for i, rule in enumerate(input.tiers))
    return tier_models.TierModelSpec(
        kind=tier_models.TierModelKind(input.kind.value), tiers=rules,
        features=tuple(input.features), window_days=input.window_days,
        grace_days=input.grace_days, seed=input.seed)


def model_id(input: ApplyTierModelInput) -> int | None:
    return pk_of(input.model_id, "TierModel", field="modelId") if input.model_id else None


async def preview(info: strawberry.Info, input: ApplyTierModelInput) -> PreviewTierModelPayload:
    """The previewTierModel query: a read-only run, expected failures as userErrors."""
    try:
        info.context.require(Permission.READ_MEMBERS)
        async with info.context.db.unit_of_work(write=False) as uow:
            result = await _fields_in(input.model, lambda uow: retiering.preview_tier_model(
                uow=uow, model_id=model_id(input), spec=model_spec(input.model),
                as_of=input.as_of, now=utcnow()))(uow)
        return PreviewTierModelPayload(preview=TierModelRun.from_domain(result), user_errors=[])
    except DomainError as error:
        return PreviewTierModelPayload(preview=None, user_errors=user_errors(
            error, TierModelUserError, TierModelErrorCode))


def _run(info, use_case):
    return run(info, permission=Permission.WRITE_COMMUNITY, error_type=TierModelUserError,
               codes=TierModelErrorCode, use_case=use_case)


# The fields of a model as the domain names them (relative to the spec it validates)
_SPEC_FIELDS = frozenset({"kind", "tiers", "features", "windowDays", "graceDays", "seed"})


def _fields_in(model: TierModelInput | None, use_case):
    """`use_case` with the spec's errors naming their field from the input: a model given
    as `input.model` is validated relative to itself (`graceDays`), the input names it
    `model.graceDays`."""
    async def named(uow):
        try:
            return await use_case(uow)
        except DomainError as error:
            if (model is not None and error.field
                    and error.field.split(".")[0] in _SPEC_FIELDS):
                error.field = f"model.{error.field}"
            raise
    return named


@strawberry.type
class TierModelMutations:
    @strawberry.mutation(description="Validate and save a tier model as the next version "
                                     "(not applied).")
    async def create_tier_model(self, info: strawberry.Info,
                                input: CreateTierModelInput) -> CreateTierModelPayload:
        model, errors = await _run(info, _fields_in(input.model, lambda uow: (
            retiering.create_tier_model(uow=uow, spec=model_spec(input.model),
                                        actor=info.context.actor, now=utcnow()))))
        return CreateTierModelPayload(tier_model=TierModel.from_domain(model) if model else None,
                                      user_errors=errors)

    @strawberry.mutation(description="Make a model the active one and re-tier every active "
                                     "member in one transaction (manual tiers are kept; "
                                     "demotions wait for the grace period).")
    async def apply_tier_model(self, info: strawberry.Info,
                               input: ApplyTierModelInput) -> ApplyTierModelPayload:
        result, errors = await _run(info, _fields_in(input.model, lambda uow: (
            retiering.apply_tier_model(uow=uow, model_id=model_id(input),
                                       spec=model_spec(input.model), actor=info.context.actor,
                                       as_of=input.as_of, now=utcnow()))))
        model, run_result = result or (None, None)
        return ApplyTierModelPayload(
            tier_model=TierModel.from_domain(model) if model else None,
            result=TierModelRun.from_domain(run_result) if run_result else None,
            user_errors=errors)
