"""Sums per cell, the same to the last bit in every run and by every route.

Floating-point sums depend on their order, and a parallel group-by adds in whatever order its
threads finish: the same frame could give a mean that differs in the 16th digit from one run to
the next. So the engine sums each (unit, year[, stratum]) group with `numpy.bincount` (one
sequential pass in the frame's order), and adds groups into cells with `math.fsum` (exactly
rounded, so the order of the groups does not matter).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import polars as pl

Key = tuple[int, int, int]  # unit code, year, stratum (0 when not standardised)


def group_sums(ep: pl.DataFrame, columns: list[str], n_units: int, n_strata: int = 1) -> dict[Key, list[float]]:
    """Per (unit code, year, stratum) of the per-episode rows: the sum of each column."""
    if ep.height == 0:
        return {}
    unit = ep["unit"].to_numpy().astype(np.int64)
    year = ep["year"].to_numpy().astype(np.int64)
    stratum = ep["stratum"].to_numpy().astype(np.int64) if "stratum" in ep.columns else np.zeros(ep.height, np.int64)
    first, years = int(year.min()), int(year.max() - year.min() + 1)
    key = (unit * years + (year - first)) * n_strata + stratum
    size = n_units * years * n_strata
    counts = np.bincount(key, minlength=size)
    present = np.nonzero(counts)[0]
    sums = [counts[present] if c == "pop" else  # every per-episode row has pop = 1
            np.bincount(key, weights=ep[c].to_numpy(), minlength=size)[present] for c in columns]
    out: dict[Key, list[float]] = {}
    for i, k in enumerate(present.tolist()):
        rest, s = divmod(k, n_strata)
        u, y = divmod(rest, years)
        out[(u, y + first, s)] = [float(column[i]) for column in sums]
    return out


def rollup(groups: dict[Key, list[float]], periods_of_year: dict[int, list[str]],
           cells_of_unit: dict[int, list[str]], by_stratum: bool = False) -> dict[tuple, list[float]]:
    """Per (period, cell[, stratum]): the exactly rounded sums of every group it holds."""
    parts: dict[tuple, list[list[float]]] = defaultdict(list)
    for (unit, year, stratum), sums in groups.items():
        for period in periods_of_year.get(year, ()):
            for cell in cells_of_unit.get(unit, ()):
                parts[(period, cell, stratum) if by_stratum else (period, cell)].append(sums)
    return {key: [math.fsum(column) for column in zip(*rows, strict=True)] for key, rows in parts.items()}
