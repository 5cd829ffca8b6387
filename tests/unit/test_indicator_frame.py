"""The indicator frame's assembly from long rows (promsvc.indicators.frame.assemble)."""

from __future__ import annotations

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
