"""Open data and the portal's upload file of a publication: bytes to serve.

Only published cells leave: a suppressed cell is never written, and nothing patient-level is in
a publication to begin with.
"""

from __future__ import annotations

import csv
import io

import msgspec

from promsvc.indicators.results import Result
from promsvc.reports.published import Publication

OPEN_COLUMNS = (
    "indicator", "version", "measure", "period", "level", "unit", "orgnr", "numerator", "denominator",
    "value", "ci_low", "ci_high", "interval", "target_level", "funnel",
)
DICTIONARY = {
    "indicator": "The indicator's id (see `definitions`).",
    "version": "The version of the indicator's definition that produced the row.",
    "measure": "proportion, mean, median, count, response_rate, coverage or qaly.",
    "period": "A year (2025) or a pooled range of years (2024-2025).",
    "level": "national, rhf, hf, hospital or department.",
    "unit": "The registry's id of the unit; empty for the national row.",
    "orgnr": "The unit's organisation number; empty when it has none.",
    "numerator": "Proportions, response rates, coverage: the count; means and QALYs: the sum; empty for a median.",
    "denominator": "The number of episodes (or, for coverage, the reference count) the value is computed over.",
    "value": "The result: a share in [0, 1] for proportions, response rates and coverage; else in the unit of measure.",
    "ci_low": "Lower end of the 95 % interval.",
    "ci_high": "Upper end of the 95 % interval.",
    "interval": "How the interval was computed: wilson, clopper-pearson, t or order.",
    "target_level": "Target achievement: high, moderate or low; empty without a target.",
    "funnel": "inside, above or below the funnel plot's limits around the national value; empty when not computed.",
}


def published_cells(pub: Publication) -> list[Result]:
    return [r for r in pub.results.results if not r.suppressed and r.value is not None]


def _cell(value) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def csv_bytes(pub: Publication) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OPEN_COLUMNS)
    for r in published_cells(pub):
        writer.writerow([_cell(getattr(r, c)) for c in OPEN_COLUMNS])
    return out.getvalue().encode("utf-8")


def json_bytes(pub: Publication) -> bytes:
    rs = pub.results
    body = {
        "registry": pub.registry,
        "published_at": pub.published_at,
        "computed_at": rs.computed_at,
        "data_until": rs.data_until,
        "source": rs.source,
        "provenance": rs.provenance,
        "dictionary": DICTIONARY,
        "definitions": [msgspec.to_builtins(d) for d in pub.definitions],
        "results": [{c: getattr(r, c) for c in OPEN_COLUMNS} for r in published_cells(pub)],
    }
    return msgspec.json.encode(body)


def portal_bytes(pub: Publication) -> bytes:
    """The national results portal's upload rows (`context year orgnr ind_id var denominator`):
    one aggregate row per published cell of a unit with an organisation number; `var` is the
    share to 3 decimals for shares, else the value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("context", "year", "orgnr", "ind_id", "var", "denominator"))
    for r in published_cells(pub):
        if r.orgnr and "-" not in r.period and r.level in ("hospital", "department"):
            writer.writerow(("caregiver", r.period, r.orgnr, r.indicator, f"{r.value:.3f}", r.denominator))
    return out.getvalue().encode("utf-8")
