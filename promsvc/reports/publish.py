"""Publishing: compute a registry's indicators with the engine, summarise its scores, and store
the result as the newest publication (`promsvc results publish`, `make run` for the demo).

`compute` is pure (frames in, a `Publication` out); `from_database` and `from_csv` read the frames
the two ways the engine reads them, each asking for what the indicators need plus the scores
that the distribution charts summarise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from promsvc.indicators import engine as indicator_engine
from promsvc.indicators import frame
from promsvc.indicators.frame import Needs
from promsvc.indicators.loader import IndicatorSet
from promsvc.models import utcnow
from promsvc.registries.schema import Registry
from promsvc.reports import distributions, publication
from promsvc.reports.published import Publication


def needs(iset: IndicatorSet, registry: Registry) -> dict[str, Needs]:
    """Per protocol: what the indicators read, and every PROM score for the distributions."""
    out = indicator_engine.needs(iset.compiled)
    for protocol_id, n in list(out.items()):
        extra = distributions.needs(registry.protocol(protocol_id))
        out[protocol_id] = Needs(protocol=protocol_id, attributes=n.attributes, time_points=n.time_points,
                                 scores=n.scores | extra.scores)
    return out


def compute(frames: Mapping[str, object], iset: IndicatorSet, registry: Registry, *, as_of: dt.date,
            now: dt.datetime | None = None, source: str = "database") -> Publication:
    """The publication of these frames (protocol id → episode frame)."""
    now = now or utcnow()
    results = indicator_engine.compute(frames, iset, registry, indicator_engine.Options(
        as_of=as_of, computed_at=now, source=source))
    summaries = []
    for protocol_id, df in frames.items():
        summaries += distributions.summarise(df, registry, registry.protocol(protocol_id))
    return publication.make(results, iset.indicators, summaries, now)


def from_database(db_engine, iset: IndicatorSet, registry: Registry, *, as_of: dt.date | None = None,
                  now: dt.datetime | None = None) -> Publication:
    now = now or utcnow()
    frames = {p: frame.from_database(db_engine, registry, n) for p, n in needs(iset, registry).items()}
    return compute(frames, iset, registry, as_of=as_of or now.date(), now=now, source="database")


def from_csv(path: str | Path, iset: IndicatorSet, registry: Registry, *, as_of: dt.date | None = None,
             now: dt.datetime | None = None) -> Publication:
    now = now or utcnow()
    frames = {p: frame.from_csv(path, registry, n) for p, n in needs(iset, registry).items()}
    return compute(frames, iset, registry, as_of=as_of or now.date(), now=now, source=Path(path).name)
