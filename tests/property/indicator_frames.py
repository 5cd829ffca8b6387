"""Random episode frames (the indicator engine's input) for the test registry
tests/data/indicators/ind.yaml, and that registry's indicator set."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from promsvc.indicators import loader
from promsvc.registries import loader as registry_loader

DATA = Path(__file__).resolve().parents[1] / "data" / "indicators"
UTC = pl.Datetime("us", "UTC")
TIME_POINTS = {"baseline": (-14, 14), "m3": (91, 60), "m12": (365, 90)}
SCORES = {  # column → (time points, low, high); null share drawn per frame
    "eq5d-5l.index": (("baseline", "m3", "m12"), -0.3, 1.0),
    "rand36.pf": (("baseline", "m12"), 0.0, 100.0),
    "gs-peq.gspeq1_top": (("m3",), 0.0, 1.0),
}


def registry():
    return registry_loader.load(DATA / "ind.yaml")


def indicator_set(reg=None):
    reg = reg or registry()
    return loader.load(DATA / "ind.indicators.yaml", {reg.id: reg})


def random_frame(seed: int, n: int, units: list[str] | None = None, first_year: int = 2023, years: int = 3,
                 missing: float = 0.3) -> pl.DataFrame:
    """`n` episodes of protocol `hip` with random units, dates, attributes, statuses and scores."""
    rng = np.random.default_rng(seed)
    units = units or registry().unit_ids()
    start = dt.date(first_year, 1, 1)
    days = rng.integers(0, 365 * years, n)
    event = np.array([start + dt.timedelta(days=int(d)) for d in days], dtype="datetime64[D]")
    midnight = event.astype("datetime64[us]")

    def maybe(values, share, dtype=None) -> pl.Series:
        """The values with a random `share` of them null."""
        series = pl.Series(values, dtype=dtype)
        keep = pl.Series(rng.random(n) >= share)
        return series.zip_with(keep, pl.Series([None] * n, dtype=series.dtype))

    def utc(values) -> pl.Series:
        return pl.Series(values).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")

    def moment(share, low, high):
        return maybe(utc(midnight + rng.integers(low, high, n).astype("timedelta64[D]")), share)

    cols: dict[str, pl.Series] = {
        "episode": pl.Series([f"e{i}" for i in range(n)]),
        "unit": pl.Series(list(rng.choice(units, n))),
        "protocol": pl.Series(["hip"] * n),
        "event_date": pl.Series(event).cast(pl.Date),
        "withdrawn_at": moment(0.9, -10, 500),
        "deceased_at": moment(0.95, 0, 600),
        "attr.sex": maybe(rng.choice(["female", "male"], n), 0.05, pl.String),
        "attr.age_group": maybe(rng.choice(["<60", "60-69", "70-79", "80+"], n), 0.05, pl.String),
        "attr.asa_class": maybe(rng.integers(1, 6, n), 0.1, pl.Int64),
        "attr.previous_surgery": maybe(rng.integers(0, 2, n).astype(bool), 0.1, pl.Boolean),
    }
    answered = {}
    for tp, (offset, window) in TIME_POINTS.items():
        due = midnight + np.timedelta64(offset, "D")
        done = rng.random(n) > missing
        submitted = due + rng.integers(0, window * 24, n).astype("timedelta64[h]")
        status = np.where(done, "completed", rng.choice(["expired", "open", "withdrawn", "failed"], n))
        cols[f"{tp}.status"] = maybe(status, 0.05, pl.String)
        cols[f"{tp}.due_at"] = utc(due)
        cols[f"{tp}.expires_at"] = utc(due + np.timedelta64(window, "D"))
        completed = (cols[f"{tp}.status"] == "completed").fill_null(False)
        cols[f"{tp}.submitted_at"] = utc(submitted).zip_with(completed, pl.Series([None] * n, dtype=UTC))
        answered[tp] = completed
    for score, (tps, low, high) in SCORES.items():
        for tp in tps:
            raw = rng.integers(0, 2, n).astype(float) if score.endswith("_top") else np.round(rng.uniform(low, high, n), 3)
            cols[f"{tp}.{score}"] = maybe(raw, 0.1, pl.Float64).zip_with(answered[tp], pl.Series([None] * n, dtype=pl.Float64))
    return pl.DataFrame(cols)
