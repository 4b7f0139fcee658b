"""Experiment rewards: responses expanded from per-day conversion counts, and which of them
to reward now within the per-member and global limits and the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.experiments.design import ExperimentSpec, reward_cost_minor


class StopReason(StrEnum):
    BUDGET_EXHAUSTED = "budget_exhausted"
    GLOBAL_LIMIT_REACHED = "global_limit_reached"


@dataclass(frozen=True, slots=True)
class Response:
    """The `seq`-th conversion event of a member on a UTC day (the reward's identity)."""

    member_id: int
    arm: str
    day: date
    seq: int


@dataclass(frozen=True, slots=True)
class Grant:
    response: Response
    amount: int  # in the experiment's reward unit
    cost_minor: int


@dataclass(frozen=True, slots=True)
class Granted:
    """What earlier runs granted for the campaign."""

    keys: frozenset[tuple[int, date, int]] = frozenset()  # (member, day, seq)
    per_member: dict[int, int] | None = None
    count: int = 0
    cost_minor: int = 0


@dataclass(frozen=True, slots=True)
class Allocation:
    grants: tuple[Grant, ...]
    stopped_by: StopReason | None  # why granting stopped with responses still waiting


def expand_responses(rows: Iterable[tuple[int, str, date, int]], *,
                     per_member_limit: int) -> list[Response]:
    """Responses from (member, arm, day, conversions) rows, at most `per_member_limit` per
    member-day (more could never be rewarded), ordered by day, member, seq."""
    responses = [Response(member_id=m, arm=arm, day=day, seq=seq)
                 for m, arm, day, conversions in rows
                 for seq in range(1, min(conversions, per_member_limit) + 1)]
    responses.sort(key=lambda r: (r.day, r.member_id, r.seq))
    return responses


def allocate_rewards(responses: Sequence[Response], *, spec: ExperimentSpec,
                     budget_minor: int, granted: Granted) -> Allocation:
    """Which responses to reward now, first come first served (day, member, seq).

    Control responses and responses already rewarded are skipped. A member gets at most
    `per_member_limit` rewards in all; past that their responses are skipped. Granting
    stops at the first response that would take the campaign past `global_limit` rewards
    (GLOBAL_LIMIT_REACHED) or past its budget (BUDGET_EXHAUSTED): later responses wait,
    even cheaper ones, so the order of rewards stays the order of responses.
    """
    per_member = dict(granted.per_member or {})
    count, spent = granted.count, granted.cost_minor
    grants: list[Grant] = []
    variants = {v.key: v for v in spec.variants}
    for response in responses:
        variant = variants.get(response.arm)
        if variant is None or (response.member_id, response.day, response.seq) in granted.keys:
            continue
        if per_member.get(response.member_id, 0) >= spec.per_member_limit:
            continue
        if spec.global_limit is not None and count >= spec.global_limit:
            return Allocation(tuple(grants), StopReason.GLOBAL_LIMIT_REACHED)
        cost = reward_cost_minor(spec, variant)
        if spent + cost > budget_minor:
            return Allocation(tuple(grants), StopReason.BUDGET_EXHAUSTED)
        grants.append(Grant(response=response, amount=variant.reward, cost_minor=cost))
        per_member[response.member_id] = per_member.get(response.member_id, 0) + 1
        count += 1
        spent += cost
    return Allocation(tuple(grants), None)
