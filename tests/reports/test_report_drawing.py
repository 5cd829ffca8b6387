"""The drawings: each chart's SVG has its bars, whiskers, bands and limits; SVGs can share a page;
colours that touch are at least 3:1 apart; the PDF embeds DejaVu Sans."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from builders import demo_registry, publication
from reportlab.graphics import renderPDF, renderSVG
from reportlab.graphics.shapes import Drawing, Rect

from promsvc.indicators.results import NATIONAL
from promsvc.reports import charts, distributions, drawing
from promsvc.reports.published import Index
from promsvc.reports.texts import NNBSP, Words  # noqa: F401

SVG = "{http://www.w3.org/2000/svg}"
nb = Words("nb")


@pytest.fixture(scope="module")
def ix() -> Index:
    return Index(publication(), demo_registry())


def _svg_colour(hex_: str) -> str:
    """How renderSVG writes a fill colour (found by drawing one rectangle)."""
    d = Drawing(10, 10)
    d.add(Rect(0, 0, 5, 5, fillColor=drawing.color(hex_), strokeColor=None))
    return re.search(r'fill: (rgb\([^)]*\))', renderSVG.drawToString(d)).group(1)


def _parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def _rects(root, hex_: str) -> list[ET.Element]:
    colour = _svg_colour(hex_)
    return [r for r in root.iter(f"{SVG}rect") if r.get("fill") == colour]


def test_unit_bars_svg_has_one_bar_per_ranked_unit_and_the_target_bands(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    root = _parse(drawing.svg(chart, nb, "c1"))
    assert len(_rects(root, drawing.BAR)) == sum(r.ranked for r in chart.rows)
    for level in ("high", "moderate", "low"):
        assert len(_rects(root, drawing.BANDS[level])) == 1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "færre enn 10" in texts  # the small unit: a row without a bar
    assert f"- - -  Hele landet (72{NNBSP}%), N = {ix.cell('eq5d_mid', '2025', NATIONAL).denominator}" in texts
    for row in chart.rows:
        assert any(row.label in (t or "") for t in texts), row.label  # names in full


def test_unit_bars_whiskers_span_each_interval(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    d = drawing.draw(chart, nb)
    # a whisker is a horizontal line with two caps: three lines per ranked unit
    lines = [s for s in _walk(d) if type(s).__name__ == "Line" and s.y1 == s.y2 and s.strokeWidth == 1]
    assert len(lines) >= sum(r.ranked for r in chart.rows)


def _walk(node):
    for child in getattr(node, "contents", []):
        yield child
        yield from _walk(child)


def test_funnel_svg_has_four_limit_lines_and_a_marker_per_unit(ix):
    chart = charts.funnel(ix, "eq5d_mid", "2025", nb)
    root = _parse(drawing.svg(chart, nb, "f1"))
    limits = list(root.iter(f"{SVG}polyline"))
    assert len(limits) == 4  # 95 % and 99.8 %, lower and upper
    assert all(len(p.get("points").split(",")) == len(chart.limits) for p in limits)
    markers = list(root.iter(f"{SVG}circle")) + list(root.iter(f"{SVG}polygon"))  # inside: circle; outside: triangle
    assert len(markers) == len(chart.points)
    assert len(list(root.iter(f"{SVG}polygon"))) == sum(p.status != "inside" for p in chart.points)


def test_trend_and_response_and_boxes_draw_what_they_describe(ix):
    trend = charts.trend(ix, "eq5d_mid", nb)
    root = _parse(drawing.svg(trend, nb, "t1"))
    assert [t.text for t in root.iter(f"{SVG}text") if t.text in trend.periods] == trend.periods
    grouped = charts.response_rates(ix, "2025", nb)
    root = _parse(drawing.svg(grouped, nb, "r1"))
    bars = sum(len(_rects(root, drawing.SERIES[i])) for i in range(len(grouped.series)))
    legend = len(grouped.series)
    assert bars - legend == sum(1 for g in grouped.groups for b in g.bars if b.value is not None)
    boxes = distributions.charts(ix, NATIONAL, nb)[0]
    root = _parse(drawing.svg(boxes, nb, "b1"))
    drawn = sum(len(_rects(root, drawing.SERIES[i])) for i in range(len(boxes.series)))
    assert drawn == sum(len(g.boxes) for g in boxes.groups)


def test_svgs_on_one_page_have_unique_ids_title_desc_and_role(ix):
    a = drawing.svg(charts.unit_bars(ix, "eq5d_mid", "2025", nb), nb, "units-a")
    b = drawing.svg(charts.unit_bars(ix, "reop", "2025", nb), nb, "units-b")
    ids = re.findall(r'\bid="([^"]+)"', a + b)
    assert len(ids) == len(set(ids))
    for text, name in ((a, "units-a"), (b, "units-b")):
        assert text.startswith("<svg") and "<?xml" not in text and "DOCTYPE" not in text
        root = _parse(text)
        assert root.get("role") == "img" and root.get("aria-labelledby") == f"{name}-title {name}-desc"
        assert root.find(f"{SVG}title").text and root.find(f"{SVG}desc").text
        assert 'url(#clip)' not in text
        assert "style=" not in text  # presentation attributes only: the pages' CSP forbids inline styles


@pytest.mark.parametrize(("a", "b"), [
    *[(drawing.BAR, band) for band in drawing.BANDS.values()],
    (drawing.BAR, "#FFFFFF"), (drawing.INK, drawing.BAR), (drawing.MUTED, "#FFFFFF"),
    *[(drawing.MUTED, band) for band in drawing.BANDS.values()],
    *[(s, "#FFFFFF") for s in drawing.SERIES],
    (drawing.INK, drawing.SERIES[2]), (drawing.INK, drawing.SERIES[1]),
])
def test_colours_that_touch_are_at_least_3_to_1(a, b):
    assert drawing.contrast(a, b) >= 3.0


def test_contrast_matches_wcag_examples():
    assert drawing.contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert drawing.contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


def test_pdf_embeds_dejavu_sans_and_keeps_the_narrow_no_break_space(ix, tmp_path):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    path = tmp_path / "chart.pdf"
    renderPDF.drawToFile(drawing.draw(chart, nb, titled=True), str(path))
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and "yes" in fonts.split("DejaVuSans", 1)[1].splitlines()[0]  # embedded
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert re.search("72[ \u202f]%", text) and "≥ 70" in text  # poppler writes U+202F as a plain space
