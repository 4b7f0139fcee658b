"""Event failures: one base, `EventError`, and a subclass per fact with its code."""

from __future__ import annotations

from domain import errors


class EventError(errors.DomainError):
    """Base of event failures."""


class InvalidEvent(EventError, errors.InvalidValue):
    """An event field is missing, malformed or out of range."""


class UnknownMember(EventError, errors.NotFound):
    """The event names a member id or channel identity that tierwise does not know."""

    code = "UNKNOWN_MEMBER"


class BatchTooLarge(EventError):
    """More events in one call than MAX_BATCH."""

    code = "BATCH_TOO_LARGE"


class EventBatchRejected(EventError):
    """Some events of an all-or-nothing batch are invalid; none was written."""

    code = "BATCH_REJECTED"

    def __init__(self, rejects: list[tuple[int, EventError]]) -> None:
        super().__init__(f"{len(rejects)} event(s) rejected; nothing was recorded")
        self.rejects = rejects
