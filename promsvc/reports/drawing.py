"""One drawing code for PDF and web: a chart description (promsvc.reports.charts) becomes a
reportlab `Drawing`, which is a flowable in the PDF reports and renders to the SVG inlined in
the result pages (`svg`).

Accessibility (WCAG 1.4.1, 1.4.11): a level is always written as a word with a symbol, never
shown by colour alone; every colour that touches another is at least 3:1 against it (the bars
and series colours against white and the target bands, whiskers against the bars; a test
checks `contrast` for each pair); series differ by shape and hatching as well as colour.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from reportlab.graphics import renderSVG

# types-reportlab (5.0) declares Rect(**kw: _SolidShapeKwArgs) without Unpack, which refuses every
# keyword: the Rect calls below carry `type: ignore[arg-type]` until the stub is fixed.
from reportlab.graphics.shapes import Circle, Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from promsvc.reports import fonts
from promsvc.reports.charts import Box, Boxes, Chart, Funnel, Grouped, Scale, Trend, UnitBars, nice_step
from promsvc.reports.texts import Words

WIDTH = 468.0  # points: the frame width of an A4 page with 2 cm margins (less reportlab's frame padding)
FONT_SIZE = 8.0
TITLE_SIZE = 11.0

INK = "#1A1A1A"
MUTED = "#4D4D4D"  # rapwhale's darkest grey: 8:1 on white
GRID = "#DADADA"
BAR = "#2171B5"  # rapwhale blue
BANDS = {"high": "#EAF6EB", "moderate": "#FFEFC7", "low": "#FFE5E2"}  # SKDE's pastel target bands
BAND_EDGE = {"high": "#58A55C", "moderate": "#FD9C00", "low": "#D85140"}  # the portal's level colours
SERIES = ("#000059", "#2171B5", "#B35806", "#4D4D4D")  # each ≥ 3:1 on white; told apart by shape too
MARKERS = ("circle", "square", "diamond", "triangle")


def color(hex_: str):
    return colors.HexColor(hex_)


def luminance(hex_: str) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_width(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    return stringWidth(text, fonts.BOLD if bold else fonts.REGULAR, size)


def wrap(text: str, width: float, size: float = FONT_SIZE, bold: bool = False) -> list[str]:
    """Words of `text` in lines no wider than `width` (a single long word stays whole)."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and text_width(candidate, size, bold) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines or [""]


def _s(x, y, text, *, size=FONT_SIZE, bold=False, anchor="start", fill=INK) -> String:
    return String(x, y, text, fontName=fonts.BOLD if bold else fonts.REGULAR, fontSize=size,
                  textAnchor=anchor, fillColor=color(fill))


def _fmt(scale: Scale, w: Words, value: float) -> str:
    return w.percent(value) if scale.percent else w.number(value, scale.decimals)


def _ticks(scale: Scale) -> list[float]:
    span = scale.high - scale.low
    step = 0.2 if scale.percent and 0.5 <= span <= 1.0 else nice_step(span / 5)
    first = round(scale.low / step) * step
    ticks, t = [], first
    while t <= scale.high + step * 1e-6:
        if t >= scale.low - step * 1e-6:
            ticks.append(round(t, 10))
        t += step
    return ticks


class _X:
    """A value scale mapped onto [x0, x1]."""

    def __init__(self, scale: Scale, x0: float, x1: float):
        self.scale, self.x0, self.x1 = scale, x0, x1

    def __call__(self, v: float) -> float:
        s = self.scale
        v = min(max(v, s.low), s.high)
        return self.x0 + (v - s.low) / (s.high - s.low) * (self.x1 - self.x0)


def _value_axis(g: Group, x: _X, y: float, top: float, w: Words, label: str) -> float:
    """Grid lines up to `top`, tick labels and the axis label under `y`; returns the lowest y used."""
    for t in _ticks(x.scale):
        xt = x(t)
        g.add(Line(xt, y, xt, top, strokeColor=color(GRID), strokeWidth=0.5))
        g.add(_s(xt, y - 10, _fmt(x.scale, w, t), anchor="middle", fill=MUTED))
    g.add(Line(x.x0, y, x.x1, y, strokeColor=color(MUTED), strokeWidth=0.7))
    if label:
        g.add(_s((x.x0 + x.x1) / 2, y - 22, label, anchor="middle", fill=MUTED))
        return y - 26
    return y - 14


def _dashed(points: list[float], colour: str, width: float, dash: list[float] | None) -> PolyLine:
    """A (dashed) line as a polyline: renderSVG closes a Line's path (`Z`), and the way back
    would fill the gaps of its dashes."""
    # reportlab takes strokeDashArray=None (no dashes); its stub does not
    return PolyLine(points, strokeColor=color(colour), strokeWidth=width, strokeDashArray=dash, fillColor=None)  # type: ignore[arg-type]


def _whisker(g: Group, x0: float, x1: float, y: float, cap: float = 3.0) -> None:
    ink = color(INK)
    g.add(Line(x0, y, x1, y, strokeColor=ink, strokeWidth=1))
    g.add(Line(x0, y - cap, x0, y + cap, strokeColor=ink, strokeWidth=1))
    g.add(Line(x1, y - cap, x1, y + cap, strokeColor=ink, strokeWidth=1))


def _marker(kind: str, x: float, y: float, r: float, fill: str, stroke: str = INK):
    f, s = color(fill), color(stroke)
    if kind == "circle":
        return Circle(x, y, r, fillColor=f, strokeColor=s, strokeWidth=0.6)
    if kind == "square":
        return Rect(x - r, y - r, 2 * r, 2 * r, fillColor=f, strokeColor=s, strokeWidth=0.6)  # type: ignore[arg-type]
    if kind == "diamond":
        return Polygon([x, y + r * 1.3, x + r * 1.3, y, x, y - r * 1.3, x - r * 1.3, y], fillColor=f, strokeColor=s, strokeWidth=0.6)
    if kind == "triangle_down":
        return Polygon([x - r * 1.2, y + r, x + r * 1.2, y + r, x, y - r * 1.2], fillColor=f, strokeColor=s, strokeWidth=0.6)
    return Polygon([x - r * 1.2, y - r, x + r * 1.2, y - r, x, y + r * 1.2], fillColor=f, strokeColor=s, strokeWidth=0.6)


def _hatch(g: Group, x0: float, y0: float, x1: float, y1: float, spacing: float = 3.0) -> None:
    """White diagonal lines over a filled rectangle: a second carrier of a series besides colour."""
    if x1 - x0 < 1:
        return
    t = -(y1 - y0)
    while t < x1 - x0:
        a, b = max(0.0, t), min(x1 - x0, t + (y1 - y0))
        if b > a:
            g.add(Line(x0 + a, y0 + (a - t), x0 + b, y0 + (b - t), strokeColor=colors.white, strokeWidth=0.8))
        t += spacing


def _label_width(labels: list[str], bold_any: bool = False) -> float:
    widest = max((text_width(label, bold=bold_any) for label in labels), default=40)
    return min(widest, WIDTH * 0.38) + 6


def _title(g: Group, chart, y: float) -> float:
    for line in wrap(chart.title, WIDTH, TITLE_SIZE, True):
        g.add(_s(0, y - TITLE_SIZE, line, size=TITLE_SIZE, bold=True))
        y -= TITLE_SIZE + 3
    for line in wrap(chart.subtitle, WIDTH, FONT_SIZE + 1):
        g.add(_s(0, y - FONT_SIZE - 1, line, size=FONT_SIZE + 1, fill=MUTED))
        y -= FONT_SIZE + 4
    return y - 6


def _finish(g: Group, chart, height_used: float, titled: bool) -> Drawing:
    """Lay the group (drawn downwards from y = 0) into a Drawing, with the title when asked."""
    head = Group()
    top = 0.0
    if titled:
        top = _title(head, chart, 0.0)
    total = -(top + height_used) + 4
    d = Drawing(WIDTH, total)
    d.hAlign = "LEFT"
    head.translate(0, total)
    g.translate(0, total + top)
    d.add(head)
    d.add(g)
    return d


# ---------------------------------------------------------------------------------------------
# The kinds


def _unit_bars(c: UnitBars, w: Words, titled: bool) -> Drawing:
    g = Group()
    label_w = _label_width([r.label for r in c.rows], True)
    right_w = min(150.0, max([text_width(" · ".join([r.text, *r.flags])) for r in c.rows] + [40]) + 14)
    x = _X(c.scale, label_w, WIDTH - right_w)
    lines = {r.unit: wrap(r.label, label_w - 6, bold=r.highlight) for r in c.rows}
    y = -14.0  # room for the band labels
    rows_y = []
    for r in c.rows:
        h = 6 + 10 * len(lines[r.unit])
        rows_y.append((y - h, y))
        y -= h
    top, bottom = 0.0 - 12, y
    for band in c.bands:  # behind everything
        x0, x1 = x(band.low), x(band.high)
        g.add(Rect(x0, bottom, x1 - x0, top - bottom, fillColor=color(BANDS[band.level]), strokeColor=None))  # type: ignore[arg-type]
        g.add(Line(x0, top, x1, top, strokeColor=color(BAND_EDGE[band.level]), strokeWidth=3))
        g.add(_s((x0 + x1) / 2, top + 4, band.label, anchor="middle", fill=INK))
    axis_bottom = _value_axis(g, x, bottom, top, w, c.scale.label)
    if c.zero_line:
        g.add(Line(x(0), bottom, x(0), top, strokeColor=color(INK), strokeWidth=0.8))
    base = x(max(c.scale.low, 0.0)) if c.scale.low < 0 < c.scale.high or c.scale.low >= 0 else x(c.scale.high)
    for r, (y0, y1) in zip(c.rows, rows_y, strict=True):
        mid = (y0 + y1) / 2
        for i, line in enumerate(lines[r.unit]):
            g.add(_s(label_w - 6, y1 - 9.5 - 10 * i, line, anchor="end", bold=r.highlight))
        text = " · ".join([r.text, *r.flags])
        g.add(_s(WIDTH - right_w + 6, mid - 3, text, fill=INK if r.value is not None else MUTED))
        if r.value is None:  # no bar: the text at the right says why
            continue
        xv = x(r.value)
        g.add(Rect(min(base, xv), mid - 4.5, abs(xv - base), 9, fillColor=color(BAR),
                   strokeColor=color(INK) if r.highlight else None, strokeWidth=1.5 if r.highlight else 0))  # type: ignore[arg-type]
        if r.low is not None and r.high is not None:
            _whisker(g, x(r.low), x(r.high), mid)
    if c.national is not None:
        xn = x(c.national)
        g.add(_dashed([xn, bottom, xn, top], INK, 1.2, [4, 2]))
        axis_bottom -= 12
        g.add(_s(x.x0, axis_bottom, f"- - -  {c.national_label}", fill=INK))
    return _finish(g, c, axis_bottom - 4, titled)


def _funnel(c: Funnel, w: Words, titled: bool) -> Drawing:
    g = Group()
    ys = [p.value for p in c.points] + [v for lim in c.limits for v in (lim.low998, lim.high998)] + [c.centre]
    low = max(0.0, min(ys) - 0.05)
    high = min(1.0, max(ys) + 0.05)
    step = nice_step((high - low) / 5)
    yscale = Scale((low // step) * step, min(1.0, -(-high // step) * step), True, 0)
    left, right, top, bottom = 44.0, WIDTH - 10, -8.0, -240.0
    def X(n): return left + n / c.x_max * (right - left)
    def Y(v): return bottom + (min(max(v, yscale.low), yscale.high) - yscale.low) / (yscale.high - yscale.low) * (top - bottom)
    for t in _ticks(yscale):
        g.add(Line(left, Y(t), right, Y(t), strokeColor=color(GRID), strokeWidth=0.5))
        g.add(_s(left - 4, Y(t) - 3, w.percent(t), anchor="end", fill=MUTED))
    xs = _ticks(Scale(0, c.x_max, False, 0))
    for t in xs:
        g.add(_s(X(t), bottom - 10, w.count(t), anchor="middle", fill=MUTED))
    g.add(Line(left, bottom, right, bottom, strokeColor=color(MUTED), strokeWidth=0.7))
    g.add(_s((left + right) / 2, bottom - 22, c.x_label, anchor="middle", fill=MUTED))
    for attr_low, attr_high, dash, width in (("low95", "high95", [4, 2], 1.0), ("low998", "high998", [1, 2], 1.2)):
        for attr in (attr_low, attr_high):
            pts = [v for lim in c.limits for v in (X(lim.n), Y(getattr(lim, attr)))]
            g.add(PolyLine(pts, strokeColor=color(MUTED), strokeWidth=width, strokeDashArray=dash, fillColor=None))
    g.add(Line(left, Y(c.centre), right, Y(c.centre), strokeColor=color(INK), strokeWidth=1))
    for p in c.points:
        shape = "triangle" if p.status.startswith("above") else "triangle_down" if p.status.startswith("below") else "circle"
        fill = BAR if p.status == "inside" else "#FFFFFF" if p.status.endswith("95") else SERIES[0]  # hollow: 95 % only
        g.add(_marker(shape, X(p.n), Y(p.value), 3.2, fill))
        if p.status != "inside":  # name the unit, on the side where there is room
            left_side = X(p.n) + 5 + text_width(p.label, FONT_SIZE - 1) > WIDTH
            g.add(_s(X(p.n) + (-5 if left_side else 5), Y(p.value) + 3, p.label, size=FONT_SIZE - 1,
                     anchor="end" if left_side else "start"))
    y = bottom - 36
    legend = [("—", c.centre_label), ("- -", c.limit_labels[0]), ("···", c.limit_labels[1]), ("●", w("funnel_inside")),
              ("△▽", f"{w('funnel_above')}/{w('funnel_below')} {w('funnel95')}"),
              ("▲▼", f"{w('funnel_above')}/{w('funnel_below')} {w('funnel998')}")]
    xcur = 0.0
    for sym, label in legend:
        item = f"{sym} {label}"
        if xcur + text_width(item) > WIDTH:
            xcur, y = 0.0, y - 11
        g.add(_s(xcur, y, item, fill=INK))
        xcur += text_width(item) + 14
    return _finish(g, c, y - 4, titled)


def _trend(c: Trend, w: Words, titled: bool) -> Drawing:
    g = Group()
    left, right, top, bottom = 44.0, WIDTH - 10, -8.0, -180.0
    scale = c.scale
    def Y(v): return bottom + (min(max(v, scale.low), scale.high) - scale.low) / (scale.high - scale.low) * (top - bottom)
    n = max(len(c.periods), 1)
    def X(i): return left + (i + 0.5) / n * (right - left)
    for t in _ticks(scale):
        g.add(Line(left, Y(t), right, Y(t), strokeColor=color(GRID), strokeWidth=0.5))
        g.add(_s(left - 4, Y(t) - 3, _fmt(scale, w, t), anchor="end", fill=MUTED))
    for i, period in enumerate(c.periods):
        g.add(_s(X(i), bottom - 11, period, anchor="middle", fill=MUTED))
    g.add(Line(left, bottom, right, bottom, strokeColor=color(MUTED), strokeWidth=0.7))
    offset = min(6.0, (right - left) / n / (len(c.series) + 2))
    for k, s in enumerate(c.series):
        colour, marker = SERIES[k % len(SERIES)], MARKERS[k % len(MARKERS)]
        dx = (k - (len(c.series) - 1) / 2) * offset
        previous = None
        for i, p in enumerate(s.points):
            if p.value is None:
                g.add(_s(X(i) + dx, bottom + 4 + 9 * k, "–", anchor="middle", fill=MUTED))
                previous = None
                continue
            xy = (X(i) + dx, Y(p.value))
            if previous is not None:
                g.add(_dashed([*previous, *xy], colour, 1.5, None if k == 0 else [3, 2]))
            if p.low is not None and p.high is not None:
                g.add(Line(xy[0], Y(p.low), xy[0], Y(p.high), strokeColor=color(colour), strokeWidth=1))
                g.add(Line(xy[0] - 2.5, Y(p.low), xy[0] + 2.5, Y(p.low), strokeColor=color(colour), strokeWidth=1))
                g.add(Line(xy[0] - 2.5, Y(p.high), xy[0] + 2.5, Y(p.high), strokeColor=color(colour), strokeWidth=1))
            previous = xy
        for i, p in enumerate(s.points):
            if p.value is not None:
                g.add(_marker(marker, X(i) + dx, Y(p.value), 3.2, colour, colour))
    y = bottom - 26
    xcur = 0.0
    for k, s in enumerate(c.series):
        colour, marker = SERIES[k % len(SERIES)], MARKERS[k % len(MARKERS)]
        width = 16 + text_width(s.label)
        if xcur + width > WIDTH:
            xcur, y = 0.0, y - 12
        g.add(_marker(marker, xcur + 4, y + 3, 3.2, colour, colour))
        g.add(_s(xcur + 11, y, s.label))
        xcur += width + 14
    g.add(_s(0, y - 12, w("interval"), fill=MUTED))
    return _finish(g, c, y - 16, titled)


def _grouped(c: Grouped, w: Words, titled: bool) -> Drawing:
    g = Group()
    label_w = _label_width([gr.label for gr in c.groups], True)
    right = WIDTH - 56
    x = _X(c.scale, label_w, right)
    bar_h, gap = 8.0, 2.0
    per_group = len(c.series) * (bar_h + gap) + 8
    y = -4.0
    rows = []
    for gr in c.groups:
        lines = wrap(gr.label, label_w - 6, bold=True)
        h = max(per_group, 10 * len(lines) + 8)
        rows.append((gr, lines, y, h))
        y -= h
    top, bottom = -2.0, y
    axis_bottom = _value_axis(g, x, bottom, top, w, c.scale.label)
    for gr, lines, y1, _ in rows:
        for i, line in enumerate(lines):
            g.add(_s(label_w - 6, y1 - 9 - 10 * i, line, anchor="end", bold=True))
        for b in gr.bars:
            yb = y1 - 4 - (b.series + 1) * (bar_h + gap)
            if b.value is None:
                g.add(_s(x.x0 + 3, yb + 1.5, b.text, size=FONT_SIZE - 1, fill=MUTED))
                continue
            xv = x(b.value)
            colour = SERIES[b.series % len(SERIES)]
            g.add(Rect(x.x0, yb, xv - x.x0, bar_h, fillColor=color(colour), strokeColor=None))  # type: ignore[arg-type]
            if b.series % 2 == 1:
                _hatch(g, x.x0, yb, xv, yb + bar_h)
            g.add(_s(xv + 3, yb + 1.5, b.text, size=FONT_SIZE - 1))
    y = axis_bottom - 8
    xcur = 0.0
    for k, name in enumerate(c.series):
        width = 18 + text_width(name)
        if xcur + width > WIDTH:
            xcur, y = 0.0, y - 12
        g.add(Rect(xcur, y - 1, 12, 8, fillColor=color(SERIES[k % len(SERIES)]), strokeColor=None))  # type: ignore[arg-type]
        if k % 2 == 1:
            _hatch(g, xcur, y - 1, xcur + 12, y + 7)
        g.add(_s(xcur + 16, y, name))
        xcur += width + 14
    return _finish(g, c, y - 6, titled)


def _boxes(c: Boxes, w: Words, titled: bool) -> Drawing:
    g = Group()
    labels = [f"{c.series[b.series]} ({w.count(b.n)})" for gr in c.groups for b in gr.boxes]
    label_w = _label_width(labels + [gr.label for gr in c.groups], True)
    x = _X(c.scale, label_w, WIDTH - 16)
    y = -4.0
    layout: list[tuple[str | Box, float]] = []  # a group's label, or a box
    for gr in c.groups:
        layout.append((gr.label, y))
        y -= 12
        for b in gr.boxes:
            layout.append((b, y))
            y -= 14
        y -= 4
    top, bottom = -2.0, y
    axis_bottom = _value_axis(g, x, bottom, top, w, c.scale.label)
    if c.zero_line:
        g.add(Line(x(0), bottom, x(0), top, strokeColor=color(INK), strokeWidth=0.8))
    for item, yy in layout:
        if isinstance(item, str):
            g.add(_s(0, yy - 9, item, bold=True))
            continue
        b = item
        mid = yy - 7
        colour = SERIES[b.series % len(SERIES)]
        g.add(_s(label_w - 6, mid - 3, f"{c.series[b.series]} ({w.count(b.n)})", anchor="end"))
        g.add(Line(x(b.p10), mid, x(b.p25), mid, strokeColor=color(INK), strokeWidth=0.8))
        g.add(Line(x(b.p75), mid, x(b.p90), mid, strokeColor=color(INK), strokeWidth=0.8))
        for v in (b.p10, b.p90):
            g.add(Line(x(v), mid - 3, x(v), mid + 3, strokeColor=color(INK), strokeWidth=0.8))
        g.add(Rect(x(b.p25), mid - 5, max(x(b.p75) - x(b.p25), 0.5), 10, fillColor=color(colour), strokeColor=color(INK), strokeWidth=0.5))  # type: ignore[arg-type]
        if b.series % 2 == 1:
            _hatch(g, x(b.p25), mid - 5, x(b.p75), mid + 5)
        g.add(Line(x(b.p50), mid - 6, x(b.p50), mid + 6, strokeColor=color(INK), strokeWidth=2.2))
        g.add(Line(x(b.p50), mid - 5, x(b.p50), mid + 5, strokeColor=colors.white, strokeWidth=0.8))
        g.add(_marker("diamond", x(b.mean), mid, 2.6, "#FFFFFF"))
    y = axis_bottom - 8
    legend = [f"▮ {w('p25_p75')}", f"├┤ {w('p10_p90')}", f"┃ {w('median')}", f"◇ {w('mean')}"]
    g.add(_s(0, y, "   ".join(legend), fill=INK))
    return _finish(g, c, y - 6, titled)


_KINDS: dict[type, Callable[[Any, Words, bool], Drawing]] = {UnitBars: _unit_bars, Funnel: _funnel, Trend: _trend, Grouped: _grouped, Boxes: _boxes}


def draw(chart: Chart, w: Words, *, titled: bool = False) -> Drawing:
    """The chart as a reportlab Drawing; `titled`: with its title and subtitle drawn in (for a
    standalone picture; pages and reports set them as text around the drawing)."""
    fonts.register()
    return _KINDS[type(chart)](chart, w, titled)


def svg(chart: Chart, w: Words, element_id: str, *, titled: bool = False) -> str:
    """The chart as an inline SVG element: ids made unique with `element_id`, its title and
    subtitle as `<title>` and `<desc>`, `role="img"` and labelled by them (the page puts the
    chart's table beside it as the full text alternative)."""
    drawing = draw(chart, w, titled=titled)
    text = renderSVG.drawToString(drawing, svgAttrs={
        "role": "img", "aria-labelledby": f"{element_id}-title {element_id}-desc", "id": element_id,
        "class": "chart", "focusable": "false",
    })
    text = text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML
    text = text.replace("<title>...</title>", f'<title id="{element_id}-title">{html.escape(chart.title)}</title>', 1)
    text = text.replace("<desc>...</desc>", f'<desc id="{element_id}-desc">{html.escape(chart.subtitle)}</desc>', 1)
    text = text.replace('id="clip"', f'id="{element_id}-clip"').replace("url(#clip)", f"url(#{element_id}-clip)")
    text = text.replace('id="group"', f'id="{element_id}-group"')
    return _STYLE.sub(_attributes, text)


_STYLE = re.compile(r'style="([^"]*)"')


def _attributes(match: re.Match) -> str:
    """`style="fill: red; stroke: none"` → `fill="red" stroke="none"`: presentation attributes
    are not inline styles, so the pages' Content-Security-Policy (no 'unsafe-inline') allows them."""
    out = []
    for declaration in match.group(1).split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip(), value.strip()
        if not name:
            continue
        if name == "font-family":
            if value.endswith("-Bold"):
                out.append('font-weight="bold"')
            value = "DejaVu Sans, Verdana, sans-serif"
        out.append(f'{name}="{html.escape(value, quote=True)}"')
    return " ".join(out)
