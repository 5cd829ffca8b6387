"""Chart descriptions: what each kind of chart shows, before anything is drawn."""

from __future__ import annotations

import pytest
from builders import SMALL_UNIT, demo_registry, publication

from promsvc.indicators import stats
from promsvc.indicators.results import NATIONAL
from promsvc.reports import charts, distributions
from promsvc.reports.published import Index
from promsvc.reports.texts import NNBSP, Words


@pytest.fixture(scope="module")
def ix() -> Index:
    return Index(publication(), demo_registry())


nb = Words("nb")


def test_units_best_first_and_suppressed_units_last_unranked_without_numbers(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    ranked = [r for r in chart.rows if r.ranked]
    assert [r.value for r in ranked] == sorted((r.value for r in ranked), reverse=True)
    last = chart.rows[-1]
    assert last.unit == SMALL_UNIT and not last.ranked
    assert last.value is None and last.low is None and last.text == "færre enn 10"
    assert last.label == "Fjellheimen sykehus (N < 10)"
    cell = ix.cell("eq5d_mid", "2025", SMALL_UNIT)
    table_row = next(row for row in chart.table.rows if row[0] == "Fjellheimen sykehus")
    assert str(cell.denominator) not in " ".join(table_row[1:])


def test_each_label_says_unit_and_N_and_each_cell_n_of_N(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    for row in chart.rows:
        if row.ranked:
            cell = ix.cell("eq5d_mid", "2025", row.unit)
            assert row.label == f"{ix.units[row.unit].name} ({cell.denominator})"
            table_row = next(r for r in chart.table.rows if r[0] == ix.units[row.unit].name)
            assert table_row[3] == f"{int(cell.numerator)} av {cell.denominator}"


def test_target_bands_and_their_order_flip_when_lower_is_better(ix):
    higher = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    assert [(b.level, b.low, b.high) for b in higher.bands] == [("low", 0.0, 0.5), ("moderate", 0.5, 0.7), ("high", 0.7, 1.0)]
    lower = charts.unit_bars(ix, "reop", "2025", nb)
    assert [(b.level, b.low, b.high) for b in lower.bands] == [("high", 0.0, 0.05), ("moderate", 0.05, 0.1), ("low", 0.1, 1.0)]
    ranked = [r.value for r in lower.rows if r.ranked]
    assert ranked == sorted(ranked)  # best (lowest) first


def test_level_is_a_word_and_a_symbol_never_colour_alone(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    for row in chart.rows:
        if row.level:
            assert {"high": "Høy", "moderate": "Moderat", "low": "Lav"}[row.level] in row.text
            assert "●" in row.text


def test_no_target_means_no_bands_and_a_title_about_the_best_unit(ix):
    chart = charts.unit_bars(ix, "pf_change", "2025", nb)
    assert chart.bands == []
    best = next(r for r in chart.rows if r.ranked)
    assert chart.title.startswith(ix.units[best.unit].name)
    assert chart.national == ix.cell("pf_change", "2025", NATIONAL).value


def test_title_states_the_message_and_subtitle_the_selection_and_period(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    reached = sum(1 for r in chart.rows if r.level == "high")
    assert chart.title == f"{reached} av {sum(r.ranked for r in chart.rows)} enheter når målet (≥ 70{NNBSP}%)"
    assert chart.subtitle.endswith("Sykehus · 2025")


def test_low_coverage_is_flagged(ix):
    chart = charts.unit_bars(ix, "eq5d_mid", "2025", nb)
    for row in chart.rows:
        coverage = ix.coverage("2025", row.unit)
        assert ("lav dekningsgrad" in row.flags) == (coverage is not None and coverage < 0.6)


def test_funnel_limits_are_the_engines_and_points_only_published_cells(ix):
    chart = charts.funnel(ix, "eq5d_mid", "2025", nb)
    p0 = ix.cell("eq5d_mid", "2025", NATIONAL).value
    assert chart.centre == p0
    for lim in chart.limits[:: max(1, len(chart.limits) // 5)]:
        low, high = stats.binomial_limits(p0, [lim.n], 0.998)
        assert (lim.low998, lim.high998) == pytest.approx((low[0], high[0]))
        assert lim.low998 <= lim.low95 <= p0 <= lim.high95 <= lim.high998
    assert SMALL_UNIT not in {p.unit for p in chart.points}
    assert charts.funnel(ix, "pf_change", "2025", nb) is None  # a mean has no binomial funnel


def test_trend_covers_the_last_five_years_with_gaps_for_suppressed_years(ix):
    chart = charts.trend(ix, "eq5d_mid", nb, units=[SMALL_UNIT, NATIONAL])
    assert chart.periods == ["2021", "2022", "2023", "2024", "2025"]
    small, national = chart.series
    assert all(p.value is None and p.note == "færre enn 10" for p in small.points)
    assert all(p.value is not None and p.low <= p.value <= p.high for p in national.points)


def test_response_rates_one_bar_per_time_point_and_unit(ix):
    chart = charts.response_rates(ix, "2025", nb)
    assert len(chart.series) == 2  # before surgery, 12 months
    assert chart.groups[0].label == "Hele landet"
    for group in chart.groups:
        assert [b.series for b in group.bars] == [0, 1]


def test_distribution_charts_per_instrument_with_change_from_baseline(ix):
    boxes = distributions.charts(ix, NATIONAL, nb)
    assert [(c.series[0], c.zero_line) for c in boxes] == [
        ("Før operasjonen", False), ("3 måneder etter", True), ("Før operasjonen", False)]
    assert [g.label for g in boxes[2].groups] == ["Fysisk funksjon", "Smerte", "Psykisk velvære"]


def test_summaries_are_percentiles_of_groups_of_at_least_ten():
    import datetime as dt

    import numpy as np
    import polars as pl

    registry = demo_registry()
    rng = np.random.default_rng(5)
    units = ["fjord-sentral"] * 12 + [SMALL_UNIT] * 5
    pre, post = rng.uniform(-0.2, 0.9, 17), rng.uniform(0.3, 1.0, 17)
    frame = pl.DataFrame({
        "episode": [f"e{i}" for i in range(17)], "unit": units, "protocol": ["hip_primary"] * 17,
        "event_date": [dt.date(2024, 3, 1)] * 17,
        "baseline.eq5d-5l.index": pre, "m12.eq5d-5l.index": post,
    })
    found = distributions.summarise(frame, registry, registry.protocol("hip_primary"))
    by = {(s.unit, s.time_point, s.change_from): s for s in found}
    assert {s.unit for s in found} == {NATIONAL, "rhf-nord-demo", "hf-fjord", "fjord-sentral"}  # not 5 of dal-fjell
    assert all(s.n >= distributions.SUMMARY_MIN for s in found)
    hospital = by[("fjord-sentral", "baseline", None)]
    assert hospital.n == 12
    assert hospital.p25 == pytest.approx(np.quantile(pre[:12], 0.25))
    assert hospital.p50 == pytest.approx(np.median(pre[:12]))
    national = by[(NATIONAL, "m12", "baseline")]
    assert national.n == 17 and national.mean == pytest.approx(np.mean(post - pre))
    assert national.p90 == pytest.approx(np.quantile(post - pre, 0.9))
