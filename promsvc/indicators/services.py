"""Compute a registry's indicators from the database or from a CSV: the one way the command
line, the API and the result pages read the data and call the engine.

    results = from_database(engine, registry, indicator_set, Options(as_of=…, computed_at=…))
    results = from_csv("export.csv", registry, indicator_set, Options(…, source="export.csv"))
"""

from __future__ import annotations

from pathlib import Path

from promsvc.indicators import engine as ind_engine
from promsvc.indicators import frame
from promsvc.indicators.loader import IndicatorSet
from promsvc.indicators.results import ResultSet
from promsvc.registries.schema import Registry


def _compute(read, registry: Registry, iset: IndicatorSet, options: ind_engine.Options) -> ResultSet:
    if options.period is not None:
        ind_engine.parse_period(options.period)  # before anything is read
    wanted = ind_engine.needs(ind_engine.selected(iset, options.indicators))
    frames = {protocol: read(needs) for protocol, needs in wanted.items()}
    return ind_engine.compute(frames, iset, registry, options)


def from_database(db_engine, registry: Registry, iset: IndicatorSet, options: ind_engine.Options) -> ResultSet:
    """Results from the database (only the columns the selected indicators need)."""
    return _compute(lambda needs: frame.from_database(db_engine, registry, needs), registry, iset, options)


def from_csv(path: str | Path, registry: Registry, iset: IndicatorSet, options: ind_engine.Options) -> ResultSet:
    """Results from a CSV in the export's format (promsvc.csvio.CsvError names a bad cell)."""
    return _compute(lambda needs: frame.from_csv(path, registry, needs), registry, iset, options)
