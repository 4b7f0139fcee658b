"""Configuration read at the edge, from the environment, typed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from domain.store.database import DEFAULT_URL


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    log_level: str = "info"
    token_cache_seconds: float = 30.0


def from_environment() -> Settings:
    """TIERWISE_DATABASE_URL (default: a SQLite file under var/), TIERWISE_LOG_LEVEL,
    TIERWISE_TOKEN_CACHE_SECONDS."""
    url = os.environ.get("TIERWISE_DATABASE_URL", "").strip() or DEFAULT_URL
    if url.startswith("sqlite") and ":///" in url and ":memory:" not in url:
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    cache = os.environ.get("TIERWISE_TOKEN_CACHE_SECONDS", "30")
    try:
        cache_seconds = float(cache)
    except ValueError:
        raise SystemExit(f"TIERWISE_TOKEN_CACHE_SECONDS must be a number, got {cache!r}") from None
    return Settings(database_url=url,
                    log_level=os.environ.get("TIERWISE_LOG_LEVEL", "info").lower(),
                    token_cache_seconds=cache_seconds)
