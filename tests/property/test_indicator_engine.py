"""The indicator engine equals the slow per-episode reference on random cohorts; levels add up;
no published cell is under the minimum or can be worked out from the published cells; a mean's
numerator (a sum) leaves without floating-point noise."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from indicator_frames import indicator_set, random_frame, registry
from indicator_reference import reference_cells

from promsvc.indicators import engine
from promsvc.indicators.results import NATIONAL
from promsvc.indicators.tree import UnitTree

REGISTRY = registry()
ISET = indicator_set(REGISTRY)
TREE = UnitTree.of(REGISTRY)
LEAVES = [u for u, n in TREE.nodes.items() if u and not any(u in m.ancestors for m in TREE.nodes.values())]
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

cohorts = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "n": st.integers(0, 300),
    "as_of": st.dates(dt.date(2023, 3, 1), dt.date(2026, 6, 30)),
    "missing": st.sampled_from([0.0, 0.3, 0.9]),
})


def run(frame, as_of, **options):
    return engine.compute({"hip": frame}, ISET, REGISTRY,
                          engine.Options(as_of=as_of, computed_at=NOW, source="test", **options))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts)
def test_engine_equals_the_reference(cohort):
    frame = random_frame(cohort["seed"], cohort["n"], missing=cohort["missing"])
    results = run(frame, cohort["as_of"]).results
    rows = frame.to_dicts()
    for compiled in ISET.compiled:
        ind = compiled.indicator
        expected = reference_cells(rows, compiled, REGISTRY, cohort["as_of"], ISET.references.get(ind.id, []))
        got = {(r.period, r.unit): r for r in results if r.indicator == ind.id}
        assert set(got) == set(expected), ind.id
        for key, (num, den, value) in expected.items():
            r = got[key]
            assert r.denominator == den, (ind.id, key)
            assert r.numerator == (None if num is None else pytest.approx(num, rel=1e-11, abs=1e-9)), (ind.id, key)  # 12 digits
            if r.value is not None and ind.standardise is None:
                assert r.value == pytest.approx(value, rel=1e-9, abs=1e-12), (ind.id, key)
            if r.suppressed:
                assert r.value is None and r.ci_low is None and r.target_level == "" and r.funnel == ""
            elif value is not None and ind.measure not in ("coverage",):
                assert r.value is not None, (ind.id, key)


@settings(max_examples=12, deadline=None)
@given(cohorts)
def test_levels_add_up_and_nothing_published_is_small_or_derivable(cohort):
    frame = random_frame(cohort["seed"], cohort["n"], units=LEAVES, missing=cohort["missing"])
    results = run(frame, cohort["as_of"]).results
    for compiled in ISET.compiled:
        ind = compiled.indicator
        cells = {(r.period, r.unit): r for r in results if r.indicator == ind.id}
        relations = _relations(cells, ind.levels)
        for total, parts in relations:
            if all(p[0] == total[0] for p in parts) and ind.measure != "median":  # the tree: children sum to the parent
                assert cells[total].denominator == sum(cells[p].denominator for p in parts), (ind.id, total)
                assert cells[total].numerator == pytest.approx(sum(cells[p].numerator for p in parts)), (ind.id, total)
        for key, r in cells.items():
            if not r.suppressed:
                assert r.denominator >= max(ind.min_denominator, 5), (ind.id, key)
        assert not _derivable(cells, relations), ind.id


def _relations(cells, levels):
    out = []
    for period in {p for p, _ in cells}:
        kids: dict[str, list] = {}
        for (p, unit) in cells:
            if p == period and unit != NATIONAL:
                parent = TREE.published_parent(unit, levels)
                if parent is not None:
                    kids.setdefault(parent, []).append((p, unit))
        out += [((period, parent), parts) for parent, parts in kids.items()]
    for (period, unit) in cells:
        if "-" in period:
            first, last = map(int, period.split("-"))
            parts = [(str(y), unit) for y in range(first, last + 1)]
            if all(p in cells for p in parts):
                out.append(((period, unit), parts))
    return out


def _derivable(cells, relations) -> list:
    """Hidden cells (with episodes) whose denominator follows from the published cells and the
    relations: e_i in the row space of [relations; published cells] (linear algebra)."""
    keys = list(cells)
    index = {k: i for i, k in enumerate(keys)}
    rows = []
    for total, parts in relations:
        row = np.zeros(len(keys))
        row[index[total]] = 1
        for p in parts:
            row[index[p]] -= 1
        rows.append(row)
    for k, r in cells.items():
        if not r.suppressed:
            row = np.zeros(len(keys))
            row[index[k]] = 1
            rows.append(row)
    if not rows:
        return []
    known = np.array(rows)
    rank = np.linalg.matrix_rank(known)
    out = []
    for k, r in cells.items():
        if r.suppressed and r.denominator > 0:
            unit = np.zeros(len(keys))
            unit[index[k]] = 1
            if np.linalg.matrix_rank(np.vstack([known, unit])) == rank:
                out.append(k)
    return out


def test_a_requested_period_and_indicator_only():
    frame = random_frame(7, 300)
    results = run(frame, dt.date(2025, 12, 31), period="2023-2024", indicators=("pf-change", "count-asa")).results
    assert {r.period for r in results} == {"2023-2024"}
    assert {r.indicator for r in results} == {"pf-change", "count-asa"}
    with pytest.raises(engine.EngineError, match="no indicator nope"):
        run(frame, dt.date(2025, 12, 31), indicators=("nope",))
    with pytest.raises(engine.EngineError, match="give a year"):
        run(frame, dt.date(2025, 12, 31), period="2025-2024")


def test_a_means_numerator_leaves_as_a_score_does():
    # Two changes of 0.1 and 0.2 add up to 0.30000000000000004 in binary floating point.
    assert 0.1 + 0.2 != 0.3
    submitted = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    frame = random_frame(1, 2, missing=0.0).with_columns(
        pl.lit(None, pl.Datetime("us", "UTC")).alias("withdrawn_at"), pl.lit(None, pl.Datetime("us", "UTC")).alias("deceased_at"),
        pl.lit("completed").alias("m12.status"), pl.lit(submitted).alias("m12.submitted_at"),
        pl.lit(0.0).alias("baseline.rand36.pf"), pl.Series("m12.rand36.pf", [0.1, 0.2]))
    national = next(r for r in run(frame, dt.date(2025, 6, 30), indicators=("pf-change",), period="2024").results
                    if r.unit == NATIONAL)
    assert (national.numerator, national.denominator) == (0.3, 2)
