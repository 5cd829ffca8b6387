"""`promsvc cohort`: the CSV and the load of the same cohort are the same data (the indicator
frame of one equals the other's), on SQLite and PostgreSQL; the cohort is deterministic, its
scores are the scoring engine's, and it has what indicators need (every status, units of very
different sizes, coverage under 60 % somewhere)."""

from __future__ import annotations

import csv
import io

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from service_helpers import bearer

import scoring
from promsvc import commands, numbers
from promsvc.commands import demo as demo_command
from promsvc.episodes import synthetic
from promsvc.episodes.export import export_csv
from promsvc.indicators import frame as F
from promsvc.registries import loader
from promsvc.settings import Settings

TODAY = "2026-06-30"
ARGS = ["cohort", "demo", "--episodes", "400", "--years", "3", "--seed", "5", "--today", TODAY]
NEEDS = F.Needs(
    protocol="hip_primary",
    attributes=frozenset(a.id for a in loader.demo().protocol("hip_primary").attributes),
    time_points=frozenset({"baseline", "m3", "m12"}),
    scores=frozenset({F.ScoreRef(tp, "eq5d-5l", "index") for tp in ("baseline", "m3", "m12")}
                     | {F.ScoreRef("m12", "rand36", "pf"), F.ScoreRef("m12", "rand36", "pcs", scoring="sf36v1")}),
)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    assert commands.main([*ARGS, "-o", str(folder / "cohort.csv"), "--reference", str(folder / "reference.csv")]) == 0
    return folder


def test_the_loaded_cohort_is_the_csv_cohort(engine, database_url, written, monkeypatch, tmp_path, app):
    monkeypatch.setenv("PROMSVC_DATABASE_URL", database_url)
    assert commands.main([*ARGS, "--load"]) == 0
    demo = loader.demo()
    from_db = F.from_database(engine, demo, NEEDS)
    assert_frame_equal(from_db, F.from_csv(written / "cohort.csv", demo, NEEDS), check_exact=True)
    assert from_db.height == 400
    # and the service's own export of what was loaded reads back the same
    export = tmp_path / "export.csv"
    export.write_text("".join(export_csv(engine, app.state.registries["demo"])), encoding="utf-8")
    assert_frame_equal(F.from_csv(export, demo, NEEDS), from_db, check_exact=True)


def test_loading_the_same_seed_twice_is_refused(engine, database_url, monkeypatch, capsys):
    monkeypatch.setenv("PROMSVC_DATABASE_URL", database_url)
    small = [*ARGS[:3], "20", *ARGS[4:], "--load"]
    assert commands.main(small) == 0
    assert commands.main(small) == 2
    assert "already has the episodes of seed 5" in capsys.readouterr().err


def test_a_loaded_episode_reads_like_any_other(client, keys, engine, database_url, monkeypatch):
    monkeypatch.setenv("PROMSVC_DATABASE_URL", database_url)
    assert commands.main([*ARGS[:3], "30", *ARGS[4:], "--load"]) == 0
    body = client.get("/api/v1/registries/demo/episodes/SYN5-0000003", headers=bearer(keys.registry)).json()
    assert [tp["id"] for tp in body["time_points"]] == ["baseline", "m3", "m12"]
    answered = [tp for tp in body["time_points"] if tp["status"] == "completed"]
    assert answered and all(tp["responses"][0]["scores"] for tp in answered)
    assert [e["status"] for e in answered[0]["history"]] == ["planned", "open", "completed"]


def test_the_same_seed_gives_the_same_file(written, tmp_path):
    assert commands.main([*ARGS, "-o", str(tmp_path / "again.csv")]) == 0
    assert (tmp_path / "again.csv").read_bytes() == (written / "cohort.csv").read_bytes()
    other = [*ARGS[:7], "6", *ARGS[8:], "-o", str(tmp_path / "other.csv")]
    assert commands.main(other) == 0
    assert (tmp_path / "other.csv").read_bytes() != (written / "cohort.csv").read_bytes()


def test_the_scores_are_the_scoring_engines(written):
    rows = pl.read_csv(written / "cohort.csv", infer_schema=False).filter(pl.col("status") == "completed")
    items = {c.removeprefix("eq5d-5l."): pl.col(c).cast(pl.Float64) for c in rows.columns
             if c.startswith("eq5d-5l.") and c != "eq5d-5l.index"}
    answers = rows.select(**items).to_dict(as_series=False)
    expected = scoring.score("eq5d-5l", {k: np.array(v, dtype=float) for k, v in answers.items()},
                             method="VT", country="Norway").scores["index"]
    expected = numbers.clean(expected)  # as every way out writes a score
    got = rows["eq5d-5l.index"].cast(pl.Float64).to_numpy()
    assert np.array_equal(np.isnan(expected), np.isnan(got)) and np.allclose(expected, got, equal_nan=True, rtol=0, atol=0)
    assert np.nanmean(expected) > 0


def test_the_cohort_has_what_indicators_need(written):
    table = pl.read_csv(written / "cohort.csv", infer_schema=False)
    assert set(table["status"]) >= {"completed", "expired", "withdrawn", "planned"}
    episodes = table.unique("external_id")
    assert episodes["deceased_at"].is_not_null().any() and episodes["withdrawn_at"].is_not_null().any()
    sizes = episodes.group_by("unit").len()["len"]
    assert len(sizes) == 7 and sizes.max() >= 8 * sizes.min()  # every hospital and department, very different sizes
    frame = F.from_csv(written / "cohort.csv", loader.demo(), NEEDS)
    change = frame.select(pl.col("m12.eq5d-5l.index") - pl.col("baseline.eq5d-5l.index")).to_series().drop_nulls()
    assert change.mean() > 0.1  # patients improve after surgery
    by_unit = frame.group_by("unit").agg(pl.col("m12.eq5d-5l.index").mean())
    assert by_unit["m12.eq5d-5l.index"].max() - by_unit["m12.eq5d-5l.index"].min() > 0.02
    assert set(frame["attr.asa_class"].drop_nulls()) <= set(range(1, 6)) and frame["attr.sex"].null_count() > 0


def test_the_reference_counts_match_the_cohort(written):
    reference = pl.read_csv(written / "reference.csv")
    assert reference.columns == ["unit", "year", "count"]
    episodes = pl.read_csv(written / "cohort.csv", infer_schema=False).unique("external_id")
    counted = episodes.group_by("unit", pl.col("event_date").str.slice(0, 4).cast(pl.Int64).alias("year")).len()
    joined = counted.join(reference, on=["unit", "year"], how="full", coalesce=True)
    assert joined["count"].null_count() == 0 and joined["len"].null_count() == 0
    coverage = joined.group_by("unit").agg((pl.col("len").sum() / pl.col("count").sum()).alias("coverage"))
    assert coverage["coverage"].max() <= 1 and coverage["coverage"].min() < 0.6 < coverage["coverage"].max()


def test_the_csv_has_the_export_header(written, app):
    header = next(csv.reader(io.StringIO((written / "cohort.csv").read_text(encoding="utf-8"))))
    assert header == next(csv.reader(io.StringIO(next(export_csv(app.state.engine, app.state.registries["demo"])))))


def test_the_shipped_demo_coverage_is_that_of_the_demo_cohort():
    """`make run` loads the demo cohort (promsvc demo); its coverage reference ships with it."""
    from importlib import resources

    demo, options = loader.demo(), demo_command.cohort_options()
    counts = [synthetic.episode_counts(chunk) for chunk in synthetic.chunks(demo, options, Settings())]
    shipped = pl.read_csv(resources.files("promsvc.registries").joinpath("demo.coverage.csv").read_bytes())
    assert_frame_equal(shipped, synthetic.reference_counts(demo, options, counts))
