"""Tier model failures: one base, `TierModelError`, and a subclass per fact with its code."""

from __future__ import annotations

from domain import errors


class TierModelError(errors.DomainError):
    """Base of tier model failures."""


class TierModelNotFound(TierModelError, errors.NotFound):
    """No tier model has that id."""


class InvalidTierModel(TierModelError, errors.InvalidValue):
    """A parameter out of range (window, grace, percent, k...)."""


class UnknownFeature(TierModelError):
    """A feature name that is not in the feature catalogue."""

    code = "UNKNOWN_FEATURE"


class UnknownTier(TierModelError):
    """A rule names a tier that does not exist."""

    code = "UNKNOWN_TIER"


class DuplicateModelTier(TierModelError):
    """The same tier appears twice in one model."""

    code = "DUPLICATE_TIER"


class TooFewTiers(TierModelError):
    """A model needs at least two tiers to tell members apart."""

    code = "TOO_FEW_TIERS"


class NonMonotoneThresholds(TierModelError):
    """A higher tier asks less than a lower tier for some feature."""

    code = "NON_MONOTONE_THRESHOLDS"


class OverlappingThresholds(TierModelError):
    """A higher tier's rule admits everyone a lower tier's does, so the lower is unreachable."""

    code = "OVERLAPPING_THRESHOLDS"


class QuotasNot100(TierModelError):
    """Quota percentages that do not add up to 100."""

    code = "QUOTAS_NOT_100"
