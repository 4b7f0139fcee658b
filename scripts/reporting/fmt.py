"""How figures are written on the report (one place, so HTML and PDF agree)."""

from __future__ import annotations

from datetime import date

CURRENCY = "¥"  # amounts are integer minor units (fen); shown in major units
NOT_DEFINED = "n/a"  # a ratio with a zero denominator, or a model that could not be fitted


def money(minor: float | None, *, cents: bool = False) -> str:
    if minor is None:
        return NOT_DEFINED
    value = minor / 100
    return f"{CURRENCY}{value:,.2f}" if cents or abs(value) < 100 else f"{CURRENCY}{value:,.0f}"


def pct(x: float | None, digits: int = 1) -> str:
    return NOT_DEFINED if x is None else f"{x * 100:.{digits}f}%"


def count(n: int | None) -> str:
    return NOT_DEFINED if n is None else f"{n:,}"


def ratio(x: float | None, unit: str = "x") -> str:
    return NOT_DEFINED if x is None else f"{x:.2f}{unit}"


def months(x: float | None) -> str:
    return NOT_DEFINED if x is None else f"{x:.1f} months"


def day(d: str | date) -> str:
    d = date.fromisoformat(d) if isinstance(d, str) else d
    return f"{d.day} {d:%b %Y}"


def month(d: str | date) -> str:
    d = date.fromisoformat(d) if isinstance(d, str) else d
    return f"{d:%b %Y}"


def status(s: str) -> str:
    return s.replace("_", " ").lower()


STATUS_COLOURS = {"ON_TRACK": "#2a9d8f", "MET": "#2a9d8f", "AT_RISK": "#e9a23b",
                  "OFF_TRACK": "#d1495b", "MISSED": "#d1495b", "NO_DATA": "#9aa5b1"}
