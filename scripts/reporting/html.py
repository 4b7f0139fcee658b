"""The HTML report: one self-contained file, charts as inline SVG, every figure linked to
its glossary entry."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from scripts.reporting import charts, fmt, glossary  # noqa: E402
from scripts.reporting.document import Chart, Document, Figure, Section, Table  # noqa: E402

CSS = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #1b2733;
       margin: 0; background: #f6f7f9; }
header { background: #1f3a5f; color: white; padding: 32px 48px 28px; }
header h1 { margin: 0 0 6px; font-size: 30px; }
header p { margin: 2px 0; color: #d8e1ea; }
header p.small { color: #aab8c7; font-size: 13px; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 32px 48px; }
section { background: white; border-radius: 6px; padding: 20px 28px; margin: 24px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,.06); }
h2 { margin: 0 0 4px; font-size: 22px; }
p.lead { color: #5b6773; margin: 0 0 14px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr));
         gap: 10px; margin: 12px 0 16px; }
.figure { background: #eef1f4; border-radius: 5px; padding: 10px 12px; }
.figure .label { font-size: 12px; color: #5b6773; }
.figure .value { font-size: 22px; font-weight: bold; color: #1f3a5f; margin-top: 6px; }
.headline .figure .value { font-size: 28px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.chart.wide { grid-column: 1 / -1; }
.chart svg { width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; min-width: 50%; }
th { text-align: left; color: #5b6773; font-size: 12px; border-bottom: 1px solid #9aa5b1;
     padding: 4px 14px 4px 0; }
td { border-bottom: 1px solid #eceff2; padding: 4px 14px 4px 0; }
td.status { color: white; font-weight: bold; border-radius: 3px; padding: 2px 8px; }
h3 { font-size: 15px; margin: 14px 0 4px; }
ol.notes { font-size: 11px; color: #5b6773; border-top: 1px solid #e3e7eb; padding-top: 8px;
           list-style: none; padding-left: 0; }
.suppressed { color: #5b6773; font-style: italic; }
sup a { color: #5b6773; text-decoration: none; font-size: 10px; }
.privacy { font-size: 13px; color: #5b6773; }
"""


def _svg(chart: Chart) -> str:
    with plt.rc_context(charts.STYLE):
        fig = plt.figure(figsize=(11, 3.8) if chart.wide else (5.6, 3.9))
        ax = fig.add_axes((0.1 + (chart.left - 0.55) / 6, 0.14, 0.85 - (chart.left - 0.55) / 6,
                           0.72))
        chart.draw(ax=ax)
        out = io.StringIO()
        fig.savefig(out, format="svg")
        plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _ref(key: str) -> str:
    n = glossary.number(key)
    return f'<sup><a href="#g-{n}" title="{escape(glossary.footnote(key))}">[{n}]</a></sup>'


def _figure(f: Figure) -> str:
    return (f'<div class="figure" data-key="{escape(f.key)}"><div class="label">'
            f'{escape(f.label)} {_ref(f.key)}</div><div class="value">{escape(f.value)}</div>'
            "</div>")


def _table(title: str, table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = []
    for n, row in enumerate(table.rows):
        colour = table.colours[n] if n < len(table.colours) else None
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="suppressed"' if "suppressed" in cell or cell.startswith("< ") else ""
            if colour and i == len(row) - 1:
                cells.append(f'<td><span class="status" style="background:{colour};'
                             f'color:white;padding:2px 8px;border-radius:3px">'
                             f"{escape(cell)}</span></td>")
            else:
                cells.append(f"<td{cls}>{escape(cell)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td colspan="{len(table.columns)}">none</td></tr>')
    return (f"<h3>{escape(title)}</h3><table><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _section(s: Section) -> str:
    parts = [f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>',
             f'<p class="lead">{escape(s.lead)}</p>']
    if s.figures:
        parts.append('<div class="tiles">' + "".join(_figure(f) for f in s.figures) + "</div>")
    if s.charts:
        parts.append('<div class="charts">' + "".join(
            f'<div class="chart{" wide" if c.wide else ""}">{_svg(c)}</div>' for c in s.charts)
            + "</div>")
    parts += [_table(title, table) for title, table in s.tables]
    notes = "".join(f'<li>{escape(glossary.footnote(k))}</li>'
                    for k in sorted(s.notes, key=glossary.number))
    parts.append(f'<ol class="notes">{notes}</ol></section>')
    return "".join(parts)


def _glossary() -> str:
    rows = "".join(
        f'<tr id="g-{glossary.number(k)}"><td>[{glossary.number(k)}]</td>'
        f"<td><b>{escape(e.label)}</b><br><code>{escape(k)}</code></td>"
        f"<td>{escape(e.definition)}</td><td>{escape(e.window)}</td></tr>"
        for k, e in glossary.ENTRIES.items())
    return ('<section id="glossary"><h2>Glossary</h2><p class="lead">Every figure in this '
            'report, as the API defines it (README, "Funding KPIs"). Days are UTC days; the '
            "as-of day is inclusive; a ratio whose denominator is zero is shown as n/a.</p>"
            "<table><thead><tr><th></th><th>figure (API field)</th><th>numerator / "
            "denominator</th><th>window, as-of</th></tr></thead><tbody>" + rows
            + "</tbody></table></section>")


def render(doc: Document) -> str:
    r = doc.report
    k = r["minGroupSize"]
    scenario = (f" Projection bands come from the simulation result {escape(doc.scenario_name)}"
                " (simulated futures, not data)." if doc.scenario_name else "")
    nav = " · ".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in doc.sections)
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Community funding report as of {escape(r['asOf'])}</title>",
        f"<style>{CSS}</style></head><body><header><h1>Community funding report</h1>",
        f"<p>As of {fmt.day(r['asOf'])} · flows over {fmt.day(r['from'])} - "
        f"{fmt.day(r['to'])}</p>",
        f'<p class="small">Generated {datetime.now(UTC):%d %b %Y %H:%M} UTC from '
        f"{escape(doc.source)} with an investor token</p></header><main>",
        '<section id="headline"><div class="tiles headline">',
        "".join(_figure(f) for f in doc.headline), "</div>",
        f'<p class="privacy">Every cohort or segment (channel, tier, cohort, CAC channel, '
        f"campaign, referral cohort) with fewer than {k} members is suppressed (hatched, "
        f"shown as &lt; {k}) so no individual can be singled out; totals include everyone. "
        f"Amounts are in {fmt.CURRENCY} (minor units / 100). Numbers in [brackets] link to "
        f"the glossary.{scenario}</p>",
        f'<p class="privacy">{nav} · <a href="#glossary">Glossary</a></p></section>',
        "".join(_section(s) for s in doc.sections), _glossary(), "</main></body></html>",
    ])


def write(doc: Document, path: Path) -> None:
    path.write_text(render(doc), encoding="utf-8")
