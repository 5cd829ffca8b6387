"""The files made from a `ResultSet`: internal CSV and JSON, open data (CSV and JSON with a data
dictionary) and the national results portal's upload rows.

Every file carries the stamp of what produced it (registry, definition versions with their
methods, scoring provenance, data date, source, time of computation):

- JSON files hold it at the top level beside the rows;
- a CSV file gets a sidecar, `FILE-metadata.json` (`csv_metadata`), in the W3C "CSV on the Web"
  metadata format (https://www.w3.org/TR/tabular-metadata/), which names the CSV file, describes
  every column (the data dictionary) and holds the stamp. Comment lines or extra columns in
  the CSV itself would break the readers registries use; CSVW is the standard place for it.

Open data (`open_csv`, `open_json`) holds only published cells: never a suppressed cell, never
a count behind one, never anything about a single patient. The reports engineer serves them at
`/open/{registry}/indicators.csv` and `.json`.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Protocol

import msgspec

from promsvc.indicators.results import CSV_COLUMNS, Result, ResultSet
from promsvc.indicators.schema import Indicator


class Definitions(Protocol):
    """What the outputs read of an indicator set: its definitions (a loaded
    `promsvc.indicators.loader.IndicatorSet`, or those a publication was computed with)."""

    @property
    def indicators(self) -> list[Indicator]: ...


# The columns of open data, in this order; the dictionary below describes each.
OPEN_COLUMNS = (
    "indicator", "version", "measure", "period", "level", "unit", "orgnr", "numerator", "denominator", "value",
    "ci_low", "ci_high", "interval", "target_level", "target_rule", "funnel", "funnel_998", "data_share", "crude",
)
PORTAL_COLUMNS = ("context", "year", "orgnr", "ind_id", "var", "denominator")

DICTIONARY: dict[str, tuple[str, str]] = {  # column → (CSVW datatype, description)
    "indicator": ("string", "indicator id (see `indicators` in the JSON for its title and definition)"),
    "version": ("integer", "version of the indicator definition"),
    "measure": ("string", "proportion, mean, median, count, response_rate, coverage or qaly"),
    "period": ("string", "a year (2025) or pooled years (2024-2025)"),
    "level": ("string", "national, rhf, hf, hospital or department"),
    "unit": ("string", "unit id in the registry; empty for the national row"),
    "orgnr": ("string", "organisation number of the unit; empty when it has none"),
    "numerator": ("number", "proportions, response rates, coverage and counts: the count; means and QALYs: the sum of "
                            "the values; medians: empty"),
    "denominator": ("integer", "episodes counted (coverage: the reference count)"),
    "value": ("number", "the indicator's value (shares between 0 and 1); directly standardised when `crude` is given"),
    "ci_low": ("number", "lower bound of the 95 % interval"),
    "ci_high": ("number", "upper bound of the 95 % interval"),
    "interval": ("string", "wilson, clopper-pearson, t, order (median), or empty"),
    "target_level": ("string", "high, moderate or low against the indicator's target; empty without a target"),
    "target_rule": ("string", "the rule that gave the target level"),
    "funnel": ("string", "inside, above or below the 95 % funnel limits around the national value"),
    "funnel_998": ("string", "inside, above or below the 99.8 % funnel limits around the national value"),
    "data_share": ("number", "share of the population's episodes with the data the indicator needs"),
    "crude": ("number", "the value before standardisation, when `value` is standardised"),
    "suppressed": ("boolean", "true when the cell is not published (too few episodes, or derivable from others)"),
    "reason": ("string", "why a cell is suppressed"),
    "context": ("string", "caregiver: the treating unit"),
    "year": ("integer", "the year of the results"),
    "ind_id": ("string", "the indicator's id at the portal: `{registry}_{indicator id}`"),
    "var": ("number", "sum of the indicator variable over the cell (counts; sums of values for means)"),
}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv(columns, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(row[c]) for c in columns] for row in rows)
    return out.getvalue()


def stamp(rs: ResultSet) -> dict[str, Any]:
    """What produced the results, as written into every file."""
    return {
        "registry": rs.registry, "computed_at": rs.computed_at.isoformat(), "data_until": rs.data_until.isoformat(),
        "source": rs.source, "definitions": msgspec.to_builtins(rs.definitions), "provenance": list(rs.provenance),
    }


# ------------------------------------------------------------------ internal files


def internal_csv(rs: ResultSet) -> str:
    """Every cell, suppressed ones included (with numerator and denominator, no value): the
    `compute --format csv` columns of DESIGN.md, in their order."""
    return _csv(CSV_COLUMNS, (msgspec.structs.asdict(r) for r in rs.results))


def internal_json(rs: ResultSet) -> bytes:
    """Every field of every cell and the stamp."""
    return msgspec.json.encode(rs)


# ------------------------------------------------------------------ open data


def published(rs: ResultSet) -> list[Result]:
    """The cells open data may show: not suppressed and with a value."""
    return [r for r in rs.results if not r.suppressed and r.value is not None]


def open_csv(rs: ResultSet) -> str:
    """Open data as CSV (`OPEN_COLUMNS`); its dictionary and stamp: `open_metadata`."""
    return _csv(OPEN_COLUMNS, (msgspec.structs.asdict(r) for r in published(rs)))


def open_json(rs: ResultSet, iset: Definitions) -> bytes:
    """Open data as JSON: the stamp, the data dictionary, each indicator's definition in words
    and the published cells."""
    body = stamp(rs) | {
        "dictionary": [{"name": c, "datatype": DICTIONARY[c][0], "description": DICTIONARY[c][1]} for c in OPEN_COLUMNS],
        "indicators": [_definition(ind) for ind in iset.indicators if ind.id in {d.indicator for d in rs.definitions}],
        "results": [{c: getattr(r, c) for c in OPEN_COLUMNS} for r in published(rs)],
    }
    return msgspec.json.encode(body)


def _definition(ind) -> dict[str, Any]:
    keep = ("id", "version", "approved", "national_number", "title", "description", "clinical_field", "dimension",
            "type", "area", "rationale", "measure", "unit_of_measure", "target", "levels", "min_denominator", "period",
            "standardise", "data_source", "frequency", "comparability", "population", "exclusions", "numerator",
            "denominator", "value", "time_point")
    return {k: msgspec.to_builtins(getattr(ind, k)) for k in keep}


def open_metadata(rs: ResultSet, csv_name: str = "indicators.csv") -> dict[str, Any]:
    """The CSVW metadata of `open_csv` (data dictionary and stamp)."""
    return csv_metadata(rs, csv_name, OPEN_COLUMNS)


def csv_metadata(rs: ResultSet, csv_name: str, columns) -> dict[str, Any]:
    """W3C CSV on the Web metadata for a CSV file of these columns: what each column holds and
    what produced the file. Written beside the CSV as `{csv_name}-metadata.json`."""
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": csv_name,
        "dc:title": f"Quality indicators of registry {rs.registry}",
        "dc:created": rs.computed_at.isoformat(),
        "dc:source": rs.source,
        "promsvc:stamp": stamp(rs),
        "tableSchema": {
            "columns": [{"name": c, "titles": c, "datatype": DICTIONARY[c][0], "dc:description": DICTIONARY[c][1]}
                        for c in columns],
        },
    }


# ------------------------------------------------------------------ the national results portal


PORTAL_LEVELS = ("hospital", "hf", "rhf")  # the finest published of these is uploaded; the portal sums upwards


def portal_rows(rs: ResultSet, iset: Definitions) -> tuple[list[dict[str, Any]], list[str]]:
    """The upload rows of the national results portal (SKDE imongr), one per aggregate, and a
    note for each cell that cannot be uploaded.

    One row per unit with an organisation number at the finest published level (hospital where
    published), per year (pooled periods are not uploaded: the portal pools itself):
    `var` = the numerator (counts for shares, the sum of values for means and QALYs),
    `denominator` = the denominator, so that the portal's sum(var) / sum(denominator) at HF, RHF
    and national level gives the value. Counts upload `var` = the count, `denominator` = 1.
    Medians cannot be summed and are not uploaded; standardised indicators upload their crude
    numbers. The portal applies its own minimum denominator; this file is a delivery
    to the portal, not open data, so the cells promsvc suppresses are included (each unit's own
    numbers, as the per-episode upload would give them).
    """
    indicators = {i.id: i for i in iset.indicators}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for ind_id in dict.fromkeys(r.indicator for r in rs.results):
        ind = indicators[ind_id]
        if ind.measure == "median":
            notes.append(f"{ind_id}: a median cannot be summed by the portal; not uploaded")
            continue
        if ind.standardise is not None:
            notes.append(f"{ind_id}: standardised values cannot be summed by the portal; the crude numbers are uploaded")
        level = next((lv for lv in PORTAL_LEVELS if lv in ind.levels), None)
        if level is None:
            notes.append(f"{ind_id}: published at no hospital, HF or RHF level; not uploaded")
            continue
        for r in rs.results:
            if r.indicator != ind_id or r.level != level or "-" in r.period:
                continue
            if not r.orgnr:
                notes.append(f"{ind_id} {r.period}: unit {r.unit} has no organisation number; not uploaded")
                continue
            var, den = (r.numerator, 1) if ind.measure == "count" else (r.numerator, r.denominator)
            rows.append({"context": "caregiver", "year": int(r.period), "orgnr": r.orgnr,
                         "ind_id": f"{rs.registry}_{ind_id}", "var": var, "denominator": den})
    return rows, notes


def portal_csv(rs: ResultSet, iset: Definitions) -> tuple[str, list[str]]:
    rows, notes = portal_rows(rs, iset)
    return _csv(PORTAL_COLUMNS, rows), notes
