"""`EventColumns`: checked events held column by column (what an import holds per chunk
instead of an object per row), and how they become `Event` objects and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from domain.events.values import _CHANNELS, Event, EventInput, EventType, at, microseconds


@dataclass(slots=True)
class EventColumns:
    """Checked events column by column: what an import holds per chunk instead of an
    object per row (index `i` of every list is one event).

    `key` is the row's key in its batch (an index, a file line). Before `bind_columns`,
    `member_id` and `identity` are as given (one of them None); after it `member_id` is
    the member the event is stored for, `origin_member_id` the member it named (see
    Event), and `identity` is no longer needed.
    """

    key: list[int] = field(default_factory=list)
    external_id: list[str] = field(default_factory=list)
    type: list[EventType] = field(default_factory=list)
    occurred_us: list[int] = field(default_factory=list)  # UTC microseconds since EPOCH
    member_id: list[int | None] = field(default_factory=list)
    identity: list[tuple[str, str] | None] = field(default_factory=list)  # (channel, id)
    amount_minor: list[int | None] = field(default_factory=list)
    channel: list[str | None] = field(default_factory=list)
    properties: list[dict[str, Any] | None] = field(default_factory=list)
    origin_member_id: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.key)

    def append(self, key: int, event: EventInput) -> None:
        """Add one event `check_event` returned."""
        self.key.append(key)
        self.external_id.append(event.external_id)
        self.type.append(event.type)
        self.occurred_us.append(microseconds(event.occurred_at))
        self.member_id.append(event.member_id)
        identity = event.identity
        self.identity.append(None if identity is None
                             else (str(identity.channel), identity.external_id))
        self.amount_minor.append(event.amount_minor)
        self.channel.append(event.channel)
        self.properties.append(event.properties)

    def extend(self, other: EventColumns) -> None:
        for column in _COLUMNS:
            getattr(self, column).extend(getattr(other, column))

    def take(self, indexes: Sequence[int]) -> EventColumns:
        """The events at `indexes`, in that order."""
        out = EventColumns()
        for column in _COLUMNS:
            values = getattr(self, column)
            if values:
                setattr(out, column, [values[i] for i in indexes])
        return out

    @classmethod
    def of_events(cls, events: Sequence[Event]) -> EventColumns:
        """Bound events (from `Event` objects) as columns."""
        out = cls(key=list(range(len(events))))
        for e in events:
            out.external_id.append(e.external_id)
            out.type.append(e.type)
            out.occurred_us.append(microseconds(e.occurred_at))
            out.member_id.append(e.member_id)
            out.origin_member_id.append(e.origin_member_id or e.member_id)
            out.amount_minor.append(e.amount_minor)
            out.channel.append(e.channel)
            out.properties.append(e.properties)
        out.identity = [None] * len(events)
        return out

    def events(self) -> list[Event]:
        """Bound events as `Event` objects (for callers that want rows, not speed)."""
        return [Event(external_id=x, member_id=m, type=t, occurred_at=at(us),
                      amount_minor=a, channel=_CHANNELS[c] if c else None, properties=p,
                      origin_member_id=o)
                for x, m, t, us, a, c, p, o in zip(
                    self.external_id, self.member_id, self.type, self.occurred_us,
                    self.amount_minor, self.channel, self.properties, self.origin_member_id,
                    strict=True)]


_COLUMNS = tuple(f.name for f in fields(EventColumns))
