from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.relay import Node, to_global_id
from api.types import enums
from api.types.scalars import MinorUnits
from domain import events


@strawberry.type(description="A behaviour event, stored once per externalId.")
class Event(Node):
    external_id: str
    type: enums.EventType
    occurred_at: datetime
    amount_minor: MinorUnits | None = strawberry.field(
        description="Purchases only: the amount in minor units (fen/cents).")
    channel: enums.Channel | None
    properties: JSON | None

    @classmethod
    def from_domain(cls, pk: int, event: events.Event) -> Event:
        return cls(id=to_global_id("Event", pk), external_id=event.external_id,
                   type=enums.EventType(event.type.value), occurred_at=event.occurred_at,
                   amount_minor=event.amount_minor,
                   channel=enums.Channel(event.channel.value) if event.channel else None,
                   properties=event.properties)
