"""The rules for one row's fields: an amount to exact minor units (`parse_amount`, which
raises NegativeAmount for refunds), a date to a UTC instant, a customer id, the purchase
event id a row always gets, and the checks of the import's channel and currency scale.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal

from domain import errors, events
from domain.importing import InvalidField, MissingField, encodes
from domain.members import IDENTITY_CHANNELS, Channel, Profile, validate_profile
from domain.transactions.values import DEFAULT_SCALE, MAX_CUSTOMER_ID

# Digits, optionally grouped by commas in threes left of the point, then an optional
# fraction: "12", "12.50", "1,234.00", "1,234,567". Anything else is malformed.
_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d+|\d{1,3}(?:,\d{3})+)(?:\.(?P<fraction>\d+))?",
                     re.ASCII)


class NegativeAmount(errors.DomainError):
    """A row with a negative amount (a refund): refunds are not imported."""

    code = "NEGATIVE_AMOUNT"



def parse_amount(text: str, *, scale: int = DEFAULT_SCALE, name: str = "amount") -> int:
    """A decimal amount as integer minor units, exactly (no float anywhere).

    `scale` is minor units per major unit (100: "12.50" -> 1250; 1 for currencies
    without minor units). A comma may only group thousands left of the decimal point
    ("1,234.00"); "12,50" is malformed rather than guessed to be a decimal comma. An
    amount with more decimals than the scale holds ("12.345" at 100) is rejected, never
    rounded. Negative amounts (refunds) raise NegativeAmount; a leading "+" is allowed.
    """
    text = text.strip()
    if not text:
        raise MissingField(f"{name} is missing", field=name)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidField(f"{name} {text!r} is not a decimal amount (like 12.50 or "
                           "1,234.00)", field=name)
    value = Decimal(match["whole"].replace(",", "") + "." + (match["fraction"] or "0"))
    minor = value * scale
    if minor != minor.to_integral_value():
        raise InvalidField(f"{name} {text!r} has more decimals than the currency's minor "
                           f"unit (1/{scale})", field=name)
    if match["sign"] == "-" and minor:
        raise NegativeAmount(f"{name} {text!r} is negative; refunds are not imported",
                             field=name)
    if minor > events.MAX_AMOUNT_MINOR:
        raise InvalidField(f"{name} {text!r} exceeds {events.MAX_AMOUNT_MINOR} minor units",
                           field=name)
    return int(minor)


def parse_date(text: str, *, date_format: str | None = None, name: str = "date") -> datetime:
    """A row's date as an aware UTC datetime.

    Without `date_format`: an ISO date ("2024-03-05") is midnight UTC of that day; an
    ISO timestamp must carry its UTC offset ("2024-03-05T14:30:00+08:00" or "...Z") and
    is converted to UTC; a timestamp without an offset is rejected (its time zone is
    unknown). With `date_format` (strptime, e.g. "%d/%m/%Y"): the text must match it;
    a result without an offset (no %z) is taken as UTC.
    """
    text = text.strip()
    if not text:
        raise MissingField(f"{name} is missing", field=name)
    try:
        if date_format is not None:
            moment = datetime.strptime(text, date_format)
        elif len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise InvalidField(f"{name} {text!r} has no UTC offset; add one (e.g. "
                                   "+08:00 or Z) or give the date alone", field=name)
    except ValueError:
        wanted = f"the format {date_format!r}" if date_format else "an ISO date or timestamp"
        raise InvalidField(f"{name} {text!r} is not a date ({wanted})", field=name) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidField(f"{name} {text!r} is out of range", field=name) from None


def parse_customer(text: str, *, name: str = "customer_id") -> str:
    """A customer id: stripped, 1-128 characters, no NUL (it becomes an identity)."""
    customer = text.strip()
    if not customer:
        raise MissingField(f"{name} is missing", field=name)
    if len(customer) > MAX_CUSTOMER_ID or "\x00" in customer or not encodes(customer):
        raise InvalidField(f"{name} {customer[:40]!r} must be 1-{MAX_CUSTOMER_ID} "
                           "printable characters", field=name)
    return customer


def purchase_external_id(channel: Channel | str, customer: str, occurred_us: int,
                         amount_minor: int, occurrence: int) -> str:
    """The purchase event id of a row: `txn:<channel>:<UTC time>:<amount>:<n>:<customer>`.

    `occurrence` is 1 for the first row of that (customer, time, amount) in the file,
    2 for the second and so on, so two identical purchases on one day are two events
    while re-importing the file maps every row to the same id again. The customer comes
    last (the other parts have fixed shapes, so ids of different rows never coincide);
    an id longer than events.MAX_EXTERNAL_ID becomes `txn:h:<sha256 of it>`.
    """
    external_id = f"txn:{channel}:{_stamp(occurred_us)}:{amount_minor}:{occurrence}:{customer}"
    if len(external_id) > events.MAX_EXTERNAL_ID:
        return "txn:h:" + hashlib.sha256(external_id.encode()).hexdigest()
    return external_id


@functools.lru_cache(maxsize=1 << 16)  # files repeat their days: format each once
def _stamp(occurred_us: int) -> str:
    moment = events.at(occurred_us)
    return moment.strftime("%Y%m%dT%H%M%S") + (f".{moment.microsecond:06d}"
                                               if moment.microsecond else "") + "Z"


def member_profile(customer: str) -> Profile:
    """The profile of a member the import creates: only a display name from the id."""
    return validate_profile(Profile(display_name=f"Customer {customer}"[:120]))


def check_channel(channel: str) -> Channel:
    """The import's identity channel (`offline` by default): one that holds accounts."""
    try:
        known = Channel(channel)
    except ValueError:
        known = None
    if known not in IDENTITY_CHANNELS:
        names = ", ".join(sorted(c.value for c in IDENTITY_CHANNELS))
        raise errors.InvalidValue(f"channel {channel!r} holds no accounts; use one of {names}",
                                  field="channel")
    return known


def check_scale(scale: int) -> int:
    """Minor units per major unit: a power of ten from 1 to 10**6."""
    if scale not in {10**k for k in range(7)}:
        raise errors.InvalidValue(f"currency scale {scale} must be 1, 10, 100, ... 1000000",
                                  field="currency_scale")
    return scale
