"""The indicator frame: its assembly from long rows (promsvc.indicators.frame.assemble), and
the database reader's typing of episode rows (promsvc.indicators.dbread)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from promsvc.indicators import frame as F
from promsvc.registries import loader as registry_loader

REGISTRY = registry_loader.load(Path(__file__).resolve().parents[1] / "data" / "indicators" / "ind.yaml")
NEEDS = F.Needs(protocol="hip", time_points=frozenset({"baseline"}))


def test_long_rows_are_spread_per_time_point_in_the_episodes_order():
    plan = F.plan(REGISTRY, NEEDS)
    episodes = pl.DataFrame({"episode": ["A", "B", "C"]})
    long = pl.DataFrame({"episode": ["C", "A"], "time_point": ["baseline", "baseline"], "status": ["open", "completed"]})
    frame = F.assemble(plan, episodes, [long])
    assert frame["episode"].to_list() == ["A", "B", "C"]
    assert frame["baseline.status"].to_list() == ["completed", None, "open"]


def test_two_rows_for_one_time_point_are_refused():
    """Both ways in refuse this before; were one to let it through, the join would repeat the
    episode and every count of it."""
    plan = F.plan(REGISTRY, NEEDS)
    episodes = pl.DataFrame({"episode": ["A", "B"]})
    long = pl.DataFrame({"episode": ["A", "A", "B"], "time_point": ["baseline"] * 3, "status": ["open", "completed", "open"]})
    with pytest.raises(ValueError, match="an episode has two rows for one time point"):
        F.assemble(plan, episodes, [long])


def test_the_database_readers_attributes_are_decoded_from_each_episodes_json_as_their_kind(tmp_path):
    """dbread fetches an episode's attributes as the JSON the service stores (promsvc.episodes.
    attributes) and decodes the ones needed in one pass: every kind, and unknown (left out)."""
    from promsvc.indicators import dbread

    source = (Path(__file__).resolve().parents[1] / "data" / "indicators" / "ind.yaml").read_text()
    boolean = "      - {id: previous_surgery, kind: boolean, title: {nb: Tidligere, nn: Tidligere, en: Previous}}\n"
    assert boolean in source
    (tmp_path / "ind.yaml").write_text(source.replace(
        boolean, boolean + "      - {id: diagnosed, kind: date, title: {nb: Diagnose, nn: Diagnose, en: Diagnosed}}\n"))
    registry = registry_loader.load(tmp_path / "ind.yaml")
    plan = F.plan(registry, F.Needs(protocol="hip", attributes=frozenset({"sex", "asa_class", "previous_surgery", "diagnosed"})))
    raw = pl.DataFrame({
        "episode": ["A", "B"], "unit": ["u", "u"], "protocol": ["hip", "hip"], "event_date": ["2025-01-02", "2025-01-03"],
        "withdrawn_at": ["2025-02-03 04:05:06", None], "deceased_at": [None, None],
        "attributes": ['{"sex":"female","age_group":"<60","asa_class":3,"previous_surgery":false,"diagnosed":"2024-12-01"}', "{}"]},
        schema_overrides={"deceased_at": pl.String})
    typed = dbread._episodes(raw, plan)
    assert typed.schema == pl.Schema(plan.schema)
    assert typed.rows() == [
        ("A", "u", "hip", dt.date(2025, 1, 2), dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.UTC), None, "female", 3, False,
         dt.date(2024, 12, 1)),
        ("B", "u", "hip", dt.date(2025, 1, 3), None, None, None, None, None, None)]
