"""`tierwise report --as-of DATE --out DIR`: the investor report (README, "Investor report").

A real client of the API: with --url (or TIERWISE_API_URL) it POSTs `fundingReport` over
HTTP with an investor token (--token or TIERWISE_API_TOKEN); without a URL it builds the
app in-process over TIERWISE_DATABASE_URL with an investor token issued for the run and
revoked after it. Either way the report shows only what an investor may see. Writes
report.html and report.pdf; bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import date
from pathlib import Path

from scripts import config

EXIT_BAD_INPUT = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write the investor report (report.html, report.pdf) from the API")
    parser.add_argument("--as-of", required=True, metavar="YYYY-MM-DD",
                        help="the report's as-of day (UTC, not after today)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory for report.html and report.pdf (created if missing)")
    parser.add_argument("--url", default=None,
                        help="the running API (base URL or its /graphql); default "
                             "TIERWISE_API_URL, else the app in-process over "
                             "TIERWISE_DATABASE_URL")
    parser.add_argument("--token", default=None,
                        help="investor token for --url (default TIERWISE_API_TOKEN)")
    parser.add_argument("--scenario", default=None, metavar="RESULT.json",
                        help="simulation result document: projection bands after as-of")
    parser.set_defaults(handler=run)


class BadInput(Exception):
    """One line for the user."""


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"--as-of {text!r} is not a date; use YYYY-MM-DD") from None


def load_scenario(path: str) -> dict:
    """A simulation result document: {"days": [...], "kpis": {name: {"mean", "p5", "p50",
    "p95"}}, "targets": [...]}, checked enough to draw from."""
    try:
        scenario = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInput(f"--scenario {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise BadInput(f"--scenario {path} is not JSON: {error}") from None
    if not isinstance(scenario, dict) or not isinstance(scenario.get("days"), list) \
            or not isinstance(scenario.get("kpis"), dict):
        raise BadInput(f"--scenario {path} is not a simulation result (needs \"days\" and "
                       "\"kpis\")")
    days = scenario["days"]
    if not all(isinstance(d, int) and d >= 0 for d in days):
        raise BadInput(f"--scenario {path}: \"days\" must be whole days after as-of")
    for name, band in scenario["kpis"].items():
        if not isinstance(band, dict) or any(
                not isinstance(band.get(q), list) or len(band[q]) != len(days)
                for q in ("p5", "p50", "p95")):
            raise BadInput(f"--scenario {path}: kpis.{name} needs p5, p50 and p95 lists as "
                           "long as \"days\"")
    if not isinstance(scenario.get("targets", []), list):
        raise BadInput(f"--scenario {path}: \"targets\" must be a list")
    return scenario


def run(args) -> int:
    from scripts.reporting import client

    try:
        as_of = _as_of(args.as_of)
        scenario = load_scenario(args.scenario) if args.scenario else None
        url = args.url or os.environ.get("TIERWISE_API_URL", "").strip() or None
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise BadInput(f"--out {out} exists and is not a directory")
        if url:
            token = args.token or os.environ.get("TIERWISE_API_TOKEN", "").strip()
            if not token:
                raise BadInput("--url needs an investor token: --token or TIERWISE_API_TOKEN "
                               "(`tierwise create-token --role investor`)")
            report = client.over_http(url, token, as_of)
            source = url
        else:
            report = asyncio.run(client.in_process(config.from_environment().database_url,
                                                   as_of))
            source = "the in-process API"
    except (BadInput, client.ReportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return write(report, out, source=source, scenario=scenario,
                 scenario_name=Path(args.scenario).name if args.scenario else None)


def write(report: dict, out: Path, *, source: str, scenario: dict | None = None,
          scenario_name: str | None = None) -> int:
    """Render both files into `out`; print where they are."""
    from scripts.reporting import document, html, pdf

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: cannot create --out {out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    doc = document.build(report, source=source, scenario=scenario, scenario_name=scenario_name)
    html.write(doc, out / "report.html")
    pdf.write(doc, out / "report.pdf")
    print(f"investor report as of {report['asOf']}: {out / 'report.html'}, "
          f"{out / 'report.pdf'} (groups under {report['minGroupSize']} members suppressed)")
    return 0
