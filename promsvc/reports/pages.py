"""The result pages' content: what `/results/{registry}` and `/results/{registry}/{unit}` show,
built from a publication and rendered with the Jinja templates beside this module.

No JavaScript: search and the choice of period are a GET form; every chart is inline SVG with
its title and subtitle as text, and its numbers as a table (the text alternative).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from promsvc import templating
from promsvc.indicators.results import NATIONAL
from promsvc.indicators.schema import Indicator
from promsvc.reports import charts, distributions
from promsvc.reports.charts import Shown
from promsvc.reports.documents import definition_rows, grouped
from promsvc.reports.drawing import svg
from promsvc.reports.published import Index
from promsvc.reports.texts import LANGUAGE_NAMES, LANGUAGES, Words

HERE = Path(__file__).parent
STATIC_PATH = "/static/results"
STATIC_DIR = HERE / "static"

def render(template: str, **context) -> str:
    """A result page from `promsvc/reports/templates/` (the one template system: promsvc.templating)."""
    return templating.render(f"results/{template}", stylesheet=f"{STATIC_PATH}/results.css", **context)


def _chart(chart, w: Words, element_id: str) -> dict | None:
    if chart is None:
        return None
    return {"id": element_id, "title": chart.title, "subtitle": chart.subtitle,
            "svg": Markup(svg(chart, w, element_id)), "table": chart.table}


def matches(d: Indicator, w: Words, query: str) -> bool:
    """Does the search text occur in the indicator's id, title, description, clinical field,
    quality dimension, type or measurement area (case-insensitive)?"""
    if not query:
        return True
    haystack = " ".join([
        d.id, d.national_number or "", w.text(d.title), w.text(d.description), w.text(d.clinical_field),
        w(f"dimension_{d.dimension}"), w(f"type_{d.type}"), d.area,
    ]).casefold()
    return all(word in haystack for word in query.casefold().split())


def _section(ix: Index, d: Indicator, w: Words, period: str, unit: str | None) -> dict:
    shown = Shown(d, w)
    section: dict[str, Any] = {
        "id": d.id, "title": w.text(d.title), "number": d.national_number or "", "description": w.text(d.description),
        "target": shown.target(), "version": d.version, "definition": definition_rows(d, w), "charts": [],
        "more": [],
    }
    if period not in ix.periods(d.id):
        section["empty"] = w("no_data")
        return section
    section["empty"] = ""
    if unit is None:
        section["charts"].append(_chart(charts.unit_bars(ix, d.id, period, w), w, f"units-{d.id}"))
        section["more"].append(_chart(charts.trend(ix, d.id, w), w, f"trend-{d.id}"))
        section["more"].append(_chart(charts.funnel(ix, d.id, period, w), w, f"funnel-{d.id}"))
    else:
        path = [unit, *ix.ancestors(unit)]
        if ix.cell(d.id, period, unit) is None:
            section["empty"] = w("not_published_level")
            return section
        section["charts"].append(_chart(charts.unit_bars(ix, d.id, period, w, units=path, highlight=unit), w, f"units-{d.id}"))
        section["more"].append(_chart(charts.trend(ix, d.id, w, units=[unit, *ix.ancestors(unit)[:1], NATIONAL]), w, f"trend-{d.id}"))
    section["more"] = [c for c in section["more"] if c is not None]
    return section


def _tree(ix: Index, base: str, lang: str) -> list[dict]:
    def node(unit) -> dict:
        return {"name": unit.name, "href": f"{base}/{unit.id}?lang={lang}", "children": [node(c) for c in unit.children]}
    return [node(u) for u in ix.registry.units]


def page(ix: Index, *, lang: str, query: str, period: str | None, unit: str | None, published: str) -> dict:
    """The context of a results page (the registry's when `unit` is None)."""
    w = Words(lang)
    registry = ix.registry
    base = f"/results/{registry.id}"
    periods = sorted({p for d in ix.definitions for p in ix.periods(d)}, reverse=True)
    period = period if period in periods else (ix.report_period() or "")
    chosen = [d for d in ix.indicators() if matches(d, w, query)]
    fields: list[dict[str, Any]] = []
    for field, by_dimension in grouped(chosen, w).items():
        fields.append({"title": field, "dimensions": [
            {"title": dim, "indicators": [_section(ix, d, w, period, unit) for d in defs]}
            for dim, defs in by_dimension.items()
        ]})
    here = base if unit is None else f"{base}/{unit}"

    def href(**changes) -> str:
        params = {"lang": lang, "q": query, "period": period} | changes
        return f"{here}?{urlencode({k: v for k, v in params.items() if v})}"

    scope = NATIONAL if unit is None else unit
    name = w.text(registry.name)
    unit_name = ix.name(unit, "") if unit is not None else ""
    rs = ix.results
    response = charts.response_rates(ix, period, w, units=None if unit is None else [unit, *ix.ancestors(unit), NATIONAL])
    return {
        "t": w, "lang": lang, "registry": name, "registry_id": registry.id,
        "page_title": f"{unit_name} – {w('results')} – {name}" if unit else f"{w('results')} – {name}",
        "heading": unit_name or name, "unit": unit, "base": base,
        "intro": w("unit_page_intro", unit=unit_name, parents=", ".join(ix.name(u, "") for u in ix.ancestors(unit)) or w("parents_none")) if unit else "",
        "query": query, "period": period, "periods": periods, "action": here,
        "fields": fields, "count": sum(len(dim["indicators"]) for f in fields for dim in f["dimensions"]),
        "languages": [{"code": c, "name": LANGUAGE_NAMES[c], "current": c == lang, "href": href(lang=c)} for c in LANGUAGES],
        "clear_href": href(q=""),
        "scores": [_chart(c, w, f"scores-{i}") for i, c in enumerate(distributions.charts(ix, scope, w))],
        "response": _chart(response, w, "response"),
        "units": _tree(ix, base, lang),
        "open_csv": f"/open/{registry.id}/indicators.csv", "open_json": f"/open/{registry.id}/indicators.json",
        "data_until": rs.data_until.isoformat(), "computed_at": f"{rs.computed_at:%Y-%m-%d %H:%M} UTC",
        "published_at": published, "provenance": rs.provenance, "source": rs.source,
    }
