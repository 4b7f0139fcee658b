"""`tierwise calibrate` and `tierwise simulate --calibrate` against a real database."""

from __future__ import annotations

import asyncio
import json

from domain.store import bulk
from domain.store.database import Database
from scripts import cli
from tests.simulation.known_community import generate, truth


def _seed(url: str):
    community, _, _, as_of = generate(truth(horizonDays=40), members=300)

    async def write():
        db = Database(url)
        try:
            await bulk.write_community(db, community, reason="simulated")
        finally:
            await db.dispose()

    asyncio.run(write())
    return as_of


def test_calibrate_writes_the_filled_scenario(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    as_of = _seed(database_url)
    base = tmp_path / "base.json"
    base.write_text(json.dumps(truth(horizonDays=20, initial={"fromDatabase": True})))
    out = tmp_path / "scenario.json"
    assert cli.main(["calibrate", str(base), "--as-of", str(as_of), "--window-days", "40",
                     "--out", str(out)]) == 0
    filled = json.loads(out.read_text())
    assert filled["initial"]["fromDatabase"] and filled["initial"]["members"] > 300
    assert 0.4 < filled["tiers"][0]["activity"] < 0.8
    assert "tiers.core.activity" in capsys.readouterr().out

    result = tmp_path / "result.json"
    assert cli.main(["simulate", str(base), "--calibrate", "--as-of", str(as_of),
                     "--window-days", "40", "--replicates", "2", "--workers", "1",
                     "--out", str(result)]) == 0
    document = json.loads(result.read_text())
    assert document["kpis"]["members"]["p50"][0] >= filled["initial"]["members"] * 0.9


def test_calibrating_an_empty_database_fails_with_not_enough_data(database_url, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    base = tmp_path / "base.json"
    base.write_text(json.dumps(truth(initial={"fromDatabase": True})))
    assert cli.main(["calibrate", str(base), "--as-of", "2026-01-01",
                     "--out", str(tmp_path / "s.json")]) == 2
    assert "NOT_ENOUGH_DATA" in capsys.readouterr().err
    assert cli.main(["simulate", str(base), "--calibrate",
                     "--out", str(tmp_path / "r.json")]) == 2
    assert "--calibrate needs --as-of" in capsys.readouterr().err
