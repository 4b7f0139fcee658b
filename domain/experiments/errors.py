"""Experiment failures: one base, `ExperimentError`, and a subclass per fact with its code."""

from __future__ import annotations

from domain import errors


class ExperimentError(errors.DomainError):
    """Base of experiment failures."""


class InvalidExperiment(ExperimentError, errors.InvalidValue):
    """An experiment field is empty, too long or out of range."""


class NoVariants(ExperimentError):
    """An experiment needs at least one variant besides the control."""

    code = "NO_VARIANTS"


class InvalidWeight(ExperimentError):
    """Variant weights are positive integers."""

    code = "INVALID_WEIGHT"


class InvalidControlShare(ExperimentError):
    """The holdout control share is between 0 and 0.5."""

    code = "INVALID_CONTROL_SHARE"


class DuplicateVariant(ExperimentError):
    """Two variants share a key, or a variant is named after the control arm."""

    code = "DUPLICATE_VARIANT"


class ExperimentStarted(ExperimentError):
    """Variants and settings are frozen once members have been assigned."""

    code = "EXPERIMENT_STARTED"


class ExperimentNotConfigured(ExperimentError):
    """The campaign has no experiment yet (configureExperiment first)."""

    code = "EXPERIMENT_NOT_CONFIGURED"


class ExperimentNotStarted(ExperimentError):
    """Rewards are granted only once members have been assigned (startExperiment)."""

    code = "EXPERIMENT_NOT_STARTED"


class NoTargets(ExperimentError):
    """The campaign targets no tier and no channel, or nobody is in its segment."""

    code = "NO_TARGETS"


class NoSchedule(ExperimentError):
    """Responses are counted in the campaign window: it needs startsAt and endsAt."""

    code = "NO_SCHEDULE"


class CampaignClosed(ExperimentError):
    """Ended and cancelled campaigns get no new experiment or assignment."""

    code = "CAMPAIGN_CLOSED"
