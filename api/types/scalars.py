from __future__ import annotations

from typing import NewType

import strawberry

MAX_SAFE = 2**53 - 1  # JSON numbers stay exact up to here in every client

MinorUnits = NewType("MinorUnits", int)


def _parse(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_SAFE:
        raise ValueError(f"MinorUnits must be an integer within +/-{MAX_SAFE}, got {value!r}")
    return MinorUnits(value)


SCALARS = {
    MinorUnits: strawberry.scalar(
        name="MinorUnits",
        description="Money in integer minor units (fen, cents): 1234 is 12.34. "
                    "Wider than Int (up to 2^53 - 1).",
        serialize=int,
        parse_value=_parse,
    ),
}
