"""Publishing: compute a registry's indicators with the engine, summarise its scores, and store
the result as the newest publication (`promsvc results publish`, `make run` for the demo).

`compute` is pure (frames in, a `Publication` out: for tests and benchmarks); `from_database` and
`from_csv` compute the results the one way the command line and the API do
(promsvc.indicators.services) and read the scores for the summaries beside them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from promsvc.indicators import engine as indicator_engine
from promsvc.indicators import frame, services
from promsvc.indicators.frame import Needs
from promsvc.indicators.loader import IndicatorSet
from promsvc.models import utcnow
from promsvc.registries.schema import Protocol, Registry
from promsvc.reports import distributions, publication
from promsvc.reports.published import Publication

if TYPE_CHECKING:
    import polars as pl


def needs(iset: IndicatorSet, registry: Registry) -> dict[str, Needs]:
    """Per protocol: what the indicators read, and every PROM score for the distributions."""
    out = indicator_engine.needs(iset.compiled)
    for protocol_id, n in list(out.items()):
        extra = distributions.needs(_protocol(registry, protocol_id))
        out[protocol_id] = Needs(protocol=protocol_id, attributes=n.attributes, time_points=n.time_points,
                                 scores=n.scores | extra.scores)
    return out


def compute(frames: Mapping[str, pl.DataFrame], iset: IndicatorSet, registry: Registry, *, as_of: dt.date,
            now: dt.datetime | None = None, source: str = "database") -> Publication:
    """The publication of these frames (protocol id → episode frame)."""
    now = now or utcnow()
    results = indicator_engine.compute(frames, iset, registry, indicator_engine.Options(
        as_of=as_of, computed_at=now, source=source))
    summaries = []
    for protocol_id, df in frames.items():
        summaries += distributions.summarise(df, registry, _protocol(registry, protocol_id), as_of=as_of)
    return publication.make(results, iset.indicators, summaries, now)


def from_database(db_engine, iset: IndicatorSet, registry: Registry, *, as_of: dt.date | None = None,
                  now: dt.datetime | None = None) -> Publication:
    """Results the one way the engine reads the database (promsvc.indicators.services), and
    score summaries from a read of the scores alone."""
    now = now or utcnow()
    options = indicator_engine.Options(as_of=as_of or now.date(), computed_at=now, source="database")
    results = services.from_database(db_engine, registry, iset, options)
    return _with_summaries(results, iset, registry, options, lambda needs: frame.from_database(db_engine, registry, needs))


def from_csv(path: str | Path, iset: IndicatorSet, registry: Registry, *, as_of: dt.date | None = None,
             now: dt.datetime | None = None) -> Publication:
    now = now or utcnow()
    options = indicator_engine.Options(as_of=as_of or now.date(), computed_at=now, source=Path(path).name)
    results = services.from_csv(path, registry, iset, options)
    return _with_summaries(results, iset, registry, options, lambda needs: frame.from_csv(path, registry, needs))


def _with_summaries(results, iset: IndicatorSet, registry: Registry, options, read) -> Publication:
    summaries = []
    for protocol_id in indicator_engine.needs(iset.compiled):
        protocol = _protocol(registry, protocol_id)
        df = read(distributions.needs(protocol))
        summaries += distributions.summarise(df, registry, protocol, as_of=options.as_of)
    return publication.make(results, iset.indicators, summaries, options.computed_at)


def _protocol(registry: Registry, protocol_id: str) -> Protocol:
    """A protocol the indicators count (compile_indicator checked that the registry has it)."""
    protocol = registry.protocol(protocol_id)
    assert protocol is not None
    return protocol
