"""The indicator engine: episode frames + checked definitions + registry + options → `ResultSet`.

Pure: no database, no files, no clock (the time of computation and the data date come in the
options). The same frames give the same results whatever they were read from.

Steps for each indicator: one row per episode with what its measure adds up
(`promsvc.indicators.episodes`); sums per year and unit; those sums joined to every period an
episode's year belongs to (a year, and the pooled periods that contain it) and to every unit
above the episode's unit at a published level; then per cell the value, its interval, the
target level, the funnel status against the national value and the data share; last, primary
and complementary suppression over all cells (`promsvc.indicators.suppression`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Mapping

import msgspec
import numpy as np
import polars as pl

import instruments
from promsvc import numbers
from promsvc.indicators import stats
from promsvc.indicators.cells import group_sums, rollup
from promsvc.indicators.definitions import Compiled
from promsvc.indicators.episodes import DAYS_PER_YEAR, UNIT_CODE, at_data_date, per_episode
from promsvc.indicators.frame import Needs
from promsvc.indicators.loader import IndicatorSet, Reference
from promsvc.indicators.results import NATIONAL, DefinitionStamp, Result, ResultSet
from promsvc.indicators.schema import LEVELS
from promsvc.indicators.suppression import suppress
from promsvc.indicators.tree import UnitTree
from promsvc.registries.schema import Registry
from scoring import engine as scoring_engine

PERIOD = re.compile(r"^(\d{4})(?:-(\d{4}))?$")
_SUMS = ("pop", "den", "num", "sq", "n_withdrawn", "n_deceased")
_SHARES = ("proportion", "response_rate", "coverage")


class EngineError(Exception):
    """Input the engine cannot compute from (an unknown unit in the data, a bad period)."""


class Options(msgspec.Struct, frozen=True, kw_only=True):
    as_of: dt.date  # the data date
    computed_at: dt.datetime  # stamped on the results (UTC)
    source: str = "database"  # "database" or the CSV file's name
    period: str | None = None  # only this period: "2025" or "2024-2025"
    indicators: tuple[str, ...] = ()  # only these indicator ids (empty: all)


def parse_period(text: str) -> tuple[int, ...]:
    """The years of a period: "2025" → (2025,), "2024-2025" → (2024, 2025)."""
    m = PERIOD.match(text.strip())
    if not m or (m.group(2) and int(m.group(2)) <= int(m.group(1))):
        raise EngineError(f"period {text!r}: give a year (2025) or a range of years (2024-2025)")
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    return tuple(range(first, last + 1))


def selected(iset: IndicatorSet, ids: tuple[str, ...] = ()) -> list[Compiled]:
    known = {c.indicator.id: c for c in iset.compiled}
    missing = [i for i in ids if i not in known]
    if missing:
        raise EngineError(f"no indicator {', '.join(missing)} in registry {iset.registry}; known: {', '.join(known)}")
    return [known[i] for i in ids] if ids else list(iset.compiled)


def needs(compiled: list[Compiled]) -> dict[str, Needs]:
    """What to read for these indicators, one `Needs` per protocol."""
    out: dict[str, Needs] = {}
    for c in compiled:
        n, old = c.needs, out.get(c.needs.protocol)
        if old is not None:
            n = Needs(protocol=n.protocol, attributes=old.attributes | n.attributes,
                      time_points=old.time_points | n.time_points, windows=old.windows | n.windows,
                      scores=old.scores | n.scores)
        out[n.protocol] = n
    return out


def compute(frames: Mapping[str, pl.DataFrame], iset: IndicatorSet, registry: Registry, options: Options) -> ResultSet:
    """Every selected indicator at every published level and period. `frames`: protocol id →
    episode frame holding (at least) what `needs` asks for."""
    compiled = selected(iset, options.indicators)
    if options.period is not None:
        parse_period(options.period)
    tree = UnitTree.of(registry)
    codes = tree.codes()
    prepared = {p: at_data_date(frames[p], p, options.as_of, codes) for p in {c.protocol.id for c in compiled}}
    for df in prepared.values():
        unknown = df.filter(pl.col(UNIT_CODE) < 0)["unit"].unique().to_list()
        if unknown:
            raise EngineError(f"the data names unit(s) {', '.join(sorted(map(str, unknown)))} that the registry does not declare")
    results: list[Result] = []
    for c in compiled:
        results += compute_one(prepared[c.protocol.id], c, tree, iset.references.get(c.indicator.id, []), options)
    return ResultSet(
        registry=registry.id, computed_at=options.computed_at, data_until=options.as_of, source=options.source,
        definitions=[DefinitionStamp(c.indicator.id, c.indicator.version, c.indicator.approved, method(c)) for c in compiled],
        provenance=provenance(compiled, registry), results=results,
    )


def periods(indicator, years: list[int], requested: str | None) -> list[tuple[str, tuple[int, ...]]]:
    """The periods to publish: each year from the first to the last with data, and the rolling
    pooled periods the definition asks for; or only the requested one."""
    if requested is not None:
        return [(requested.strip(), parse_period(requested))]
    if not years:
        return []
    first, last = min(years), max(years)
    out: list[tuple[str, tuple[int, ...]]] = [(str(y), (y,)) for y in range(first, last + 1)]
    k = indicator.period.pooled
    if k:
        out += [(f"{end - k + 1}-{end}", tuple(range(end - k + 1, end + 1))) for end in range(first + k - 1, last + 1)]
    return out


def compute_one(df: pl.DataFrame, c: Compiled, tree: UnitTree, references: list[Reference], options: Options) -> list[Result]:
    """The cells of one indicator; `df` is its protocol's frame at the data date (`at_data_date`)."""
    ind = c.indicator
    ep = per_episode(df, c, options.as_of)
    codes = tree.codes()
    years = sorted(y for y in ep["year"].unique().to_list() if y <= options.as_of.year)
    chosen = periods(ind, years, options.period)
    if not chosen:
        return []
    levels = [lv for lv in LEVELS if lv in ind.levels]
    keys = [(p, n.id) for p, _ in chosen for lv in levels for n in tree.at_level(lv)]
    periods_of_year: dict[int, list[str]] = {}
    for label, ys in chosen:
        for y in ys:
            periods_of_year.setdefault(y, []).append(label)
    cells_of_unit = {codes[u]: [a for a in (*node.ancestors, u) if tree.nodes[a].level in levels] for u, node in tree.nodes.items()}
    sums = [s for s in _SUMS if s in ep.columns]
    n_strata = math.prod(len(values) + 1 for _, values in c.strata)
    groups = group_sums(ep, sums, len(codes), n_strata)
    totals = rollup(groups, periods_of_year, cells_of_unit)
    zero = [0.0] * len(sums)
    col = {s: np.array([totals.get(k, zero)[i] for k in keys]) for i, s in enumerate(sums)}
    if ind.measure == "coverage":
        reference = {(codes[r.unit], r.year, 0): [float(r.count)] for r in references}
        reference_sums = rollup(reference, periods_of_year, cells_of_unit)
        col["den"] = np.array([reference_sums.get(k, [0.0])[0] for k in keys])
    den, num, pop = col["den"], col["num"], col["pop"]
    value, low, high, sd = _values(ind, keys, col, ep, tree, chosen)
    crude = None
    if c.strata:
        crude = value
        strata = rollup(groups, periods_of_year, cells_of_unit, by_stratum=True)
        value, low, high = _standardised(ind, keys, den, {k: dict(zip(sums, v, strict=True)) for k, v in strata.items()})
    national = {p: i for i, (p, u) in enumerate(keys) if u == NATIONAL}
    funnel = _funnel(ind, keys, value, den, sd, national)
    hidden = suppress_cells(keys, den.astype(int), tree, levels, chosen, ind.threshold())
    # A mean's numerator is a sum of scores: written as a score is (promsvc.numbers), so that a
    # sum of 5-decimal values reads 248.014629, not the 248.01462899999999 of its binary sum.
    numerators = numbers.clean(num)
    out = []
    for i, (period, unit) in enumerate(keys):
        node = tree.nodes[unit]
        reason = hidden.get((period, unit))
        shown = reason is None and not np.isnan(value[i])
        counts = {"withdrawn": int(col["n_withdrawn"][i]), "deceased": int(col["n_deceased"][i])} if "n_withdrawn" in col else {}
        out.append(Result(
            indicator=ind.id, version=ind.version, measure=ind.measure, period=period, level=node.level, unit=unit,
            orgnr=node.orgnr, numerator=None if ind.measure == "median" else float(numerators[i]), denominator=int(den[i]),
            value=_f(value[i]) if shown else None, ci_low=_f(low[i]) if shown else None, ci_high=_f(high[i]) if shown else None,
            interval=ind.interval_method() if shown and not np.isnan(low[i]) else "",
            target_level=stats.target_level(value[i], **msgspec.structs.asdict(ind.target)) if shown and ind.target else "",
            target_rule=stats.target_rule(**msgspec.structs.asdict(ind.target)) if ind.target else "",
            funnel=funnel["95"][i] if shown else "", funnel_998=funnel["998"][i] if shown else "",
            suppressed=reason is not None, reason=reason or "",
            data_share=_f(den[i] / pop[i]) if reason is None and pop[i] > 0 and ind.measure in ("proportion", "mean", "median", "qaly") else None,
            crude=_f(crude[i]) if shown and crude is not None else None, counts=counts,
        ))
    return out


def _f(x) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def _values(ind, keys, col, ep, tree: UnitTree, chosen):
    """Value, interval and standard deviation of each cell (NaN where there is none)."""
    den, num = col["den"], col["num"]
    nan = np.full(len(den), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if ind.measure in _SHARES:
            value = np.where(den > 0, num / den, np.nan)
            fits = num <= den  # coverage may exceed 1 (more in the registry than in the reference)
            low, high = _share_interval(ind, np.where(fits, num, np.nan), np.where(fits, den, np.nan))
            return value, low, high, nan
        if ind.measure in ("mean", "qaly"):
            value = np.where(den > 0, num / den, np.nan)
            sd = np.sqrt(np.maximum(col["sq"] - num * num / den, 0) / (den - 1))
            low, high = stats.t_interval(value, sd, den)
            return value, low, high, sd
    if ind.measure == "count":
        return num.astype(float), nan, nan, nan
    # median: each cell's values, gathered from the (unit, year) groups it holds
    values = ep.filter(pl.col("val").is_not_null())
    key = values["unit"].to_numpy().astype(np.int64) * 10_000 + values["year"].to_numpy()
    order = np.argsort(key, kind="stable")
    key, array = key[order], values["val"].to_numpy()[order]
    firsts, starts = np.unique(key, return_index=True)
    ends = [*starts[1:], len(key)] if len(key) else []
    where = {(int(k) // 10_000, int(k) % 10_000): (a, b) for k, a, b in zip(firsts, starts, ends, strict=True)}
    years = {label: ys for label, ys in chosen}
    codes = tree.codes()
    triples = []
    for period, cell in keys:
        parts = [array[slice(*where[(codes[u], y)])] for u in tree.subtree(cell) for y in years[period]
                 if (codes[u], y) in where]
        triples.append(stats.median_interval(np.concatenate(parts) if parts else np.empty(0)))
    value, low, high = (np.array(x, dtype=float) for x in zip(*triples, strict=True)) if triples else (nan, nan, nan)
    return value, low, high, nan


def _share_interval(ind, x, n):
    if ind.interval_method() == "clopper-pearson":
        return stats.clopper_pearson(x, n)
    return stats.wilson(x, n)


def _standardised(ind, keys, den, strata: dict[tuple, dict[str, float]]):
    """Direct standardisation to the registry's population of the same period (the national
    cell's strata; an unknown attribute value is a stratum of its own), weights renormalised
    over the strata a unit has. Interval: for a share, the definition's method on the effective
    sample size p(1 − p)/Var (Korn & Graubard 1998, Survey Methodology 24:193); for a mean, t
    with the standardised variance."""
    rate: dict[tuple, tuple[float, float]] = {}  # (period, cell, stratum) → (rate, its variance)
    for key, s in strata.items():
        n = s["den"]
        if n <= 0:
            continue
        r = s["num"] / n
        if ind.measure == "proportion":
            v = r * (1 - r) / n
        else:
            v = max(s["sq"] - s["num"] ** 2 / n, 0.0) / (n - 1) / n if n > 1 else 0.0
        rate[key] = (r, v)
    national: dict[str, dict[int, float]] = defaultdict(dict)
    for (period, cell, stratum), s in strata.items():
        if cell == NATIONAL and s["den"] > 0:
            national[period][stratum] = s["den"]
    by_cell: dict[tuple, list[tuple[float, float, float]]] = defaultdict(list)
    for (period, cell, stratum), (r, v) in rate.items():
        total = math.fsum(national[period].values())
        w = national[period].get(stratum, 0.0) / total if total else 0.0
        by_cell[(period, cell)].append((w, r, v))
    value, var = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    for i, key in enumerate(keys):
        parts = by_cell.get(key)
        ws = math.fsum(w for w, _, _ in parts) if parts else 0.0
        if parts and ws > 0:
            value[i] = math.fsum(w * r for w, r, _ in parts) / ws
            var[i] = math.fsum(w * w * v for w, _, v in parts) / ws ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        if ind.measure == "proportion":
            n_eff = np.where(var > 0, value * (1 - value) / var, den)
            low, high = _share_interval(ind, value * n_eff, n_eff)
        else:
            low, high = stats.t_interval(value, np.sqrt(var * den), den)
    return value, low, high


def _funnel(ind, keys, value, den, sd, national: dict[str, int]) -> dict[str, list[str]]:
    """Funnel status of each cell against the national value of its period ("" for the
    national cell itself, medians and counts)."""
    if ind.measure not in (*_SHARES, "mean", "qaly"):
        return {name: [""] * len(keys) for name in stats.FUNNEL}
    j = np.array([national.get(period, -1) for period, _ in keys])
    other = np.array([unit != NATIONAL for _, unit in keys]) & (j >= 0) & (den > 0)
    target = np.where(other, value[j], np.nan)
    out = {}
    for name, level in stats.FUNNEL.items():
        if ind.measure in _SHARES:
            low, high = stats.binomial_limits(target, np.where(other, den, 1), level)
        else:
            low, high = stats.normal_limits(target, sd[j], den, level)
        out[name] = stats.funnel_status(np.where(other, value, np.nan), low, high)
    return out


def suppress_cells(keys, den, tree: UnitTree, levels, chosen, threshold: int) -> dict[tuple[str, str], str]:
    """Hidden cells (period, unit) with their reasons: the tree's and the pooled periods' relations."""
    present = set(keys)
    relations = []
    for period, _ in chosen:
        parts: dict[str, list] = {}
        for unit in (u for p, u in keys if p == period):
            parent = tree.published_parent(unit, levels)
            if parent is not None:
                parts.setdefault(parent, []).append((period, unit))
        relations += [((period, parent), children) for parent, children in parts.items()]
    for label, years in chosen:
        if len(years) > 1:
            for unit in {u for _, u in keys}:
                part_keys = [(str(y), unit) for y in years]
                if all(k in present for k in part_keys):
                    relations.append(((label, unit), part_keys))
    return suppress(dict(zip(keys, (int(d) for d in den), strict=True)), relations, threshold,
                    describe=lambda k: f"{k[1] or 'national'} {k[0]}")


def method(c: Compiled) -> str:
    """How an indicator's values are computed, in words (stamped on every output)."""
    ind = c.indicator
    words = {"wilson": "95 % Wilson interval", "clopper-pearson": "95 % Clopper–Pearson interval",
             "t": "95 % t interval", "order": "95 % order-statistic interval (Campbell & Gardner)", "": "no interval"}
    text = f"{ind.measure}; {words[ind.interval_method()]}"
    if ind.measure == "qaly":
        assert ind.utility is not None  # the loader checked: a qaly indicator names its utility score
        text += (f"; per episode the area under the {ind.utility.instrument} {ind.utility.score} curve over its time "
                 f"points (trapezoids, years = days / {DAYS_PER_YEAR}, time points before the event at the event), "
                 "minus the baseline utility carried forward; needs the first and the last time point")
    if ind.measure == "response_rate":
        text += (f"; answered ÷ due at {ind.time_point} (window closed by the data date), withdrawn and deceased "
                 "before it closed counted apart")
    by = "event year" if ind.period.by == "event_year" else f"year of the answer at {ind.period.time_point}"
    text += f"; by {by}" + (f", also pooled {ind.period.pooled} years" if ind.period.pooled else "")
    if ind.standardise:
        text += (f"; directly standardised by {' × '.join(ind.standardise.by)} to the registry's population of "
                 "the period (crude value beside)")
    if ind.measure in _SHARES:
        text += "; funnel: exact binomial limits (95 %, 99.8 %) around the national value"
    elif ind.measure in ("mean", "qaly"):
        text += "; funnel: normal limits (95 %, 99.8 %) around the national value"
    return text + f"; suppressed below {ind.threshold()} and where derivable"


def provenance(compiled: list[Compiled], registry: Registry) -> list[str]:
    """What produced the scores the indicators read, per instrument and scoring, as configured."""
    out: set[str] = set()
    for c in compiled:
        for ref in c.needs.scores:
            ins = instruments.get(ref.instrument)
            use = c.protocol.instrument_use(ref.instrument)
            scoring = ins.scoring(ref.scoring) if ref.scoring else ins.scoring(next(iter(use.scorings), None))
            text = f"{ins.id} {ins.version} · {scoring.id} {scoring.version}"
            value_set = scoring_engine.choose_value_set(ins, scoring, use.method, use.country)
            out.add(text + (f" · {value_set.ref.name}" if value_set is not None else ""))
    return sorted(out)
