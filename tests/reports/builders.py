"""A publication made by hand for the reports' tests: the demo registry's units, five years,
suppressed cells (small and complementary), a unit without data, an indicator without target,
response rates per time point, coverage and score summaries. Numbers are made up but
consistent (children add up to parents; intervals are Wilson or t-like)."""

from __future__ import annotations

import datetime as dt
import math
import random

from instruments.schema import Text
from promsvc.indicators import stats
from promsvc.indicators.results import NATIONAL, DefinitionStamp, Result, ResultSet
from promsvc.indicators.schema import Indicator, Target
from promsvc.registries import loader
from promsvc.registries.schema import Registry
from promsvc.reports.published import Publication, Summary
from promsvc.settings import Settings

YEARS = ["2021", "2022", "2023", "2024", "2025"]
SMALL_UNIT = "dal-fjell"  # always fewer than 10 episodes
EMPTY_UNIT = "fjord-sentral-ortopedi"  # a department without data in the newest year


def demo_registry() -> Registry:
    return loader.load_all(Settings())["demo"]


def _text(en: str, nb: str | None = None) -> Text:
    return Text(nb=nb or en, nn=nb or en, en=en)


def definition(id: str, measure: str, **kw) -> Indicator:
    base = dict(
        id=id, version=kw.pop("version", 1), approved=dt.date(2024, 1, 15), title=_text(kw.pop("title", id)),
        description=_text(f"What {id} measures"), clinical_field=_text(kw.pop("field", "Hip replacement"), kw.pop("field_nb", "Hofteprotese")),
        dimension=kw.pop("dimension", "effective"), type=kw.pop("type", "outcome"), area="quality of life",
        rationale="Because it matters", protocol="hip_primary", measure=measure,
        unit_of_measure=kw.pop("unit_of_measure", "percent"), data_source="PROMs in promsvc",
        levels=["national", "rhf", "hf", "hospital", "department"],
    )
    base.update(kw)
    return Indicator(**base)


DEFINITIONS = [
    definition("eq5d_mid", "proportion", title="EQ-5D index improved by the MID at 12 months",
               numerator="post - pre >= 0.074", denominator="pre IS NOT NULL AND post IS NOT NULL",
               target=Target(direction="higher", green=0.7, yellow=0.5)),
    definition("pf_change", "mean", title="Mean change in physical functioning", unit_of_measure="points",
               value="pf12 - pf0"),
    definition("resp_baseline", "response_rate", title="Response rate before surgery", time_point="baseline",
               dimension="user_involving", type="process", target=Target(direction="higher", green=0.8, yellow=0.6)),
    definition("resp_m12", "response_rate", title="Response rate at 12 months", time_point="m12",
               dimension="user_involving", type="process", target=Target(direction="higher", green=0.8, yellow=0.6)),
    definition("reop", "proportion", title="Reoperation within a year", target=Target(direction="lower", green=0.05, yellow=0.1),
               dimension="safe", field="Complications", field_nb="Komplikasjoner", numerator="reop"),
    definition("coverage", "coverage", title="Coverage", dimension="accessible", type="structure"),
]


def wilson(k: float, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _leaves(registry: Registry) -> list[str]:
    out, stack = [], list(registry.units)
    while stack:
        u = stack.pop()
        stack.extend(u.children)
        out.append(u)
    return out


def publication(seed: int = 1, registry: Registry | None = None) -> Publication:
    rng = random.Random(seed)
    registry = registry or demo_registry()
    units = _leaves(registry)
    by_id = {u.id: u for u in units}
    results: list[Result] = []
    for d in DEFINITIONS:
        base = {"eq5d_mid": 0.68, "pf_change": 25.0, "resp_baseline": 0.85, "resp_m12": 0.66, "reop": 0.06, "coverage": 0.8}[d.id]
        for year in YEARS:
            # own counts of every unit (a hospital's own = its episodes outside its departments)
            own = {}
            for u in units:
                n = 0 if (u.level in ("rhf", "hf")) else rng.randint(20, 160)
                if u.id == SMALL_UNIT:
                    n = rng.randint(3, 8)
                if u.id == EMPTY_UNIT and year == YEARS[-1]:
                    n = 0
                p = min(0.98, max(0.02, base + rng.uniform(-0.15, 0.15))) if d.measure != "mean" else base + rng.uniform(-8, 8)
                k = round(n * p) if d.measure != "mean" else p * n
                own[u.id] = (k, n)
            total = {}
            def add(uid, own=own, total=total):  # called at once, inside this loop
                k, n = own[uid]
                for c in by_id[uid].children:
                    ck, cn = add(c.id, own, total)
                    k, n = k + ck, n + cn
                total[uid] = (k, n)
                return k, n
            nk = nn = 0
            for top in registry.units:
                k, n = add(top.id)
                nk, nn = nk + k, nn + n
            total[NATIONAL] = (nk, nn)
            for uid, (k, n) in total.items():
                level = "national" if uid == NATIONAL else by_id[uid].level
                orgnr = "" if uid == NATIONAL else (by_id[uid].org_number or "")
                if n == 0:
                    results.append(Result(indicator=d.id, version=d.version, measure=d.measure, period=year, level=level,
                                          unit=uid, orgnr=orgnr, numerator=None, denominator=0, value=None))
                    continue
                small = n < d.min_denominator
                complementary = uid == "dal-elvebredd" and total.get(SMALL_UNIT, (0, 0))[1] > 0 and year == "2024"
                if small or complementary:
                    reason = f"denominator {n} < {d.min_denominator}" if small else f"complementary: {SMALL_UNIT}"
                    results.append(Result(indicator=d.id, version=d.version, measure=d.measure, period=year, level=level,
                                          unit=uid, orgnr=orgnr, numerator=k, denominator=n, value=None,
                                          suppressed=True, reason=reason))
                    continue
                value = k / n
                if d.measure == "mean":
                    lo, hi = value - 2.0 * 18 / math.sqrt(n), value + 2.0 * 18 / math.sqrt(n)
                    interval = "t"
                else:
                    lo, hi = wilson(k, n)
                    interval = "wilson"
                level_word = ""
                if d.target is not None:
                    t = d.target
                    yellow = t.yellow if t.yellow is not None else t.green
                    if (t.direction == "higher" and value >= t.green) or (t.direction == "lower" and value <= t.green):
                        level_word = "high"
                    elif (t.direction == "higher" and value < yellow) or (t.direction == "lower" and value > yellow):
                        level_word = "low"
                    else:
                        level_word = "moderate"
                funnel = funnel_998 = ""
                if d.measure != "mean" and uid != NATIONAL:
                    p0 = total[NATIONAL][0] / total[NATIONAL][1]
                    funnel, funnel_998 = (stats.funnel_status([value], *stats.binomial_limits(p0, [n], level))[0]
                                          for level in (0.95, 0.998))
                results.append(Result(indicator=d.id, version=d.version, measure=d.measure, period=year, level=level,
                                      unit=uid, orgnr=orgnr, numerator=k, denominator=n, value=value, ci_low=lo, ci_high=hi,
                                      interval=interval, target_level=level_word, funnel=funnel, funnel_998=funnel_998,
                                      data_share=0.9 if d.measure != "response_rate" else None))
    summaries = []
    for year in YEARS[-2:]:
        for unit in [NATIONAL, "fjord-sentral", "dal-universitet"]:
            for tp, shift in (("baseline", 0.0), ("m3", 0.2), ("m12", 0.25)):
                summaries.append(Summary(period=year, unit=unit, time_point=tp, instrument="eq5d-5l", score="index",
                                         n=120, mean=0.6 + shift, p10=0.3 + shift, p25=0.5 + shift, p50=0.62 + shift,
                                         p75=0.7 + shift / 2, p90=0.78 + shift / 4))
                if tp != "baseline":
                    summaries.append(Summary(period=year, unit=unit, time_point=tp, instrument="eq5d-5l", score="index",
                                             change_from="baseline", n=110, mean=shift, p10=-0.1, p25=0.05, p50=shift,
                                             p75=shift + 0.1, p90=shift + 0.2))
                for scale, level in (("pf", 40), ("bp", 35), ("mh", 70)):
                    summaries.append(Summary(period=year, unit=unit, time_point=tp, instrument="rand36", score=scale,
                                             n=118, mean=level + 100 * shift, p10=level - 25 + 80 * shift, p25=level - 10 + 100 * shift,
                                             p50=level + 100 * shift, p75=min(100, level + 15 + 100 * shift), p90=min(100, level + 30 + 100 * shift)))
    rs = ResultSet(
        registry=registry.id, computed_at=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC), data_until=dt.date(2026, 2, 28),
        source="database", definitions=[DefinitionStamp(d.id, d.version, d.approved) for d in DEFINITIONS],
        provenance=["eq5d-5l 1 · index 1 · EQ-5D-5L · VT · Norway", "rand36 1 · rand 1"], results=results,
    )
    return Publication(registry=registry.id, published_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC),
                       results=rs, definitions=DEFINITIONS, summaries=summaries)
