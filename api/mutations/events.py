from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from api.errors import UserError, user_errors
from api.mutations.common import error_codes
from api.relay import pk_of
from api.types import enums
from api.types.scalars import MinorUnits
from domain import events
from domain.access import Permission
from domain.clock import utcnow
from domain.errors import DomainError
from domain.members import Channel, IdentityKey

EventErrorCode = error_codes("EventErrorCode", "UNKNOWN_MEMBER", "BATCH_TOO_LARGE")


@strawberry.type
class EventUserError(UserError):
    code: EventErrorCode


@strawberry.input
class EventIdentityInput:
    channel: enums.Channel
    external_id: str


@strawberry.input(description="One event. Give memberId or identity, not both.")
class RecordEventInput:
    external_id: str = strawberry.field(
        description="Your id for this event: recording it again is a no-op.")
    type: enums.EventType
    occurred_at: datetime
    member_id: strawberry.ID | None = None
    identity: EventIdentityInput | None = None
    amount_minor: MinorUnits | None = strawberry.field(
        default=None, description="Purchases only, in minor units.")
    channel: enums.Channel | None = None
    properties: JSON | None = None


@strawberry.type
class RecordEventsPayload:
    accepted: int = strawberry.field(description="Events stored by this call.")
    duplicates: int = strawberry.field(
        description="Events whose externalId was already stored (or repeated in the batch).")
    user_errors: list[EventUserError]


def _raw(item: RecordEventInput, index: int) -> events.EventInput:
    member_id = (pk_of(item.member_id, "Member", field=f"input.{index}.memberId")
                 if item.member_id is not None else None)
    identity = (IdentityKey(Channel(item.identity.channel.value), item.identity.external_id)
                if item.identity is not None else None)
    return events.EventInput(
        external_id=item.external_id, type=item.type.value, occurred_at=item.occurred_at,
        member_id=member_id, identity=identity, amount_minor=item.amount_minor,
        channel=item.channel.value if item.channel else None, properties=item.properties,
    )


@strawberry.type
class EventMutations:
    @strawberry.mutation(description=f"Record up to {events.MAX_BATCH} events, all or nothing: "
                                     "one invalid event rejects the batch. Idempotent by "
                                     "externalId.")
    async def record_events(self, info: strawberry.Info,
                            input: list[RecordEventInput]) -> RecordEventsPayload:
        try:
            info.context.require(Permission.RECORD_EVENTS)
            if len(input) > events.MAX_BATCH:
                raise events.BatchTooLarge(
                    f"{len(input)} events in one batch; the limit is {events.MAX_BATCH}",
                    field="input")
            raws = [_raw(item, i) for i, item in enumerate(input)]
            async with info.context.db.unit_of_work() as uow:
                result = await events.record_events(uow=uow, raws=raws, now=utcnow())
        except DomainError as error:
            return RecordEventsPayload(
                accepted=0, duplicates=0,
                user_errors=user_errors(error, EventUserError, EventErrorCode, prefix=None))
        return RecordEventsPayload(accepted=result.accepted, duplicates=result.duplicates,
                                   user_errors=[])
