"""Shared fixtures: a fresh, migrated database per test on every backend.

Store, API and end-to-end tests take the `database` (or `database_url`) fixture
and so run once on SQLite and once on PostgreSQL. `make test` starts the
PostgreSQL server and exports TIERWISE_TEST_POSTGRES_URL; running pytest by hand
without it needs TIERWISE_TEST_BACKENDS=sqlite, so a missing server is never
mistaken for a pass.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from domain.store import migrate
from domain.store.database import Database

BACKENDS = [b for b in os.environ.get("TIERWISE_TEST_BACKENDS", "sqlite,postgresql").split(",")
            if b]
_counter = itertools.count()
_outcomes: Counter[tuple[str, str]] = Counter()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> str:
    url = os.environ.get("TIERWISE_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("TIERWISE_TEST_POSTGRES_URL is not set: run `make test` (it starts a "
                    "PostgreSQL server) or set TIERWISE_TEST_BACKENDS=sqlite", pytrace=False)
    asyncio.run(_admin(url, "DROP DATABASE IF EXISTS tierwise_template",
                       "CREATE DATABASE tierwise_template"))
    migrate.upgrade(_with_database(url, "tierwise_template"))
    return url


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                 database=parsed.database or "postgres")
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    """A fresh migrated database of the test's backend, copied from a template."""
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tierwise.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    server = request.getfixturevalue("postgres_template")
    name = f"tierwise_test_{os.getpid()}_{next(_counter)}"
    asyncio.run(_admin(server, f"CREATE DATABASE {name} TEMPLATE tierwise_template"))
    request.addfinalizer(lambda: asyncio.run(_admin(server, f"DROP DATABASE {name} WITH (FORCE)")))
    return _with_database(server, name)


@pytest.fixture
async def database(database_url):
    db = Database(database_url)
    try:
        yield db
    finally:
        await db.dispose()


def pytest_runtest_logreport(report) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        backend = next((b for b in ("sqlite", "postgresql") if f"[{b}" in report.nodeid
                        or f"-{b}" in report.nodeid), "no database")
        _outcomes[(backend, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.section("tests per backend")
    for backend in ("sqlite", "postgresql", "no database"):
        counts = {o: n for (b, o), n in _outcomes.items() if b == backend}
        if counts:
            detail = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            terminalreporter.write_line(f"{backend}: {detail}")
