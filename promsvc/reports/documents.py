"""PDF reports with reportlab: the registry's annual results and one unit's report.

`registry_report(ix, lang, period)` follows the order of the registries' annual report
(årsrapport) as far as results go: summary, results per clinical field and quality dimension
(chart, funnel plot, trend and the table of every unit for each indicator), score distributions,
coverage and response rates, method notes, the definitions with their versions, and the data
date and provenance. `unit_report(ix, unit, lang, period)` shows one hospital or department
against its parents and the whole country. Both return the PDF's bytes; the document's language
and title are set in its metadata, and its headings are PDF bookmarks.

reportlab cannot write a tagged PDF (PDF/UA); the result pages are the accessible form of the
same numbers, and every chart here has its numbers in the table beside it.
"""

from __future__ import annotations

import io
from collections import defaultdict
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from promsvc.indicators.results import NATIONAL
from promsvc.indicators.schema import Indicator
from promsvc.reports import charts, distributions, fonts
from promsvc.reports.charts import Shown
from promsvc.reports.drawing import MUTED, draw
from promsvc.reports.published import Index
from promsvc.reports.texts import Words

MARGIN = 2 * cm
ROWS_PER_PAGE = 36  # units in one drawing of a chart of units: it then fits a page


def _styles() -> dict[str, ParagraphStyle]:
    fonts.register()
    base = ParagraphStyle("body", fontName=fonts.REGULAR, fontSize=9.5, leading=13, alignment=TA_LEFT, spaceAfter=4)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=colors.HexColor(MUTED)),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10, spaceAfter=0),
        "title": ParagraphStyle("title", parent=base, fontName=fonts.BOLD, fontSize=22, leading=28, spaceAfter=12),
        "h1": ParagraphStyle("h1", parent=base, fontName=fonts.BOLD, fontSize=16, leading=20, spaceBefore=6, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontName=fonts.BOLD, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base, fontName=fonts.BOLD, fontSize=10.5, leading=14, spaceBefore=8, spaceAfter=2),
        "chart_title": ParagraphStyle("chart_title", parent=base, fontName=fonts.BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=0),
    }


class _Doc(SimpleDocTemplate):
    """Adds a bookmark for every heading (h1, h2) so the PDF has an outline."""

    def afterFlowable(self, flowable):
        if isinstance(flowable, Paragraph) and flowable.style.name in ("h1", "h2"):
            key = f"h{id(flowable)}"
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=0 if flowable.style.name == "h1" else 1)


class _Builder:
    def __init__(self, ix: Index, lang: str, period: str | None):
        self.ix, self.w = ix, Words(lang)
        self.st = _styles()
        self.period = period or ix.report_period() or ""
        self.story: list = []

    def p(self, text: str, style: str = "body") -> None:
        self.story.append(Paragraph(escape(text), self.st[style]))

    def table(self, columns: list[str], rows: list[list[str]], widths: list[float | None] | None = None) -> Table:  # None: as wide as needed
        cell = self.st["cell"]
        head = ParagraphStyle("head", parent=cell, fontName=fonts.BOLD)
        data = [[Paragraph(escape(c), head) for c in columns]] + [[Paragraph(escape(v), cell) for v in row] for row in rows]
        t = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        t.setStyle(TableStyle([
            ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#1A1A1A")),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#DADADA")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]))
        return t

    def chart(self, chart) -> None:
        """The chart's title and subtitle as text, the drawing (a tall chart of units over
        several pages), and its table under it."""
        if chart is None:
            return
        parts = charts.pages_of(chart, ROWS_PER_PAGE)
        for i, part in enumerate(parts):
            title = chart.title if i == 0 else f"{chart.title} ({i + 1}/{len(parts)})"
            self.story.append(KeepTogether([
                Paragraph(escape(title), self.st["chart_title"]), Paragraph(escape(chart.subtitle), self.st["small"]),
                draw(part, self.w)]))
        self.story.append(self.table(chart.table.columns, chart.table.rows))
        self.story.append(Spacer(1, 8))

    # ---- sections

    def cover(self, heading: str, lines: list[str]) -> None:
        ix, w = self.ix, self.w
        self.story.append(Spacer(1, 3 * cm))
        self.story.append(Paragraph(escape(w.text(ix.registry.name)), self.st["title"]))
        self.p(heading, "h1")
        for line in lines:
            self.p(line)
        rs = ix.results
        self.p(f"{w('period')}: {self.period}")
        self.p(f"{w('data_until')}: {rs.data_until.isoformat()}")
        self.p(f"{w('published_at')}: {ix.publication.published_at:%Y-%m-%d %H:%M} UTC")
        self.story.append(PageBreak())

    def summary(self, units: list[str]) -> None:
        """Every indicator in one table: target, national value, n of N and the unit values."""
        ix, w = self.ix, self.w
        self.p(w("summary"), "h1")
        levels: defaultdict[str, int] = defaultdict(int)
        rows = []
        for d in ix.indicators():
            shown = Shown(d, w)
            nat = ix.cell(d.id, self.period, NATIONAL)
            for r in ix.cells(d.id, self.period, ix.chart_level(d)):
                if r.target_level:
                    levels[r.target_level] += 1
            row = [w.text(d.title), shown.target()]
            for unit in units:
                found = ix.cell(d.id, self.period, unit)
                row.append(charts.table_row(ix, found, d, shown, w)[1] if found is not None else "–")
            row.append(shown.counts(nat) if nat is not None and not nat.suppressed else "")
            rows.append(row)
        self.p(w("summary_text", count=len(rows), period=self.period, high=levels["high"], moderate=levels["moderate"], low=levels["low"]))
        columns = [w("definition"), w("target")] + [ix.name(u, w("national")) for u in units] + [w("n_of_N", n="n", N="N")]
        self.story.append(self.table(columns, rows))

    def indicator(self, d: Indicator, *, unit: str | None = None) -> None:
        ix, w = self.ix, self.w
        number = f" ({d.national_number})" if d.national_number else ""
        self.story.append(CondPageBreak(6 * cm))
        self.p(f"{w.text(d.title)}{number}", "h3")
        self.p(w.text(d.description))
        self.p(f"{w('target')}: {Shown(d, w).target()} · {w('version')} {d.version}", "small")
        if self.period not in ix.periods(d.id):
            self.p(w("no_data"), "small")
            return
        if unit is None:
            self.chart(charts.unit_bars(ix, d.id, self.period, w))
            self.chart(charts.funnel(ix, d.id, self.period, w))
            self.chart(charts.trend(ix, d.id, w))
            self.all_units(d)
        else:
            path = [unit, *ix.ancestors(unit)]
            self.chart(charts.unit_bars(ix, d.id, self.period, w, units=path, highlight=unit))
            self.chart(charts.trend(ix, d.id, w, units=[unit, *ix.ancestors(unit)[:1], NATIONAL]))

    def all_units(self, d: Indicator) -> None:
        """Every published level's units in one table (the chart shows one level)."""
        ix, w = self.ix, self.w
        shown = Shown(d, w)
        chart_level = ix.chart_level(d)
        rows = []
        for level in d.levels:
            if level in ("national", chart_level):
                continue
            rows += [charts.table_row(ix, r, d, shown, w) for r in ix.cells(d.id, self.period, level)]
        if rows:
            columns = [w("unit"), w("value"), w("interval_short"), w("n_of_N", n="n", N="N") if shown.percent else "N",
                       w("target_level"), w("note")]
            self.story.append(self.table(columns, rows))

    def results(self, *, unit: str | None = None) -> None:
        ix, w = self.ix, self.w
        self.story.append(PageBreak())
        self.p(w("results"), "h1")
        for field, by_dimension in grouped(ix.indicators(), w).items():
            self.p(field, "h2")
            for dimension, defs in by_dimension.items():
                self.p(dimension, "small")
                for d in defs:
                    self.indicator(d, unit=unit)

    def scores(self, unit: str) -> None:
        boxes = distributions.charts(self.ix, unit, self.w)
        if boxes:
            self.story.append(PageBreak())
            self.p(self.w("distributions"), "h1")
            for chart in boxes:
                self.chart(chart)

    def coverage_response(self, units: list[str] | None = None) -> None:
        ix, w = self.ix, self.w
        self.story.append(PageBreak())
        self.p(w("coverage_response"), "h1")
        self.chart(charts.response_rates(ix, self.period, w, units=units))
        for d in ix.indicators():
            if d.measure == "coverage" and self.period in ix.periods(d.id):
                self.p(w.text(d.title), "h3")
                if units is None:
                    self.chart(charts.unit_bars(ix, d.id, self.period, w))
                else:
                    self.chart(charts.unit_bars(ix, d.id, self.period, w, units=units, highlight=units[0]))

    def method(self) -> None:
        w = self.w
        self.story.append(PageBreak())
        self.p(w("method_notes"), "h1")
        self.p(w("method_text"))
        self.p(w("definitions"), "h2")
        for d in self.ix.indicators():
            self.story.append(KeepTogether([
                Paragraph(escape(f"{w.text(d.title)} — {d.id}, {w('version')} {d.version}"), self.st["h3"]),
                self.table([w("definition"), ""], definition_rows(d, w), widths=[4.2 * cm, None]),
            ]))

    def provenance(self) -> None:
        ix, w = self.ix, self.w
        rs = ix.results
        self.p(w("provenance"), "h2")
        rows = [[w("data_until"), rs.data_until.isoformat()], [w("computed_at"), f"{rs.computed_at:%Y-%m-%d %H:%M} UTC"],
                [w("published_at"), f"{ix.publication.published_at:%Y-%m-%d %H:%M} UTC"], [w("source"), rs.source]]
        rows += [[w("provenance"), line] for line in rs.provenance]
        rows += [[f"{s.indicator}", f"{w('version')} {s.version} · {w('approved')} {s.approved.isoformat()}"] for s in rs.definitions]
        self.story.append(self.table(["", ""], rows, widths=[4.2 * cm, None]))

    def build(self, title: str, subject: str) -> bytes:
        out = io.BytesIO()
        w, registry_name = self.w, self.w.text(self.ix.registry.name)

        def footer(canvas, doc):
            canvas.saveState()
            canvas.setFont(fonts.REGULAR, 7.5)
            canvas.setFillColor(colors.HexColor(MUTED))
            canvas.drawString(MARGIN, 1.2 * cm, f"{registry_name} · {title}")
            canvas.drawRightString(A4[0] - MARGIN, 1.2 * cm, w("page", n=doc.page))
            canvas.restoreState()

        doc = _Doc(out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
                   title=title, author=registry_name, subject=subject, creator="promsvc", lang=w.lang,
                   displayDocTitle=True)
        doc.build(self.story, onFirstPage=footer, onLaterPages=footer)
        return out.getvalue()


def grouped(definitions: list[Indicator], w: Words) -> dict[str, dict[str, list[Indicator]]]:
    """Indicators by clinical field, then quality dimension, in the definitions' order."""
    out: dict[str, dict[str, list[Indicator]]] = {}
    for d in definitions:
        out.setdefault(w.text(d.clinical_field), {}).setdefault(w(f"dimension_{d.dimension}"), []).append(d)
    return out


def definition_rows(d: Indicator, w: Words) -> list[list[str]]:
    """The definition as label–text rows (the national template's fields that are filled in)."""
    t = d.target
    target = Shown(d, w).target()
    if t is not None:
        target += f" ({w('direction_' + t.direction)})"
        if t.yellow is not None:
            target += f"; {w('moderate').lower()}: {Shown(d, w).value(t.yellow)}"
    rows = [
        [w("definition"), w.text(d.description)],
        [w("national_number"), d.national_number or ""],
        [w("version"), f"{d.version} ({w('approved')} {d.approved.isoformat()})"],
        [w("dimension"), w(f"dimension_{d.dimension}")],
        [w("type"), w(f"type_{d.type}")],
        [w("area"), d.area],
        [w("rationale"), d.rationale],
        [w("target"), target],
        [w("population"), d.population],
        [w("exclusions"), "; ".join(d.exclusions)],
        [w("numerator"), d.numerator or ""],
        [w("denominator"), d.denominator or ""],
        [w("value_formula"), d.value or ""],
        [w("unit_of_measure"), d.unit_of_measure],
        [w("min_denominator"), str(d.min_denominator)],
        [w("levels"), ", ".join(d.levels)],
        [w("data_source"), d.data_source],
        [w("frequency"), d.frequency],
        [w("comparability"), d.comparability],
    ]
    return [r for r in rows if r[1]]


def registry_report(ix: Index, lang: str = "nb", period: str | None = None) -> bytes:
    """The registry's results for `period` (default: the newest year) as a PDF."""
    b = _Builder(ix, lang, period)
    w = b.w
    title = f"{w('annual_report')} {b.period}"
    b.cover(w("annual_report"), [])
    tops = [NATIONAL] + [u.id for u in ix.registry.units]
    b.summary(tops)
    b.results()
    b.scores(NATIONAL)
    b.coverage_response()
    b.method()
    b.provenance()
    return b.build(title, f"{w.text(ix.registry.name)}: {title}")


def unit_report(ix: Index, unit: str, lang: str = "nb", period: str | None = None) -> bytes:
    """One unit's results against its parents and the whole country, as a PDF."""
    b = _Builder(ix, lang, period)
    w = b.w
    name = ix.name(unit, w("national"))
    parents = [ix.name(u, "") for u in ix.ancestors(unit)]
    title = f"{w('unit_report')}: {name} {b.period}"
    b.cover(w("report_for", unit=name), [w("unit_page_intro", unit=name, parents=", ".join(parents) or w("parents_none"))])
    path = [unit, *ix.ancestors(unit), NATIONAL]
    b.summary(path)
    b.results(unit=unit)
    b.scores(unit)
    b.coverage_response(units=path)
    b.method()
    b.provenance()
    return b.build(title, f"{w.text(ix.registry.name)}: {title}")
