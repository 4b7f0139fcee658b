"""Pure points rules: entries, lots, FIFO consumption, expiry and earn math.

Nothing here touches a database; the use cases in `domain.points.ledger` feed these
functions with rows the store returns.

FIFO lots. Every credit (earn, a positive adjust, a reversal that gives points back)
is a *lot*. Debits consume lots in a fixed order, replayed over the ledger in entry
(id) order:
1. a targeted debit (an `expire` of a lot, the `reverse` of a credit) takes its own
   lot first;
2. then the oldest lots still unexpired at the debit's time (`occurred_at`, then id);
3. then lots already past their expiry whose `expire` entry is not written yet (the
   balance still counted them, so the member could spend them);
4. anything left is a debt that the next credits pay off first (only when concurrent
   writers commit out of id order; the balance itself never goes below zero).
So the lots' remainders always add up to the balance, and an expired lot's unspent
remainder is what `expirePoints` takes away.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain import errors
from domain.events import EventType

DEFAULT_EXPIRY_DAYS = 365
MAX_EXPIRY_DAYS = 3650
MAX_POINTS = 10**9  # per entry and per rule: a typo guard, not a business limit
PERMILLE = 1000  # multipliers are stored as integer per-mille (1.5x = 1500)
MAX_MULTIPLIER = 100  # a tier multiplier is in (0, 100]
MAX_KEY_LENGTH = 128


class EntryKind(StrEnum):
    EARN = "earn"  # points for participation (accrued from events, or awarded)
    SPEND = "spend"  # points redeemed (a benefit)
    EXPIRE = "expire"  # the unspent remainder of an expired earn lot
    ADJUST = "adjust"  # an operator's correction, either sign
    REVERSE = "reverse"  # undoes one earlier entry, opposite amount
    TRANSFER_OUT = "transfer_out"  # a lot's remainder leaving with a member merge (or undo)
    TRANSFER_IN = "transfer_in"  # that remainder arriving: a lot with the same expiry


class PointsError(errors.DomainError):
    """Base of points failures."""


class InsufficientPoints(PointsError):
    """The member's balance is smaller than the debit."""

    code = "INSUFFICIENT_POINTS"


class IdempotencyKeyReused(PointsError):
    """The key already names an entry with another kind, amount or member."""

    code = "IDEMPOTENCY_KEY_REUSED"


class AlreadyReversed(PointsError):
    """The entry was reversed before; an entry is reversed once at most."""

    code = "ALREADY_REVERSED"


class NotReversible(PointsError):
    """Reversals, expiries and merge transfers cannot themselves be reversed."""

    code = "NOT_REVERSIBLE"


class EntryNotFound(PointsError, errors.NotFound):
    """No ledger entry has that id."""


class InvalidEntry(PointsError, errors.InvalidValue):
    """An amount, reason, key or expiry outside its allowed range."""


class UnknownEventType(PointsError):
    """An earn rule names an event type tierwise does not record."""

    code = "UNKNOWN_EVENT_TYPE"


class NegativePoints(PointsError):
    """An earn rule gives negative points (or a negative daily cap)."""

    code = "NEGATIVE_POINTS"


class InvalidMultiplier(PointsError):
    """A tier multiplier that is zero or negative."""

    code = "INVALID_MULTIPLIER"


class DuplicateRule(PointsError):
    """Two earn rules for one event type, or two multipliers for one tier."""

    code = "DUPLICATE_RULE"


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger line. `amount` is signed: credits positive, debits negative."""

    id: int
    member_id: int
    kind: EntryKind
    amount: int
    idempotency_key: str
    reason: str
    actor: str
    occurred_at: datetime  # when the points were earned or spent (event time for accruals)
    created_at: datetime  # when the line was written
    expires_at: datetime | None = None  # credits only; None never expires
    reverses_entry_id: int | None = None
    # The lot a targeted debit takes first; on a transfer_in, the lot it continues.
    lot_entry_id: int | None = None
    event_id: int | None = None  # the event an accrual was earned from


@dataclass(frozen=True, slots=True)
class EarnRule:
    """`points` per event of `event_type`, for at most `daily_cap` events per member and
    UTC day (None: no cap); accrued points expire after `expiry_days`."""

    event_type: EventType
    points: int
    daily_cap: int | None = None
    expiry_days: int = DEFAULT_EXPIRY_DAYS


@dataclass(frozen=True, slots=True)
class TierMultiplier:
    tier_id: int
    permille: int  # 1000 = 1x

    @property
    def factor(self) -> float:
        return self.permille / PERMILLE


@dataclass(frozen=True, slots=True)
class EarnRules:
    rules: tuple[EarnRule, ...]
    multipliers: tuple[TierMultiplier, ...]

    def rule_for(self, event_type: str) -> EarnRule | None:
        return next((r for r in self.rules if r.event_type == event_type), None)

    def permille_for(self, tier_id: int | None) -> int:
        """The member's tier multiplier; 1x without a tier or a configured multiplier."""
        return next((m.permille for m in self.multipliers if m.tier_id == tier_id), PERMILLE)


@dataclass(slots=True)
class Lot:
    entry_id: int
    earned_at: datetime
    expires_at: datetime | None
    amount: int
    remaining: int

    def expired_at(self, when: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= when


@dataclass(slots=True)
class Replay:
    """The ledger replayed: the lots (with remainders) and any debt not yet paid off."""

    lots: dict[int, Lot] = field(default_factory=dict)
    debt: int = 0

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots.values()) - self.debt


# ---------------------------------------------------------------------------- lots


def replay(entries: Iterable[Entry]) -> Replay:
    """Consume lots FIFO over `entries` in id order (see the module docstring)."""
    state = Replay()
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.amount > 0:
            credit = entry.amount - min(state.debt, entry.amount)
            state.debt -= entry.amount - credit
            if credit:
                state.lots[entry.id] = Lot(entry.id, entry.occurred_at, entry.expires_at,
                                           amount=entry.amount, remaining=credit)
        else:
            state.debt += _consume(state.lots, -entry.amount, entry)
    return state


def _consume(lots: dict[int, Lot], need: int, entry: Entry) -> int:
    """Take `need` points from the lots for `entry`; return what no lot could give."""
    at = entry.occurred_at
    ordered = sorted(lots.values(), key=lambda lot: (lot.earned_at, lot.entry_id))
    target = lots.get(entry.lot_entry_id) if entry.lot_entry_id else None
    queue = ([target] if target else []) + [lot for lot in ordered if not lot.expired_at(at)]
    queue += [lot for lot in ordered if lot.expired_at(at)]
    for lot in queue:
        if need == 0:
            break
        taken = min(lot.remaining, need)
        lot.remaining -= taken
        need -= taken
    return need


def expirable(entries: Iterable[Entry], *, as_of: datetime) -> dict[int, int]:
    """Unspent remainder per lot that has expired by `as_of` and has no `expire` entry
    yet: {lot entry id: points to expire}. Lots with nothing left are omitted."""
    entries = list(entries)
    expired = {e.lot_entry_id for e in entries if e.kind is EntryKind.EXPIRE}
    state = replay(entries)
    return {lot.entry_id: lot.remaining for lot in state.lots.values()
            if lot.expired_at(as_of) and lot.remaining > 0 and lot.entry_id not in expired}


def expires_at(earned_at: datetime, expiry_days: int) -> datetime:
    """Earned points expire `expiry_days` after they were earned (same time of day)."""
    return earned_at + timedelta(days=expiry_days)


# ---------------------------------------------------------------------- earn math


def multiply(points: int, permille: int) -> int:
    """Points after a tier multiplier, rounded down to whole points (10 x 1.25 = 12)."""
    return points * permille // PERMILLE


def to_permille(factor: float, *, field: str | None = None) -> int:
    """A multiplier such as 1.5 as integer per-mille (1500), rounded to 0.001.

    A factor beyond +/-100 can never be a valid multiplier (and 1e308 x 1000 does not
    round to an integer): InvalidMultiplier, naming `field`."""
    if not math.isfinite(factor) or abs(factor) > MAX_MULTIPLIER:
        raise InvalidMultiplier(f"multiplier {factor} must be positive and at most "
                                f"{MAX_MULTIPLIER}", field=field)
    return round(factor * PERMILLE)


@dataclass(frozen=True, slots=True)
class AccrualCandidate:
    """A stored event an earn rule may pay for."""

    event_id: int
    member_id: int
    event_type: str
    occurred_at: datetime
    tier_id: int | None
    accrued: bool  # an earn entry for it exists already


@dataclass(frozen=True, slots=True)
class Accrual:
    event_id: int
    member_id: int
    event_type: str
    points: int
    occurred_at: datetime
    expires_at: datetime
    idempotency_key: str


def accrual_key(event_id: int, event_type: str) -> str:
    """The idempotency key of the earn entry for one event under its type's rule."""
    return f"accrue:{event_type}:{event_id}"


def accruals(candidates: Sequence[AccrualCandidate], rules: EarnRules) -> list[Accrual]:
    """The earn entries to write for `candidates` (whole UTC days of events).

    Each event earns its rule's points times the member's tier multiplier (rounded
    down). A daily cap lets only the first `daily_cap` events of the type per member
    and UTC day earn, in (occurred_at, id) order; events already accrued count toward
    the cap first, so re-running (or accruing late events) never exceeds it. Events
    already accrued, events without a rule and zero-point results are skipped.
    """
    counted: dict[tuple[int, str, date], int] = {}
    for c in candidates:
        if c.accrued:
            day_key = (c.member_id, c.event_type, c.occurred_at.date())
            counted[day_key] = counted.get(day_key, 0) + 1
    out = []
    for c in sorted(candidates, key=lambda c: (c.member_id, c.occurred_at, c.event_id)):
        rule = rules.rule_for(c.event_type)
        if c.accrued or rule is None:
            continue
        day_key = (c.member_id, c.event_type, c.occurred_at.date())
        if rule.daily_cap is not None and counted.get(day_key, 0) >= rule.daily_cap:
            continue
        counted[day_key] = counted.get(day_key, 0) + 1
        points = multiply(rule.points, rules.permille_for(c.tier_id))
        if points > 0:
            out.append(Accrual(event_id=c.event_id, member_id=c.member_id,
                               event_type=c.event_type, points=points,
                               occurred_at=c.occurred_at,
                               expires_at=expires_at(c.occurred_at, rule.expiry_days),
                               idempotency_key=accrual_key(c.event_id, c.event_type)))
    return out


# ---------------------------------------------------------------------- validation

_EVENT_TYPES = frozenset(t.value for t in EventType)


def validate_rules(rules: Sequence[EarnRule], multipliers: Sequence[TierMultiplier],
                   ) -> EarnRules:
    """Check a whole rule set; field names follow setEarnRules' input."""
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"rules.{index}"
        if rule.event_type not in _EVENT_TYPES:
            raise UnknownEventType(f"unknown event type {rule.event_type!r}",
                                   field=f"{where}.eventType")
        if rule.event_type in seen:
            raise DuplicateRule(f"two rules for event type {rule.event_type!r}",
                                field=f"{where}.eventType")
        seen.add(rule.event_type)
        if rule.points < 0:
            raise NegativePoints(f"{rule.event_type} gives {rule.points} points",
                                 field=f"{where}.points")
        if rule.points > MAX_POINTS:
            raise InvalidEntry(f"{rule.points} points is more than {MAX_POINTS}",
                               field=f"{where}.points")
        if rule.daily_cap is not None and rule.daily_cap < 0:
            raise NegativePoints(f"daily cap {rule.daily_cap} is negative",
                                 field=f"{where}.dailyCap")
        if not 1 <= rule.expiry_days <= MAX_EXPIRY_DAYS:
            raise InvalidEntry(f"expiry must be 1-{MAX_EXPIRY_DAYS} days, got "
                               f"{rule.expiry_days}", field=f"{where}.expiryDays")
    tiers: set[int] = set()
    for index, multiplier in enumerate(multipliers):
        where = f"tierMultipliers.{index}"
        if multiplier.permille <= 0:
            raise InvalidMultiplier(f"multiplier {multiplier.factor} must be positive",
                                    field=f"{where}.multiplier")
        if multiplier.permille > MAX_MULTIPLIER * PERMILLE:
            raise InvalidMultiplier(f"multiplier {multiplier.factor} is above 100",
                                    field=f"{where}.multiplier")
        if multiplier.tier_id in tiers:
            raise DuplicateRule(f"two multipliers for tier {multiplier.tier_id}",
                                field=f"{where}.tierId")
        tiers.add(multiplier.tier_id)
    normalised = tuple(EarnRule(event_type=EventType(r.event_type), points=r.points,
                                daily_cap=r.daily_cap, expiry_days=r.expiry_days)
                       for r in rules)
    return EarnRules(rules=normalised, multipliers=tuple(multipliers))


def check_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidEntry(f"idempotency key must be 1-{MAX_KEY_LENGTH} characters",
                           field="idempotencyKey")
    return key


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidEntry("a reason of 1-500 characters is required", field="reason")
    return reason


def same_request(entry: Entry, *, member_id: int, kind: EntryKind, amount: int) -> bool:
    """Is a stored entry the one this request would write (a retry)?"""
    return (entry.member_id == member_id and entry.kind is kind and entry.amount == amount)
