"""Event values: the limits of a batch and of an event's fields, the event types and
channels, an event as given (`EventInput`) and as recorded (`Event`), the result of
recording a batch, and the UTC microseconds events are held in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.members import Channel, IdentityKey

MAX_BATCH = 1000  # events per recordEvents call
MAX_FUTURE_SKEW = timedelta(minutes=5)  # clocks drift; events from tomorrow are bugs
MAX_AMOUNT_MINOR = 10**11
MAX_EXTERNAL_ID = 128  # characters
RESOLVE_IDS = 20_000  # distinct member ids per lookup: well below bind-parameter limits
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class EventType(StrEnum):
    LOGIN = "login"
    POST = "post"
    COMMENT = "comment"
    LIKE = "like"
    SHARE = "share"
    CHECK_IN = "check_in"
    PURCHASE = "purchase"
    REFERRAL_INVITE = "referral_invite"
    REFERRAL_JOIN = "referral_join"
    LIVE_JOIN = "live_join"
    COURSE_COMPLETE = "course_complete"
    MEETUP_ATTEND = "meetup_attend"
    COUPON_REDEEM = "coupon_redeem"


# Plain dict lookups: Enum(value) is slow on the hot path of an import.
_EVENT_TYPES = {t.value: t for t in EventType}
_CHANNELS = {c.value: c for c in Channel}

# Content members create themselves (UGC), as opposed to reactions to it.
CONTENT_TYPES = frozenset({EventType.POST, EventType.COMMENT})



@dataclass(frozen=True, slots=True)
class EventInput:
    """An event as a client or a file states it, before it is checked."""

    external_id: str
    type: str
    occurred_at: datetime
    member_id: int | None = None
    identity: IdentityKey | None = None
    amount_minor: int | None = None
    channel: str | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """A checked event bound to the member it was recorded for."""

    external_id: str
    member_id: int
    type: EventType
    occurred_at: datetime
    amount_minor: int | None
    channel: Channel | None
    properties: dict[str, Any] | None
    # The member named when it was recorded (before following merges); an undone merge
    # gives the event back to it. None means member_id.
    origin_member_id: int | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    accepted: int  # newly stored
    duplicates: int  # external ids seen before (or twice in this batch): not stored again

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates



def microseconds(moment: datetime) -> int:
    """An aware datetime as UTC microseconds since EPOCH (how EventColumns hold times)."""
    return (moment - EPOCH) // MICROSECOND


def at(us: int) -> datetime:
    """The aware UTC datetime of `microseconds`' result."""
    return EPOCH + us * MICROSECOND
