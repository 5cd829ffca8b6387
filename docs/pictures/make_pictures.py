"""Draw the pictures of docs/reports.md: one PNG of each chart kind, from the demo registry's
indicators computed by the engine over a random cohort (bench/bench_reports.py's generator).

    .venv/bin/python docs/pictures/make_pictures.py     (needs pdftoppm, from poppler-utils)
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from reportlab.graphics import renderPDF

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "bench"))

import bench_reports  # noqa: E402

from promsvc.indicators.results import NATIONAL  # noqa: E402
from promsvc.registries import loader as registry_loader  # noqa: E402
from promsvc.reports import charts, distributions, drawing, publish  # noqa: E402
from promsvc.reports.published import Index  # noqa: E402
from promsvc.reports.texts import Words  # noqa: E402
from promsvc.settings import Settings  # noqa: E402


def main() -> None:
    registry = registry_loader.load_all(Settings())["demo"]
    iset = bench_reports.indicators(registry)
    frames = {p: bench_reports.frame(registry, n, 6000, seed=7) for p, n in publish.needs(iset, registry).items()}
    pub = publish.compute(frames, iset, registry, as_of=dt.date(2026, 6, 1), now=dt.datetime(2026, 6, 2, tzinfo=dt.UTC))
    ix = Index(pub, registry)
    w = Words("nb")
    period = "2025"  # the newest year with every time point answered
    pictures = {
        "chart-units": charts.unit_bars(ix, "eq5d-improved-m12", period, w),
        "chart-units-lower": charts.unit_bars(ix, "rand36-pf-change", period, w),
        "chart-funnel": charts.funnel(ix, "eq5d-improved-m12", period, w),
        "chart-trend": charts.trend(ix, "eq5d-improved-m12", w, units=["dal-universitet", "hf-dal", NATIONAL]),
        "chart-response": charts.response_rates(ix, period, w),
    }
    boxes = distributions.charts(ix, NATIONAL, w)
    pictures["chart-distribution"] = next(b for b in boxes if not b.zero_line and len(b.groups) > 1)
    pictures["chart-change"] = next(b for b in boxes if b.zero_line)
    with tempfile.TemporaryDirectory() as tmp:
        for name, chart in pictures.items():
            pdf = Path(tmp) / f"{name}.pdf"
            renderPDF.drawToFile(drawing.draw(chart, w, titled=True), str(pdf))
            subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(HERE / name)], check=True)
            print(HERE / f"{name}.png")


if __name__ == "__main__":
    main()
