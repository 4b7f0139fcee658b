"""Each `tierwise bench` command runs end to end on a small data set and prints its
figures: a schema change that breaks a benchmark's data set builder (as dropping an
index by name once did) fails here, not in a session's measurement run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from scripts.bench import kpi, kpi_data

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str, tmp_path: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "scripts.cli", "bench", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "TIERWISE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"})
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout + done.stderr


def test_bench_retier_moves_every_member_under_quotas(tmp_path):
    code, out = bench("retier", "--members", "2000", "--days", "10", "--var", str(tmp_path),
                      tmp_path=tmp_path)
    assert code == 0, out
    assert "retier: 2,000 members" in out
    assert re.search(r"quotas\s+apply .* 2,000 moved", out), out
    assert "target: every apply under 60 s: met" in out


def test_bench_lifecycle_gives_every_member_a_first_transition(tmp_path):
    code, out = bench("lifecycle", "--members", "2000", "--days", "30", tmp_path=tmp_path)
    assert code == 0, out
    assert re.search(r"first refresh: .* 2,000 transitions", out), out


def test_bench_kpi_reports_and_ingests(tmp_path):
    code, out = bench("kpi", "--members", "2000", "--events", "20000", "--days", "60",
                      "--ingest", "2000", "--cache", str(tmp_path), tmp_path=tmp_path)
    assert code in (0, 1), out  # 1: the 50,000/s target is not met at this size
    assert "report: members 2,000" in out
    assert "ingestion with rollups: 2,000 events" in out
    assert "target: report < 2 s: met" in out


def test_bench_kpi_runs_on_an_empty_database_of_either_backend(database_url, backend,
                                                              tmp_path):
    """`--database`: the data set is copied into the given empty database (COPY on
    PostgreSQL) and the report reads it back: every member and the MAU of the generated
    history, and the ingested events all stored."""
    code, out = bench("kpi", "--members", "1500", "--events", "15000", "--days", "40",
                      "--ingest", "1500", "--database", database_url, tmp_path=tmp_path)
    assert code in (0, 1), out
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    assert f"{label}: report: members 1,500" in out
    assert "ingestion with rollups: 1,500 events" in out
    # MAU as of the last day: the members with a generated event in its 30 days
    data = kpi_data.generate(members=1500, events=15000, days=40, end=kpi.END, seed=7)
    mau = len(np.unique(data.owner[data.day >= 40 - 30]))
    assert f"MAU {mau:,}, " in out, out
    code, again = bench("kpi", "--members", "1500", "--events", "15000", "--days", "40",
                        "--database", database_url, tmp_path=tmp_path)
    assert code == 1 and "needs an empty database" in again


def test_bench_import_keeps_the_rollup_equal_to_the_events(tmp_path):
    code, out = bench("import", "--events", "4000", "--members", "200", "--repeat", "1",
                      "--target", "0", tmp_path=tmp_path)
    assert code == 0, out
    assert "accepted 4,000, duplicates 0" in out
    assert "accepted 0, duplicates 4,000" in out  # the re-import stores nothing
    checks = re.findall(r"sum\(member_days.events\) ([\d,]+) == events ([\d,]+)", out)
    assert len(checks) == 2 and all(a == b for a, b in checks), out


def test_bench_seed_writes_the_demo_community(tmp_path):
    code, out = bench("seed", "--members", "300", "--days", "10", tmp_path=tmp_path)
    assert code == 0, out
    assert "demo community: 300 members x 10 days" in out
