"""How long a registry's results report takes, beside the time to compute its indicators.

A synthetic registry like the demo registry but with 60 hospitals (4 regional health
authorities × 3 health trusts × 5 hospitals; every sixth with an orthopaedic department), the
demo's indicators, and a random episode frame
of EPISODES episodes over five years (plausible statuses, attributes and scores; see `frame`).
Measured in one run, each the best of REPEAT:

  compute    the indicator engine over the frame (every indicator, level and period): the baseline
  summarise  the score summaries of the distribution charts
  report     the registry report PDF in bokmål (every indicator, all units; target: < 10 s)
  unit       one hospital's report PDF
  page       the registry's result page (HTML with inline SVG)

    .venv/bin/python bench/bench_reports.py [--episodes N] [--repeat R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from importlib import resources

import msgspec
import numpy as np
import polars as pl
import yaml

from promsvc.indicators import engine, loader
from promsvc.indicators.frame import attribute_column, score_column, time_point_column
from promsvc.registries import loader as registry_loader
from promsvc.registries.schema import Unit
from promsvc.reports import documents, pages, publication, publish
from promsvc.reports.published import Index
from promsvc.settings import Settings

YEARS = 5
FIRST_YEAR = 2021
AS_OF = dt.date(2026, 6, 1)


def registry_with_60_hospitals():
    demo = registry_loader.load_all(Settings())["demo"]
    n = 0
    rhfs = []
    for r in range(4):
        hfs = []
        for h in range(3):
            hospitals = []
            for _ in range(5):
                n += 1
                departments = [Unit(id=f"department-{n:02d}", name=f"Ortopedisk avdeling, sykehus nummer {n}",
                                    level="department", org_number=f"{940000000 + n}")] if n % 6 == 0 else []
                hospitals.append(Unit(id=f"hospital-{n:02d}", name=f"Sykehus nummer {n} (syntetisk)", level="hospital",
                                      org_number=f"{910000000 + n}", children=departments))
            hfs.append(Unit(id=f"hf-{r}-{h}", name=f"Helseforetak {r}.{h}", level="hf", org_number=f"{920000000 + 10 * r + h}",
                            children=hospitals))
        rhfs.append(Unit(id=f"rhf-{r}", name=f"Regionalt helseforetak {r}", level="rhf", org_number=f"{930000000 + r}", children=hfs))
    return msgspec.structs.replace(demo, units=rhfs)


def indicators(registry):
    """The demo's indicators for `registry`; the coverage indicator only where its reference
    counts name the registry's units (the demo's own)."""
    where = resources.files("promsvc.registries")
    with resources.as_file(where.joinpath("demo.indicators.yaml")) as path:
        data = yaml.safe_load(path.read_bytes())
        if "fjord-sentral" not in registry.unit_ids():
            data["indicators"] = [i for i in data["indicators"] if "reference" not in i]
        return loader.decode(yaml.safe_dump(data).encode(), "demo.indicators.yaml", {"demo": registry}, path.parent)


def frame(registry, needs, n: int, seed: int = 1) -> pl.DataFrame:
    """n random episodes holding every column `needs` asks for: attributes from their declared
    values, each time point answered by ~75 % (completed, submitted in its window), scores
    uniform over a plausible range (EQ-5D index −0.2–1, others 0–100) and better after surgery."""
    rng = np.random.default_rng(seed)
    protocol = registry.protocol(needs.protocol)
    hospitals = [u.id for u in _units(registry.units) if u.level in ("hospital", "department")]
    start = np.datetime64(f"{FIRST_YEAR}-01-01")
    event = start + rng.integers(0, 365 * YEARS, n).astype("timedelta64[D]")
    midnight = event.astype("datetime64[us]")

    def utc(values):
        return pl.Series(values).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")

    cols = {
        "episode": [f"e{i}" for i in range(n)],
        "unit": rng.choice(hospitals, n),
        "protocol": [protocol.id] * n,
        "event_date": pl.Series(event).cast(pl.Date),
        "withdrawn_at": utc(np.where(rng.random(n) < 0.02, midnight + np.timedelta64(30, "D"), np.datetime64("NaT"))),
        "deceased_at": utc(np.where(rng.random(n) < 0.01, midnight + np.timedelta64(200, "D"), np.datetime64("NaT"))),
    }
    declared = {a.id: a for a in protocol.attributes}
    for attribute in needs.attributes:
        a = declared[attribute]
        if a.kind == "category":
            values = rng.choice(a.values, n, p=None if attribute != "urgency" else [0.9, 0.1])
        elif a.kind == "integer":
            values = rng.integers(a.min or 0, (a.max or 10) + 1, n)
        elif a.kind == "boolean":
            values = rng.random(n) < 0.1
        else:
            values = pl.Series(event).cast(pl.Date)
        cols[attribute_column(attribute)] = values
    answered = {}
    for tp in protocol.time_points:
        due = midnight + np.timedelta64(tp.offset.days, "D")
        expires = due + np.timedelta64(tp.window.days, "D")
        done = rng.random(n) < 0.75
        answered[tp.id] = done
        cols[time_point_column(tp.id, "status")] = np.where(done, "completed", "expired")
        cols[time_point_column(tp.id, "due_at")] = utc(due)
        cols[time_point_column(tp.id, "expires_at")] = utc(expires)
        cols[time_point_column(tp.id, "submitted_at")] = utc(np.where(done, due + np.timedelta64(3, "D"), np.datetime64("NaT")))
    for ref in needs.scores:
        low, high = (-0.2, 1.0) if ref.score == "index" else (0.0, 100.0)
        gain = 0.0 if ref.time_point == protocol.time_points[0].id else 0.25 * (high - low)
        values = np.clip(rng.uniform(low, high - 0.3 * (high - low), n) + gain, low, high)
        cols[score_column(ref)] = pl.Series(np.where(answered[ref.time_point], values, np.nan)).fill_nan(None)
    return pl.DataFrame(cols)


def _units(units):
    for u in units:
        yield u
        yield from _units(u.children)


CPU: dict[str, float] = {}  # the process's CPU seconds of each best run: on a shared machine, wall time waits too


def best(repeat: int, fn, name: str = ""):
    times, out = [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(times)
    CPU[name] = cpu
    return wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    registry = registry_with_60_hospitals()
    iset = indicators(registry)
    needs = publish.needs(iset, registry)
    frames = {p: frame(registry, n, args.episodes) for p, n in needs.items()}
    now = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    options = engine.Options(as_of=AS_OF, computed_at=now)

    t_compute, results = best(args.repeat, lambda: engine.compute(frames, iset, registry, options), "compute")
    t_publish, pub = best(args.repeat, lambda: publish.compute(frames, iset, registry, as_of=AS_OF, now=now), "publish")
    ix = Index(pub, registry)
    t_report, pdf = best(args.repeat, lambda: documents.registry_report(ix, "nb"), "report")
    t_unit, unit_pdf = best(args.repeat, lambda: documents.unit_report(ix, "hospital-07", "nb"), "unit")
    t_page, html = best(args.repeat, lambda: pages.render("results.html", **pages.page(
        ix, lang="nb", query="", period=None, unit=None, published="bench")), "page")
    size = len(publication._encoder.encode(pub))

    cells = len(results.results)
    print(f"registry: 60 hospitals, {len(iset.indicators)} indicators, {args.episodes:,} episodes over {YEARS} years; "
          f"{cells:,} result cells; publication {size / 1e6:.1f} MB; best of {args.repeat}")
    print("                                  wall    CPU")
    print(f"  compute indicators (baseline)  {t_compute:6.2f} {CPU['compute']:6.2f} s")
    print(f"  + score summaries (publish)    {t_publish:6.2f} {CPU['publish']:6.2f} s")
    print(f"  registry report PDF            {t_report:6.2f} {CPU['report']:6.2f} s   "
          f"{pdf.count(b'/Type /Page') - pdf.count(b'/Type /Pages')} pages, {len(pdf) / 1e6:.1f} MB   "
          f"({t_report / t_compute:.1f} × compute; target < 10 s)")
    print(f"  unit report PDF                {t_unit:6.2f} {CPU['unit']:6.2f} s   {len(unit_pdf) / 1e3:.0f} kB")
    print(f"  registry result page           {t_page:6.2f} {CPU['page']:6.2f} s   {len(html) / 1e3:.0f} kB HTML")


if __name__ == "__main__":
    main()
