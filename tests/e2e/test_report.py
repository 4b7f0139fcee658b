"""`tierwise report`: the investor report from a demo community, in-process and over HTTP,
with small-group suppression and clean errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pypdfium2
import pytest

from domain import access, demo, kpi_reports
from domain.clock import utcnow
from domain.store import bulk
from domain.store.database import Database
from scripts import cli
from scripts.reporting import client, fmt
from tests.e2e.serving import TIERWISE, free_port
from tests.e2e.test_served_api import server  # noqa: F401 (fixture)


async def _seed(url: str, end) -> None:
    db = Database(url)
    try:
        await bulk.write_community(db, demo.generate(members=400, days=90, seed=3, end=end),
                                   reason="test")
        now = utcnow()
        async with db.unit_of_work() as uow:
            await kpi_reports.record_acquisition_spend(
                uow=uow, channel="wechat", month=end - timedelta(days=3), amount_minor=300_000,
                actor="test", now=now)
        async with db.unit_of_work() as uow:
            await kpi_reports.record_acquisition_spend(
                uow=uow, channel="douyin", month=end - timedelta(days=3), amount_minor=150_000,
                actor="test", now=now)
        async with db.unit_of_work() as uow:
            await kpi_reports.install_default_targets(uow=uow, starts_on=end - timedelta(days=40),
                                                      today=now.date(), actor="test", now=now)
    finally:
        await db.dispose()


@pytest.fixture
def community(database_url, monkeypatch):
    """A 400-member, 90-day demo community with spend and the default targets; the as-of."""
    end = utcnow().date() - timedelta(days=2)
    asyncio.run(_seed(database_url, end))
    monkeypatch.setenv("TIERWISE_DATABASE_URL", database_url)
    monkeypatch.delenv("TIERWISE_API_URL", raising=False)
    monkeypatch.delenv("TIERWISE_MIN_GROUP_SIZE", raising=False)
    return end - timedelta(days=1)


def _rendered_page(pdf: Path, index: int, png: Path):
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[index].render(scale=1.0).to_pil()
        image.save(png)
        return len(document), image.convert("RGB")
    finally:
        document.close()


def test_report_in_process_writes_html_and_pdf_with_the_investor_figures(
        community, database_url, tmp_path, capsys):
    as_of = community
    out = tmp_path / "out"
    assert cli.main(["report", "--as-of", as_of.isoformat(), "--out", str(out)]) == 0
    assert "report.html" in capsys.readouterr().out
    html, pdf = (out / "report.html").read_text(), out / "report.pdf"
    assert pdf.stat().st_size > 10_000

    # the same question the report asked, as an investor: its headline figures are on it
    report = asyncio.run(client.in_process(database_url, as_of))
    assert report["minGroupSize"] == 10
    for key, value in [("membersTotal", fmt.count(report["membersTotal"])),
                       ("mau", fmt.count(report["mau"])),
                       ("stickiness", fmt.pct(report["stickiness"])),
                       ("payingShare", fmt.pct(report["payingShare"])),
                       ("revenueMinor", fmt.money(report["revenueMinor"])),
                       ("ltvToCac", fmt.ratio(report["ltvToCac"]))]:
        assert f'data-key="{key}"' in html
        tile = html.split(f'data-key="{key}"', 1)[1].split('<div class="figure"', 1)[0]
        assert f'<div class="value">{value}</div>' in tile, key
    assert report["membersTotal"] == 400
    # each section and the glossary; every figure links to its definition
    for anchor in ("growth", "activity", "tiers", "cohorts", "economics", "targets",
                   "glossary"):
        assert f'<section id="{anchor}">' in html
    assert "members joined by the end of the as-of day" in html
    assert html.count("<svg") >= 9
    wechat = next(c for c in report["cac"] if c["channel"] == "wechat")
    assert fmt.money(wechat["cacMinor"], cents=True) in html
    assert "Conversion 5% -&gt; 12% within 6 months" in html

    pages, image = _rendered_page(pdf, 0, tmp_path / "page1.png")
    assert pages >= 8  # cover, six sections, glossary
    assert (tmp_path / "page1.png").stat().st_size > 10_000
    colours = image.getcolors(maxcolors=1_000_000)
    assert len(colours) > 50  # text, tiles and the header band, not a blank page
    _, last = _rendered_page(pdf, pages - 1, tmp_path / "glossary.png")
    assert len(last.getcolors(maxcolors=1_000_000)) > 10


def test_small_cohorts_are_hatched_not_shown(community, tmp_path, monkeypatch):
    as_of = community
    monkeypatch.setenv("TIERWISE_MIN_GROUP_SIZE", "25")
    out = tmp_path / "out"
    assert cli.main(["report", "--as-of", as_of.isoformat(), "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    cohorts = html.split('<section id="cohorts">', 1)[1].split("</section>", 1)[0]
    # the first demo month has about 20 members: below 25, so its row is suppressed
    assert "&lt; 25 members: suppressed" in cohorts
    assert "(n &lt; 25)" in cohorts
    assert "fewer than 25 members is suppressed" in html


def test_scenario_bands_are_drawn_after_the_as_of_day(community, tmp_path):
    as_of = community
    days = list(range(1, 61))
    band = {"mean": [400 + d for d in days], "p5": [390 + d for d in days],
            "p50": [400 + d for d in days], "p95": [410 + 2 * d for d in days]}
    share = {q: [0.04 + 0.001 * d for d in days] for q in ("mean", "p5", "p50", "p95")}
    result = tmp_path / "result.json"
    result.write_text(json.dumps({
        "days": days, "kpis": {"members": band, "payingShare": share},
        "targets": [{"name": "Conversion 12%", "metric": "payingShare", "goal": 0.12,
                     "deadlineDay": 60, "probability": 0.37}]}))
    out = tmp_path / "out"
    assert cli.main(["report", "--as-of", as_of.isoformat(), "--out", str(out),
                     "--scenario", str(result)]) == 0
    html = (out / "report.html").read_text()
    assert html.count("simulated p5-p95") >= 2  # growth chart and the projection chart
    assert "Paying share (simulated)" in html and "37%" in html
    assert "result.json" in html


def _run(capsys, *args: str) -> tuple[int, str]:
    """`tierwise report ARGS` through the command's entry point: (exit code, stderr)."""
    capsys.readouterr()
    code = cli.main(["report", *args])
    return code, capsys.readouterr().err


def _one_line_error(done: tuple[int, str], *fragments: str) -> None:
    code, err = done
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_input_is_one_line_and_exit_2(community, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "out")
    _one_line_error(_run(capsys, "--as-of", "20/11/2026", "--out", out), "not a date")
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    _one_line_error(_run(capsys, "--as-of", future, "--out", out), "AS_OF_IN_FUTURE")
    port = free_port()  # nothing listens there
    _one_line_error(_run(capsys, "--as-of", community.isoformat(), "--out", out, "--url",
                         f"http://127.0.0.1:{port}", "--token", "tw_x"), "cannot reach")
    monkeypatch.setenv("TIERWISE_API_TOKEN", "")
    _one_line_error(_run(capsys, "--as-of", community.isoformat(), "--out", out, "--url",
                         f"http://127.0.0.1:{port}"), "needs an investor token")
    missing = tmp_path / "missing.json"
    _one_line_error(_run(capsys, "--as-of", community.isoformat(), "--out", out,
                         "--scenario", str(missing)), "--scenario")
    assert not (tmp_path / "out" / "report.pdf").exists()


def test_the_command_exits_2_without_a_traceback(database_url, tmp_path):
    future = (utcnow().date() + timedelta(days=3)).isoformat()
    done = subprocess.run([*TIERWISE, "report", "--as-of", future, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, TIERWISE_DATABASE_URL=database_url))
    _one_line_error((done.returncode, done.stderr), "AS_OF_IN_FUTURE")


async def _investor_token(url: str) -> str:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            token, _ = await access.issue_token(uow=uow, role=access.Role.INVESTOR,
                                                label="test", now=utcnow())
        return token
    finally:
        await db.dispose()


def test_report_over_http_with_an_investor_token(server, database_url, tmp_path,  # noqa: F811
                                                 capsys, monkeypatch):
    base, operator_token = server
    monkeypatch.delenv("TIERWISE_DATABASE_URL", raising=False)  # HTTP only
    as_of = (utcnow().date() - timedelta(days=1)).isoformat()
    token = asyncio.run(_investor_token(database_url))
    out = tmp_path / "served"
    monkeypatch.setenv("TIERWISE_API_TOKEN", token)
    code, err = _run(capsys, "--as-of", as_of, "--out", str(out), "--url", base)
    assert code == 0, err
    html = (out / "report.html").read_text()
    assert '<div class="value">300</div>' in html  # the served demo's 300 members
    assert base in html
    pages, _ = _rendered_page(out / "report.pdf", 0, tmp_path / "served.png")
    assert pages >= 8

    _one_line_error(_run(capsys, "--as-of", as_of, "--out", str(out), "--url", base,
                         "--token", "tw_not-a-token"), "refused the token (401)")
    _one_line_error(_run(capsys, "--as-of", as_of, "--out", str(out), "--url",
                         f"{base}/graphql", "--token", operator_token), "not an investor token")
