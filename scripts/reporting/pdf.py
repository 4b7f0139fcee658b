"""The PDF: A4 landscape pages laid out as matplotlib figures (PdfPages), one per
section, a cover with the headline figures and a glossary at the end."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Rectangle  # noqa: E402

from scripts.reporting import charts, fmt, glossary  # noqa: E402
from scripts.reporting.document import Document, Section, Table  # noqa: E402

W, H = 11.69, 8.27  # A4 landscape, inches
MARGIN = 0.5
INK, MUTED = "#1b2733", "#5b6773"


def _fx(inches: float) -> float:
    return inches / W


def _fy(inches: float) -> float:
    return inches / H


def _page(doc: Document, number: int, title: str, lead: str | None = None):
    fig = plt.figure(figsize=(W, H))
    fig.patches.append(Rectangle((0, 1 - _fy(0.12)), 1, _fy(0.12), transform=fig.transFigure,
                                 facecolor=charts.NAVY, edgecolor="none"))
    fig.text(_fx(MARGIN), 1 - _fy(0.55), title, fontsize=18, fontweight="bold", color=INK)
    r = doc.report
    fig.text(1 - _fx(MARGIN), 1 - _fy(0.5), f"as of {fmt.day(r['asOf'])}  ·  period "
             f"{fmt.day(r['from'])} - {fmt.day(r['to'])}", ha="right", fontsize=9, color=MUTED)
    fig.text(1 - _fx(MARGIN), _fy(0.25), f"{number}", ha="right", fontsize=8, color=MUTED)
    fig.text(_fx(MARGIN), _fy(0.25), "tierwise investor report  ·  groups smaller than "
             f"{r['minGroupSize']} members suppressed", fontsize=7, color=MUTED)
    top = 0.75
    if lead:
        lines = textwrap.wrap(lead, 170)
        fig.text(_fx(MARGIN), 1 - _fy(0.85), "\n".join(lines), fontsize=9, color=MUTED,
                 va="top", linespacing=1.4)
        top += 0.2 + 0.17 * len(lines)
    return fig, top


def _footnotes(fig, keys: list[str]) -> float:
    """Write the definitions of `keys` at the page foot; the height used, in inches."""
    lines = []
    for key in sorted(keys, key=glossary.number):
        lines += textwrap.wrap(glossary.footnote(key), 210, subsequent_indent="     ")
    height = 0.115 * len(lines) + 0.15
    y = 0.45 + height
    fig.add_artist(plt.Line2D([_fx(MARGIN), 1 - _fx(MARGIN)], [_fy(y), _fy(y)],
                              color="#d5dae0", linewidth=0.6))
    fig.text(_fx(MARGIN), _fy(y - 0.07), "\n".join(lines), fontsize=6.2, color=MUTED,
             va="top", linespacing=1.35)
    return height + 0.5


def _tiles(fig, figures, *, top: float, height: float, per_row: int, gap: float = 0.12,
           big: bool = False) -> float:
    """Headline figure tiles in rows of `per_row`; the height used, in inches."""
    width = (W - 2 * MARGIN - gap * (per_row - 1)) / per_row
    rows = (len(figures) + per_row - 1) // per_row
    for i, f in enumerate(figures):
        row, col = divmod(i, per_row)
        x = MARGIN + col * (width + gap)
        y = H - top - (row + 1) * height - row * gap
        fig.patches.append(FancyBboxPatch(
            (_fx(x), _fy(y)), _fx(width), _fy(height), boxstyle="round,pad=0,rounding_size=0.006",
            transform=fig.transFigure, facecolor=charts.LIGHT, edgecolor="none"))
        fig.text(_fx(x + 0.12), _fy(y + height - 0.1), f"{f.label} [{glossary.number(f.key)}]",
                 fontsize=7.5 if not big else 8.5, color=MUTED, va="top")
        fig.text(_fx(x + 0.12), _fy(y + 0.08), f.value, fontsize=13 if not big else 20,
                 fontweight="bold", color=charts.NAVY, va="bottom")
    return rows * height + (rows - 1) * gap + 0.2


def _table(fig, rect, title: str, table: Table, *, max_rows: int | None = None) -> None:
    """A simple ruled table in `rect` (x, y, w, h in inches from the bottom left)."""
    x, y, w, h = rect
    row_h = 0.22
    fig.text(_fx(x), _fy(y + h - 0.05), title, fontsize=10, fontweight="bold", color=INK,
             va="top")
    fits = int((h - 0.35) / row_h) - 1
    limit = min(fits, max_rows) if max_rows else fits
    rows = table.rows
    more = 0
    if len(rows) > limit:
        more, rows = len(rows) - (limit - 1), rows[:limit - 1]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
              for i, c in enumerate(table.columns)]
    total = sum(min(wd, 40) + 2 for wd in widths)
    xs, acc = [], x
    for wd in widths:
        xs.append(acc)
        acc += w * (min(wd, 40) + 2) / total
    top = y + h - 0.35
    for i, c in enumerate(table.columns):
        fig.text(_fx(xs[i]), _fy(top), c, fontsize=7.5, color=MUTED, fontweight="bold",
                 va="top")
    fig.add_artist(plt.Line2D([_fx(x), _fx(x + w)], [_fy(top - 0.17)] * 2, color="#9aa5b1",
                              linewidth=0.7))
    if not rows:
        fig.text(_fx(x), _fy(top - row_h), "none", fontsize=8, color=MUTED, va="top")
    for n, row in enumerate(rows):
        ty = top - (n + 1) * row_h
        colour = table.colours[n] if n < len(table.colours) else None
        for i, cell in enumerate(row):
            last = i == len(row) - 1
            if last and colour:
                fig.patches.append(FancyBboxPatch(
                    (_fx(xs[i] - 0.04), _fy(ty - 0.17)), _fx(len(cell) * 0.07 + 0.1),
                    _fy(0.19), boxstyle="round,pad=0,rounding_size=0.004",
                    transform=fig.transFigure, facecolor=colour, edgecolor="none"))
            fig.text(_fx(xs[i]), _fy(ty), cell[:60], fontsize=8, va="top",
                     color="white" if last and colour else INK,
                     fontweight="bold" if last and colour else "normal")
        fig.add_artist(plt.Line2D([_fx(x), _fx(x + w)], [_fy(ty - 0.19)] * 2,
                                  color="#eceff2", linewidth=0.5))
    if more:
        fig.text(_fx(x), _fy(top - (len(rows) + 1) * row_h), f"... and {more} more (HTML "
                 "report lists all)", fontsize=7.5, color=MUTED, va="top")


def _charts(fig, section: Section, box) -> None:
    """Lay the section's charts out in `box` (x, y, w, h inches): wide charts take a row,
    others pair up."""
    x, y, w, h = box
    rows, pending = [], []
    for chart in section.charts:
        if chart.wide:
            if pending:
                rows.append(pending)
                pending = []
            rows.append([chart])
        else:
            pending.append(chart)
            if len(pending) == 2:
                rows.append(pending)
                pending = []
    if pending:
        rows.append(pending)
    weights = [max(c.height for c in row) for row in rows]
    gap = 0.55
    usable = h - gap * (len(rows) - 1)
    top = y + h
    for row, weight in zip(rows, weights, strict=True):
        rh = usable * weight / sum(weights)
        cw = (w - 0.9 * (len(row) - 1)) / len(row)
        for i, chart in enumerate(row):
            left = x + i * (cw + 0.9) + chart.left
            ax = fig.add_axes((_fx(left), _fy(top - rh + 0.35), _fx(cw - chart.left - 0.05),
                               _fy(rh - 0.7)))
            chart.draw(ax=ax)
        top -= rh + gap


def _section_page(doc: Document, number: int, section: Section):
    fig, top = _page(doc, number, section.title, section.lead)
    if section.figures:
        top += _tiles(fig, section.figures, top=top, height=0.66,
                      per_row=max(len(section.figures), 5))
    bottom = _footnotes(fig, section.notes)
    content_h = H - top - bottom
    content_w = W - 2 * MARGIN
    if section.charts and section.tables:
        table_w = content_w * 0.34
        _charts(fig, section, (MARGIN, bottom, content_w - table_w - 0.5, content_h))
        _tables(fig, section.tables, (W - MARGIN - table_w, bottom, table_w, content_h))
    elif section.charts:
        _charts(fig, section, (MARGIN, bottom, content_w, content_h))
    else:
        _tables(fig, section.tables, (MARGIN, bottom, content_w, content_h))
    return fig


def _tables(fig, tables, box) -> None:
    """Stack tables top-down in `box`, each as tall as its rows (the last takes the rest)."""
    x, y, w, h = box
    top = y + h
    for i, (title, table) in enumerate(tables):
        need = 0.22 * (len(table.rows) + 1) + 0.6
        height = top - y if i == len(tables) - 1 else min(need, (top - y) / 2)
        _table(fig, (x, top - height, w, height), title, table)
        top -= height + 0.15


def _cover(doc: Document):
    r = doc.report
    fig = plt.figure(figsize=(W, H))
    fig.patches.append(Rectangle((0, 1 - _fy(2.3)), 1, _fy(2.3), transform=fig.transFigure,
                                 facecolor=charts.NAVY, edgecolor="none"))
    fig.text(_fx(MARGIN), 1 - _fy(0.95), "Community funding report", fontsize=28,
             fontweight="bold", color="white")
    fig.text(_fx(MARGIN), 1 - _fy(1.45), f"As of {fmt.day(r['asOf'])}  ·  flows over "
             f"{fmt.day(r['from'])} - {fmt.day(r['to'])}", fontsize=13, color="#d8e1ea")
    fig.text(_fx(MARGIN), 1 - _fy(1.85), f"Generated {datetime.now(UTC):%d %b %Y %H:%M} UTC "
             f"from {doc.source} with an investor token", fontsize=9, color="#aab8c7")
    _tiles(fig, doc.headline, top=2.7, height=1.05, per_row=5, gap=0.18, big=True)
    contents = [f"{i + 2}.  {s.title}" for i, s in enumerate(doc.sections)]
    contents.append(f"{len(doc.sections) + 2}.  Glossary: every figure's numerator, "
                    "denominator, window and as-of")
    fig.text(_fx(MARGIN), _fy(2.75), "Contents", fontsize=11, fontweight="bold", color=INK,
             va="top")
    fig.text(_fx(MARGIN), _fy(2.45), "\n".join(contents), fontsize=9.5, color=INK, va="top",
             linespacing=1.6)
    privacy = (f"Privacy: this report was produced with an investor token. Every cohort or "
               f"segment (channel, tier, cohort, CAC channel, campaign, referral cohort) with "
               f"fewer than {r['minGroupSize']} members is suppressed (hatched, shown as "
               f"\"< {r['minGroupSize']}\") so no individual can be singled out; totals "
               f"include everyone. Amounts are in {fmt.CURRENCY} (minor units / 100). "
               f"Numbers in [brackets] refer to the glossary.")
    if doc.scenario_name:
        privacy += (f" Projections: simulated bands from {doc.scenario_name} (not data; "
                    "see the glossary).")
    fig.text(_fx(W / 2 + 0.2), _fy(2.75), "\n".join(textwrap.wrap(privacy, 85)), fontsize=8.5,
             color=MUTED, va="top", linespacing=1.5)
    return fig


def _glossary_pages(doc: Document, first_number: int):
    lines = []
    for key, e in glossary.ENTRIES.items():
        text = textwrap.wrap(f"{e.definition}.  Window: {e.window}.", 120)
        lines.append((f"[{glossary.number(key)}]", e.label, text))
    per_page, pages = 30, []
    chunk, used = [], 0
    for entry in lines:
        if used + len(entry[2]) > per_page and chunk:
            pages.append(chunk)
            chunk, used = [], 0
        chunk.append(entry)
        used += len(entry[2])
    pages.append(chunk)
    figs = []
    for n, chunk in enumerate(pages):
        fig, top = _page(doc, first_number + n, "Glossary" + (" (continued)" if n else ""),
                         "Every figure in this report, as the API defines it (README, "
                         "\"Funding KPIs\"). Days are UTC days; the as-of day is inclusive; "
                         "a ratio whose denominator is zero is shown as n/a.")
        y = H - top - 0.1
        for number, label, text in chunk:
            fig.text(_fx(MARGIN), _fy(y), number, fontsize=8, color=MUTED, va="top")
            fig.text(_fx(MARGIN + 0.45), _fy(y), label, fontsize=8, fontweight="bold",
                     color=INK, va="top")
            fig.text(_fx(MARGIN + 2.7), _fy(y), "\n".join(text), fontsize=8, color=INK,
                     va="top", linespacing=1.3)
            y -= 0.165 * len(text) + 0.06
        figs.append(fig)
    return figs


def write(doc: Document, path: Path) -> None:
    """Write the PDF: cover, one page per section, glossary."""
    with plt.rc_context(charts.STYLE), PdfPages(path) as pdf:
        info = pdf.infodict()
        info["Title"] = f"Community funding report as of {doc.report['asOf']}"
        info["Creator"] = "tierwise report"
        figures = [_cover(doc)]
        figures += [_section_page(doc, i + 2, s) for i, s in enumerate(doc.sections)]
        figures += _glossary_pages(doc, len(doc.sections) + 2)
        for fig in figures:
            pdf.savefig(fig)
            plt.close(fig)
