"""How fast scoring is: the vectorised engine beside the slow reference scorer, and the
`promsvc score` command end to end beside polars reading and writing the same file (and a
plain csv-module + reference script).

Not part of the test suite: it prints figures. See bench/README.md.

    .venv/bin/python bench/bench_scoring.py              # everything (a few minutes: the baselines are slow)
    .venv/bin/python bench/bench_scoring.py --quick      # 100 k rows, baselines on 20 k rows
    .venv/bin/python bench/bench_scoring.py --end-to-end --repeat 5   # only `promsvc score` and its baselines
    .venv/bin/python bench/bench_scoring.py --profile    # also: the command's steps timed one by one
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
# The slow, obviously correct reference scorer of the property tests (tests/ is not a package).
sys.path.insert(0, str(ROOT / "tests" / "property"))

import reference  # noqa: E402
import reference_eq5d  # noqa: E402

import instruments  # noqa: E402
import scoring  # noqa: E402

MISSING = 0.05  # share of empty cells in the random responses
NORWAY = ("EQ-5D-5L", "VT", "Norway")
CASES = [  # (label, instrument, scoring); the EQ-5D index uses the engine's default value set
    ("EQ-5D-5L, Norway VT", "eq5d-5l", None),
    ("RAND-36, rand", "rand36", "rand"),
    ("RAND-36, sf36v1", "rand36", "sf36v1"),
]
TARGETS = {"eq5d-5l": 10e6, "rand36": 2e6}  # in-process responses/s on the 2-core bench machine
# End to end on 1 M rows (issue 14): RAND-36 in <= 1 s and <= 500 MB; EQ-5D-5L no slower than
# the command was before (0.69 s on the bench machine).
CLI_TARGETS = {"rand36": (1.0, 500e6), "eq5d-5l": (0.69, 500e6)}


# ---------------------------------------------------------------------------------------------
# Data


def random_answers(ins, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every item: a random code of the item, or NaN (missing) with probability MISSING."""
    answers = {}
    for item in ins.items:
        codes = np.asarray(ins.codes_of(item), dtype=np.float64)
        column = codes[rng.integers(0, len(codes), size=rows)]
        column[rng.random(rows) < MISSING] = np.nan
        answers[item.id] = column
    return answers


def as_rows(answers: dict[str, np.ndarray], rows: int) -> list[dict[str, int | None]]:
    """The same answers one response at a time, as the reference scorer takes them."""
    columns = {k: [None if np.isnan(v) else int(v) for v in col[:rows]] for k, col in answers.items()}
    return [{k: columns[k][n] for k in columns} for n in range(rows)]


def write_csv(answers: dict[str, np.ndarray], path: Path) -> None:
    """A file as a registry would send it: a pseudonym column, then the item columns."""
    rows = len(next(iter(answers.values())))
    columns = {"pseudonym": pl.Series([f"P{n:08d}" for n in range(rows)])}
    for item, values in answers.items():
        # whole codes as text ("3", not "3.0"); NaN → null → an empty cell
        columns[item] = pl.Series(values).fill_nan(None).cast(pl.Int64).cast(pl.String)
    pl.DataFrame(columns).write_csv(path)


def reference_index(state: str) -> float:
    return reference_eq5d.reference_index(*NORWAY, state)


# ---------------------------------------------------------------------------------------------
# Measurements


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def engine_rate(ins, scoring_id, answers, rows: int) -> float:
    scoring.score(ins, answers, scoring=scoring_id)  # warm: value set built, tables cached
    return rows / best_of(3, lambda: scoring.score(ins, answers, scoring=scoring_id))


def reference_rate(ins, scoring_id, rows_list) -> tuple[float, list[dict]]:
    index = reference_index if ins.id.startswith("eq5d") else None
    out: list[dict] = []
    start = time.perf_counter()
    for row in rows_list:
        out.append(reference.reference_score(ins, row, scoring_id, index))
    return len(rows_list) / (time.perf_counter() - start), out


def largest_difference(fast: dict[str, np.ndarray], slow: list[dict]) -> float:
    """Largest |fast − reference| over every score of the subset (both missing counts as equal)."""
    worst = 0.0
    for key, column in fast.items():
        for n, expected in enumerate(slow):
            got, want = column[n], expected[key]
            if want is None or (isinstance(got, float) and np.isnan(got)):
                if not (want is None and np.isnan(got)):
                    return float("inf")
                continue
            worst = max(worst, abs(got - want))
    return worst


# Runs one command and reports its wall time and peak RSS. It runs in a small process of its own
# because a child forked from this (large) benchmark process would count the pages it shares
# with it in its ru_maxrss until it execs.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = usage.ru_maxrss * 1024  # KiB on Linux
print(json.dumps([seconds, peak, done.returncode, usage.ru_utime + usage.ru_stime, done.stderr.decode()]))
"""


def run_child(args: list[str]) -> tuple[float, int, int, float]:
    """Run a command; (wall seconds, peak RSS in bytes, exit status, CPU seconds of all its threads)."""
    measured = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True, text=True, check=True)
    seconds, peak, status, cpu, err = json.loads(measured.stdout)
    if status != 0:
        print(err, file=sys.stderr)
    return seconds, peak, status, cpu


def promsvc_command() -> list[str]:
    script = Path(sys.executable).with_name("promsvc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "promsvc"]


# ---------------------------------------------------------------------------------------------
# The baseline: what a careful script without promsvc would do (run as a child process)


def baseline(instrument_id: str, scoring_id: str | None, source: str, target: str, limit: int | None) -> None:
    ins = instruments.get(instrument_id)
    index = reference_index if ins.id.startswith("eq5d") else None
    items = {item.id for item in ins.items}
    with open(source, newline="", encoding="utf-8") as f_in, open(target, "w", newline="", encoding="utf-8") as f_out:
        reader, writer = csv.reader(f_in), csv.writer(f_out)
        header = next(reader)
        scores = None
        for n, cells in enumerate(reader):
            if limit is not None and n >= limit:
                break
            row = {k: (int(v) if v.strip() else None) for k, v in zip(header, cells, strict=True) if k in items}
            result = reference.reference_score(ins, row, scoring_id, index)
            if scores is None:
                scores = list(result)
                writer.writerow(header + scores)
            writer.writerow(cells + ["" if result[k] is None else repr(result[k]) for k in scores])


# ---------------------------------------------------------------------------------------------


def fmt_rate(rate: float) -> str:
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:.1f} k/s"


def table(rows: list[list[str]]) -> None:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def in_process(rows: int, reference_rows: int, rng) -> None:
    print(f"\nIn process: {rows:,} random responses ({MISSING:.0%} of cells empty); reference on {reference_rows:,} of them\n")
    out = [["scoring", "engine", "reference", "speed-up", "target", "max |fast − ref|"]]
    for label, instrument_id, scoring_id in CASES:
        ins = instruments.get(instrument_id)
        answers = random_answers(ins, rows, rng)
        fast = engine_rate(ins, scoring_id, answers, rows)
        subset = {k: v[:reference_rows] for k, v in answers.items()}
        slow, expected = reference_rate(ins, scoring_id, as_rows(answers, reference_rows))
        diff = largest_difference(scoring.score(ins, subset, scoring=scoring_id).scores, expected)
        target = TARGETS[instrument_id]
        mark = "ok" if fast >= target else "MISSED"
        out.append([label, fmt_rate(fast), fmt_rate(slow), f"{fast / slow:,.0f}×", f"≥ {fmt_rate(target)} {mark}", f"{diff:.1e}"])
    table(out)


def end_to_end(rows: int, baseline_rows: int | None, repeat: int, rng, folder: Path) -> None:
    shown = f"{baseline_rows:,} rows" if baseline_rows else "the whole file"
    print(f"\nEnd to end: `promsvc score` on a {rows:,}-row CSV (pseudonym + items), as a child process, {repeat} time(s)\n"
          f"in turn with the baseline polars reading and writing the same file (best, and the range; CPU: user +\n"
          f"system seconds of all threads, which a busy machine disturbs less than wall time);\n"
          f"then Python's csv module + the reference scorer on {shown}, once\n")
    out = [["file", "run", "rows", "wall best", "wall range", "× polars", "CPU best", "× polars", "peak RSS",
            "target (1 M rows)"]]
    for _, instrument_id, scoring_id in [CASES[0], CASES[1]]:
        ins = instruments.get(instrument_id)
        source = folder / f"{instrument_id}.csv"
        write_csv(random_answers(ins, rows, rng), source)
        size = source.stat().st_size / 1e6
        command = [*promsvc_command(), "score", instrument_id, str(source), "-o", str(folder / "out.csv")]
        if scoring_id:
            command += ["--scoring", scoring_id]
        polars = [sys.executable, "-c", _POLARS, str(source), str(folder / "polars.csv")]
        runs: dict[str, list[tuple[float, int, int, float]]] = {"promsvc": [], "polars": []}
        for _ in range(repeat):
            runs["promsvc"].append(run_child(command))
            runs["polars"].append(run_child(polars))
        best = {k: min(v) for k, v in runs.items()}
        cpu = {k: min(r[3] for r in v) for k, v in runs.items()}
        seconds, peak, status, _ = best["promsvc"]
        ok = status == 0 and all(r[2] == 0 for r in runs["promsvc"])
        limit_s, limit_b = CLI_TARGETS[instrument_id]
        mark = "ok" if ok and seconds <= limit_s and max(r[1] for r in runs["promsvc"]) <= limit_b else "MISSED"
        target = f"≤ {limit_s:g} s, ≤ {limit_b / 1e6:.0f} MB {mark}" if rows == 1_000_000 else ""
        for run, name in [("promsvc", f"{instrument_id} ({size:.0f} MB)"), ("polars", "")]:
            times = [r[0] for r in runs[run]]
            out.append([name, "promsvc score" if run == "promsvc" else "polars read + write", f"{rows:,}",
                        f"{min(times):.2f} s", f"{min(times):.2f}–{max(times):.2f} s",
                        f"{min(times) / best['polars'][0]:.2f}", f"{cpu[run]:.2f} s", f"{cpu[run] / cpu['polars']:.2f}",
                        f"{max(r[1] for r in runs[run]) / 1e6:.0f} MB",
                        target if run == "promsvc" else ""])
        limit = baseline_rows or rows
        base = [sys.executable, __file__, "--baseline", instrument_id, str(source), str(folder / "base.csv")]
        base += ["--baseline-scoring", scoring_id or "", "--baseline-limit", str(limit)]
        seconds_b, peak_b, _, cpu_b = run_child(base)
        out.append(["", "csv + reference", f"{limit:,}", f"{seconds_b:.2f} s", "", "", f"{cpu_b:.2f} s", "",
                    f"{peak_b / 1e6:.0f} MB", ""])
    table(out)


# The baseline the command is held against: polars reading a file and writing it back.
_POLARS = "import sys, polars; polars.read_csv(sys.argv[1]).write_csv(sys.argv[2])"


def start_up(folder: Path) -> None:
    print("\nStart-up (child processes, best of 3)\n")
    header_only = folder / "header.csv"
    header_only.write_text("pseudonym,MO,SC,UA,PD,AD\n")
    probes = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import polars", [sys.executable, "-c", "import polars"]),
        ("import promsvc.commands.scorecsv (polars, numpy, engine)", [sys.executable, "-c", "import promsvc.commands.scorecsv"]),
        ("import instruments (msgspec, yaml)", [sys.executable, "-c", "import instruments"]),
        ("… and load one definition (what `score` does)",
         [sys.executable, "-c", f"import instruments; instruments.load({str(ROOT / 'instruments/definitions/eq5d-5l.yaml')!r})"]),
        ("… and load every definition (catalogue())", [sys.executable, "-c", "import instruments; instruments.catalogue()"]),
        ("promsvc instruments list", [*promsvc_command(), "instruments", "list"]),
        ("promsvc score eq5d-5l <header-only file>", [*promsvc_command(), "score", "eq5d-5l", str(header_only)]),
    ]
    out = [["what", "wall"]]
    for label, command in probes:
        out.append([label, f"{min(run_child(command)[0] for _ in range(3)) * 1000:.0f} ms"])
    table(out)


def stages(rows: int, rng, folder: Path) -> None:
    """Where `promsvc score` spends its time: its steps timed one by one, in process."""
    from promsvc.commands import scorecsv

    print(f"\nWhere the time goes: the steps of `promsvc score` on {rows:,} rows, in process "
          "(after imports; start-up is above);\nwall seconds / CPU seconds (user + system, all threads)\n")
    out = [["file", "read + parse cells", "check items", "engine columns", "engine + clean", "write", "total"]]
    for label, instrument_id, scoring_id in [CASES[0], CASES[1], CASES[2]]:
        ins = instruments.get(instrument_id)
        source = folder / f"stages-{instrument_id}.csv"
        write_csv(random_answers(ins, rows, rng), source)
        request = scorecsv.Request(instrument_id, str(source), str(folder / "out.csv"), scoring=scoring_id)
        times = _timed_steps(ins, scoring_id, source, request)
        total = (sum(t[0] for t in times), sum(t[1] for t in times))
        out.append([label, *(f"{w:.2f} / {c:.2f} s" for w, c in [*times, total])])
    table(out)


def _timed_steps(ins, scoring_id: str | None, source: Path, request) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each step of `promsvc score` (scorecsv.run without its checks of names)."""
    from promsvc import csvio
    from promsvc.commands import scorecsv

    times: list[tuple[float, float]] = []
    mark = [time.perf_counter(), time.process_time()]

    def lap() -> None:
        now = [time.perf_counter(), time.process_time()]
        times.append((now[0] - mark[0], now[1] - mark[1]))
        mark[:] = now

    tab = csvio.read(source, numbers=[item.id for item in ins.items])
    lap()
    answers = scorecsv._numeric_answers(ins, tab)
    lap()
    scorecsv._engine_columns(answers)  # done again inside the next step: shown apart
    lap()
    scores, _ = scorecsv._score_in_chunks(ins, request, answers, tab, io.StringIO())
    lap()
    times[-1] = (times[-1][0] - times[-2][0], times[-1][1] - times[-2][1])
    names = scorecsv.output_columns(ins, scoring_id)
    columns = pl.DataFrame([*(scorecsv._as_written(answers[i]) for i in answers.columns),
                            *(column.alias(names[i]) for i, column in scores.items())])
    csvio.write(tab, columns, request.output, stdout=None, float_precision=None)
    lap()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="Scoring benchmarks (prints figures; not a test).")
    parser.add_argument("--rows", type=int, default=1_000_000, help="responses per measurement (default 1,000,000)")
    parser.add_argument("--reference-rows", type=int, default=20_000, help="rows for the slow reference in process (default 20,000)")
    parser.add_argument("--baseline-rows", type=int, help="rows for the end-to-end baseline (default: the whole file)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows; baselines on 20,000 rows")
    parser.add_argument("--profile", action="store_true", help="also time the steps of the command in process")
    parser.add_argument("--end-to-end", action="store_true", help="only the end-to-end table")
    parser.add_argument("--repeat", type=int, default=3, help="end-to-end runs of each command, in turn (default 3)")
    parser.add_argument("--baseline", nargs=3, metavar=("INSTRUMENT", "IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--baseline-scoring", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        baseline(*args.baseline[:1], args.baseline_scoring or None, *args.baseline[1:], args.baseline_limit)
        return
    if args.quick:
        args.rows, args.baseline_rows = 100_000, 20_000

    print(f"promsvc scoring benchmark · Python {sys.version.split()[0]} · numpy {np.__version__} · "
          f"polars {pl.__version__} · {os.cpu_count()} CPU(s) · load average {os.getloadavg()[0]:.1f} at the start")
    rng = np.random.default_rng(20261124)
    with tempfile.TemporaryDirectory(prefix="promsvc-bench-") as tmp:
        folder = Path(tmp)
        if not args.end_to_end:
            in_process(args.rows, args.reference_rows, rng)
        end_to_end(args.rows, args.baseline_rows, args.repeat, rng, folder)
        if not args.end_to_end:
            start_up(folder)
        if args.profile:
            stages(args.rows, rng, folder)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other processes on this machine share its CPUs)")


if __name__ == "__main__":
    main()
