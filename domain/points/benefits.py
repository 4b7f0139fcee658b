"""Benefits members redeem points for: a name, a cost, a stock (or unlimited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.points.rules import MAX_POINTS, PointsError


class BenefitNotFound(PointsError, errors.NotFound):
    """No benefit has that id."""


class InvalidBenefit(PointsError, errors.InvalidValue):
    """A benefit's name, cost or stock is out of range."""


class BenefitInactive(PointsError):
    """The benefit is switched off and cannot be redeemed."""

    code = "BENEFIT_INACTIVE"


class OutOfStock(PointsError):
    """Every unit of the benefit has been redeemed."""

    code = "OUT_OF_STOCK"


@dataclass(frozen=True, slots=True)
class BenefitSpec:
    name: str
    cost_points: int
    stock: int | None  # units left; None is unlimited
    active: bool = True


@dataclass(frozen=True, slots=True)
class Benefit:
    id: int
    name: str
    cost_points: int
    stock: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Redemption:
    """A benefit redeemed by a member, paid by one `spend` entry."""

    id: int
    member_id: int
    benefit_id: int
    entry_id: int
    cost_points: int
    redeemed_at: datetime


def validate_spec(spec: BenefitSpec) -> BenefitSpec:
    """The spec with its name trimmed; raise InvalidBenefit for an empty name, a cost
    outside 1..MAX_POINTS or a negative stock."""
    name = spec.name.strip()
    if not name or len(name) > 200:
        raise InvalidBenefit("name must be 1-200 characters", field="name")
    if not 1 <= spec.cost_points <= MAX_POINTS:
        raise InvalidBenefit(f"cost must be 1-{MAX_POINTS} points, got {spec.cost_points}",
                             field="costPoints")
    if spec.stock is not None and spec.stock < 0:
        raise InvalidBenefit(f"stock must be 0 or more (null: unlimited), got {spec.stock}",
                             field="stock")
    return BenefitSpec(name=name, cost_points=spec.cost_points, stock=spec.stock,
                       active=spec.active)


async def create_benefit(*, uow, spec: BenefitSpec, actor: str, now: datetime) -> Benefit:
    spec = validate_spec(spec)
    benefit_id = await uow.points.add_benefit(spec, now=now)
    await uow.audit.record(actor=actor, action="benefit.create", subject=f"benefit:{benefit_id}",
                           detail={"cost": spec.cost_points, "stock": spec.stock})
    await uow.commit()
    return await uow.points.get_benefit(benefit_id)


async def update_benefit(*, uow, benefit_id: int, spec: BenefitSpec, actor: str,
                         now: datetime) -> Benefit:
    """Replace a benefit's fields; `stock` is set outright (a restock or a correction)."""
    if await uow.points.get_benefit(benefit_id) is None:
        raise BenefitNotFound(f"benefit {benefit_id} does not exist", field="id")
    spec = validate_spec(spec)
    await uow.points.update_benefit(benefit_id, spec, now=now)
    await uow.audit.record(actor=actor, action="benefit.update", subject=f"benefit:{benefit_id}",
                           detail={"cost": spec.cost_points, "stock": spec.stock,
                                   "active": spec.active})
    await uow.commit()
    return await uow.points.get_benefit(benefit_id)
