"""Reproducible assignment of members to arms: a draw fixed by (seed, campaign, member)
mapped onto the control share and the variants' weights.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Sequence

from domain.experiments.design import CONTROL, ExperimentSpec, VariantSpec


def unit_draw(*, seed: int, campaign_id: int, member_id: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, campaign, member).

    The first 8 bytes of BLAKE2b over "seed:campaign:member", as an integer over 2**64:
    the same inputs always give the same number, on every machine and run.
    """
    digest = hashlib.blake2b(f"{seed}:{campaign_id}:{member_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") / 2**64


def arm_for(draw: float, *, control_share: float, variants: Sequence[VariantSpec]) -> str:
    """The arm of a member whose draw is `draw`.

    [0, control_share) is the control; the rest of [0, 1) is cut into consecutive
    intervals proportional to the variants' weights, in their configured order.
    """
    return _arm_picker(control_share, variants)(draw)


def _arm_picker(control_share: float, variants: Sequence[VariantSpec]):
    keys = [v.key for v in variants]
    cumulative = list(itertools.accumulate(v.weight for v in variants))
    scale = cumulative[-1] / (1 - control_share)
    last = len(keys) - 1

    def pick(draw: float) -> str:
        if draw < control_share:
            return CONTROL
        # The first variant whose cumulative weight exceeds the position (min(): float
        # rounding at the very top of [0, 1) stays in the last variant).
        return keys[min(bisect.bisect_right(cumulative, (draw - control_share) * scale), last)]

    return pick


def assign_arms(member_ids: Iterable[int], *, seed: int, campaign_id: int,
                spec: ExperimentSpec) -> list[tuple[int, str]]:
    """(member id, arm) for every member: deterministic in (seed, campaign, member)
    (`unit_draw` mapped by `arm_for`)."""
    pick = _arm_picker(spec.control_share, spec.variants)
    blake2b = hashlib.blake2b
    return [(m, pick(int.from_bytes(blake2b(f"{seed}:{campaign_id}:{m}".encode(),
                                            digest_size=8).digest(), "big") / 2**64))
            for m in member_ids]
