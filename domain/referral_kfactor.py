"""The referral K-factor per sender cohort: how many new members each inviter brings.

The store fills `CohortCounts` with SQL (`ReferralRepository.cohort_counts`); a
simulation can fill the same values from its state, so both use `k_factor`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class CohortCounts:
    """Referral counts of one sender cohort (inviters who joined in `cohort` month).

    Only invitations created in the window [from, to) count; `joined` and `converted`
    are those invitations that had reached that status by the as-of time. Referrals a
    reviewer rejected as fraud are left out of every count.
    """

    cohort: str  # "YYYY-MM", the UTC month the inviters joined
    inviters: int  # distinct members of the cohort with >= 1 invitation in the window
    invitations: int
    joined: int
    converted: int


@dataclass(frozen=True, slots=True)
class KFactor:
    cohort: str
    inviters: int
    invitations: int
    joined: int
    converted: int
    invitations_per_inviter: float | None
    acceptance_rate: float | None
    k_factor: float | None
    converted_per_inviter: float | None


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def k_factor(counts: CohortCounts) -> KFactor:
    """The viral coefficient of one sender cohort.

    - invitations per inviter = invitations / inviters
    - acceptance rate = joined / invitations
    - K-factor = invitations per inviter x acceptance rate = joined / inviters: the
      accepted invitees each inviter brought
    - converted per inviter = converted / inviters (invitees whose first purchase fell
      in their attribution window)

    Numerators and denominators are counts of invitations sent in the window [from, to)
    by inviters of the cohort, status as of the as-of time (see CohortCounts). A zero
    denominator gives None, not 0: no inviters is "unknown", not "no growth".
    """
    return KFactor(
        cohort=counts.cohort, inviters=counts.inviters, invitations=counts.invitations,
        joined=counts.joined, converted=counts.converted,
        invitations_per_inviter=_ratio(counts.invitations, counts.inviters),
        acceptance_rate=_ratio(counts.joined, counts.invitations),
        k_factor=_ratio(counts.joined, counts.inviters),
        converted_per_inviter=_ratio(counts.converted, counts.inviters),
    )


@dataclass(frozen=True, slots=True)
class KFactorWindow:
    """Invitations created in [start, end) (UTC days); statuses as of `as_of`."""

    start: date
    end: date
    as_of: datetime
