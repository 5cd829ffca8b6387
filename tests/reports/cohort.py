"""Publications computed by the real indicator engine from random cohorts (the engine's own
random frames, tests/property/indicator_frames.py, over the test registry `ind`)."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "property"))

import indicator_frames  # noqa: E402

from promsvc.reports import publish  # noqa: E402
from promsvc.reports.published import Index, Publication  # noqa: E402

AS_OF = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 2, 8, 0, tzinfo=dt.UTC)


@functools.cache
def registry_and_indicators():
    registry = indicator_frames.registry()
    return registry, indicator_frames.indicator_set(registry)


def published(seed: int, episodes: int = 1500, **frame_options) -> Publication:
    registry, iset = registry_and_indicators()
    frame = indicator_frames.random_frame(seed, episodes, **frame_options)
    return publish.compute({"hip": frame}, iset, registry, as_of=AS_OF, now=NOW)


def index(seed: int, episodes: int = 1500, **frame_options) -> Index:
    return Index(published(seed, episodes, **frame_options), registry_and_indicators()[0])
