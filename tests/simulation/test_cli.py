"""`tierwise simulate` writes the result document and a fan chart."""

from __future__ import annotations

import json

from scripts import cli
from tests.simulation.scenarios import document


def test_simulate_a_scenario_file_writes_the_result_and_a_fan_chart(tmp_path, capsys):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(document(replicates=3)))
    out, plot = tmp_path / "result.json", tmp_path / "fan.png"
    assert cli.main(["simulate", str(scenario), "--out", str(out), "--plot", str(plot),
                     "--workers", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["replicates"] == 3 and len(result["kpis"]["members"]["p50"]) == 30
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    captured = capsys.readouterr()
    assert "half active: P(met by day 20)" in captured.out
    assert "100.0%" in captured.err  # the progress bar reached the end


def test_the_preset_can_be_overridden_by_a_file(tmp_path):
    scenario = tmp_path / "short.json"
    scenario.write_text(json.dumps({"horizonDays": 5, "targets": [], "campaigns": [],
                                    "initial": {"members": 500}}))
    out = tmp_path / "result.json"
    assert cli.main(["simulate", str(scenario), "--preset", "three-tier", "--replicates", "2",
                     "--out", str(out), "--workers", "1"]) == 0
    result = json.loads(out.read_text())
    assert result["days"] == [1, 2, 3, 4, 5]
    assert [t["key"] for t in result["scenario"]["tiers"]] == ["core", "potential", "basic"]


def test_an_invalid_scenario_lists_its_field_errors(tmp_path, capsys):
    scenario = tmp_path / "bad.json"
    scenario.write_text(json.dumps(document(horizonDays=0)))
    assert cli.main(["simulate", str(scenario), "--out", str(tmp_path / "r.json")]) == 2
    assert "horizonDays: OUT_OF_RANGE" in capsys.readouterr().err
