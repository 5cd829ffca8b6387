"""Load and check indicator files: `{registry id}.indicators.yaml` beside the registry file.

Decoding is strict (promsvc.indicators.schema); `problems` then checks everything that spans
fields or files, and reports every problem as `at PATH: what; how to fix it`: formulas (unknown
variables, type errors), variables against the registry's protocol (time points, instruments,
scorings, scores, attributes), what each measure needs, intervals, targets (direction and
levels, as the national portal checks them), publication levels, periods, standardisation and
coverage reference files. The service refuses to start while an indicator file has a problem;
`promsvc indicators check [FILE…]` runs the same checks.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import msgspec

from instruments import yamlfile
from promsvc.indicators.definitions import Compiled, DefinitionError, compile_indicator
from promsvc.indicators.results import NATIONAL
from promsvc.indicators.schema import DEFAULT_INTERVAL, Indicator, IndicatorFile
from promsvc.indicators.tree import UnitTree
from promsvc.registries.loader import DEMO_FILE
from promsvc.registries.schema import Registry
from promsvc.settings import Settings

SUFFIX = ".indicators.yaml"
DEMO = DEMO_FILE.removesuffix(".yaml") + SUFFIX

_NEEDS = {  # measure: (fields it needs, fields it must not have)
    "proportion": (("numerator",), ("value", "time_point", "utility", "reference")),
    "mean": (("value",), ("numerator", "denominator", "time_point", "utility", "reference")),
    "median": (("value",), ("numerator", "denominator", "time_point", "utility", "reference")),
    "count": ((), ("denominator", "value", "time_point", "utility", "reference")),
    "response_rate": (("time_point",), ("numerator", "denominator", "value", "utility", "reference")),
    "coverage": (("reference",), ("numerator", "denominator", "value", "time_point", "utility")),
    "qaly": (("utility",), ("numerator", "denominator", "value", "time_point", "reference")),
}
_INTERVALS = {"wilson": "proportion", "clopper-pearson": "proportion", "t": "mean", "order": "median"}
_SHARES = ("proportion", "response_rate", "coverage")


class IndicatorError(Exception):
    """An indicator file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[str]):
        self.file, self.problems = file, problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


class Reference(msgspec.Struct, frozen=True):
    """One row of a coverage reference file: how many patients a unit treated in a year."""

    unit: str
    year: int
    count: int


class IndicatorSet(msgspec.Struct, frozen=True, kw_only=True):
    """A registry's checked indicators, ready to compute."""

    registry: str
    file: str
    compiled: list[Compiled]
    references: dict[str, list[Reference]]  # coverage indicator id → its reference counts

    @property
    def indicators(self) -> list[Indicator]:
        return [c.indicator for c in self.compiled]


def path_beside(registry_file: str | Path, registry_id: str) -> Path:
    return Path(registry_file).parent / f"{registry_id}{SUFFIX}"


def decode(data: bytes, file: str, registries: dict[str, Registry], base: Path) -> IndicatorSet:
    """Decode and check one indicator file; IndicatorError names the file and every path."""
    ifile = yamlfile.decode(data, IndicatorFile, file, IndicatorError, _hinted)
    registry = registries.get(ifile.registry)
    if registry is None:
        raise IndicatorError(file, [f"at $.registry: no registry {ifile.registry!r} is loaded; "
                                    f"known: {', '.join(sorted(registries)) or 'none'}"])
    found, compiled, references = problems(ifile, registry, base)
    if found:
        raise IndicatorError(file, found)
    return IndicatorSet(registry=registry.id, file=file, compiled=compiled, references=references)


def _hinted(problem: str) -> str:
    if "unknown field" in problem:
        return problem + "; remove it or correct its spelling (keys: promsvc/indicators/schema.py, docs/indicators.md)"
    return problem


def load(path: str | Path, registries: dict[str, Registry]) -> IndicatorSet:
    path = Path(path)
    return decode(yamlfile.read_bytes(path, IndicatorError), str(path), registries, path.parent)


def demo(registries: dict[str, Registry]) -> IndicatorSet:
    """The demo registry's shipped indicators."""
    where = resources.files("promsvc.registries")
    with resources.as_file(where.joinpath(DEMO)) as path:
        return decode(path.read_bytes(), f"promsvc/registries/{DEMO}", registries, path.parent)


def files(settings: Settings) -> list[tuple[str, Path]]:
    """Every indicator file the service loads: (shown name, path)."""
    out: list[tuple[str, Path]] = []
    if settings.demo_registry:
        with resources.as_file(resources.files("promsvc.registries").joinpath(DEMO)) as path:
            out.append((f"promsvc/registries/{DEMO}", path))
    for directory in settings.registry_dirs():
        if directory.is_dir():
            out.extend((str(p), p) for p in sorted(directory.glob(f"*{SUFFIX}")))
    return out


def load_all(settings: Settings, registries: dict[str, Registry]) -> dict[str, IndicatorSet]:
    """The indicators of every registry the service serves, by registry id (none: no file)."""
    out: dict[str, IndicatorSet] = {}
    for name, path in files(settings):
        try:
            data = path.read_bytes()
        except OSError as e:
            raise IndicatorError(name, [f"cannot read the file: {e.strerror}"]) from None
        found = decode(data, name, registries, path.parent)
        expected = f"{found.registry}{SUFFIX}"
        if path.name != expected:
            raise IndicatorError(name, [f"at $.registry: this file holds the indicators of {found.registry!r}; "
                                        f"name it {expected} (beside the registry file)"])
        out[found.registry] = found
    return out


def check_files(paths, registries: dict[str, Registry]) -> tuple[list[IndicatorSet], list[str]]:
    """Check the given files: the good ones, and every problem of the others (one line each)."""
    good: list[IndicatorSet] = []
    bad: list[str] = []
    for path in paths:
        try:
            good.append(load(path, registries))
        except IndicatorError as e:
            bad.extend(f"{e.file}: {p}" for p in e.problems)
    return good, bad


# ------------------------------------------------------------------ cross-field checks


def problems(ifile: IndicatorFile, registry: Registry, base: Path) -> tuple[list[str], list[Compiled], dict[str, list[Reference]]]:
    """Every problem of a decoded file, its compiled definitions and its coverage references."""
    out: list[str] = []
    compiled: list[Compiled] = []
    references: dict[str, list[Reference]] = {}
    seen: dict[str, int] = {}
    tree = UnitTree.of(registry)
    levels_present = tree.levels()
    for i, indicator in enumerate(ifile.indicators):
        at = f"$.indicators[{i}]"
        if indicator.id in seen:
            out.append(f"indicator {indicator.id!r} at {at}.id: its id is used twice (also at $.indicators[{seen[indicator.id]}]); "
                       "give each indicator its own id (a new version of one keeps its id and raises `version`)")
        seen.setdefault(indicator.id, i)
        found = _definition_problems(indicator, levels_present)
        if indicator.reference is not None:
            rows, bad = read_reference(base / indicator.reference, tree)
            found += [f"at .reference: {p}" for p in bad]
            references[indicator.id] = rows
        try:
            compiled.append(compile_indicator(indicator, registry))
        except DefinitionError as e:
            found += e.problems
        # each problem is "at .field…: …"; the id too, to find the definition without counting
        out += [f"indicator {indicator.id!r} at {at}{p.removeprefix('at ')}" for p in found]
    return out, compiled, references


def _definition_problems(ind: Indicator, levels_present: set[str]) -> list[str]:
    out: list[str] = []
    if not ind.id.replace("-", "").replace("_", "").isalnum() or ind.id != ind.id.lower():
        out.append(f"at .id: {ind.id!r}: use lower-case letters, digits, - and _")
    needs, forbidden = _NEEDS[ind.measure]
    for field in needs:
        if getattr(ind, field) is None:
            out.append(f"at .{field}: a {ind.measure} indicator needs `{field}` (docs/indicators.md, Measures)")
    for field in forbidden:
        if getattr(ind, field) is not None:
            out.append(f"at .{field}: a {ind.measure} indicator does not use `{field}`; remove it")
    if ind.interval is not None and _INTERVALS[ind.interval] != _kind(ind.measure):
        allowed = [k for k, v in _INTERVALS.items() if v == _kind(ind.measure)] or ["none"]
        out.append(f"at .interval: a {ind.interval} interval does not fit a {ind.measure}; use {' or '.join(allowed)} "
                   f"(default {DEFAULT_INTERVAL[ind.measure] or 'none'})")
    if ind.target is not None:
        t = ind.target
        if t.yellow is not None and ((t.direction == "higher" and t.green < t.yellow) or (t.direction == "lower" and t.green > t.yellow)):
            sign = "≥" if t.direction == "higher" else "≤"
            out.append(f"at .target: with direction {t.direction}, green must be {sign} yellow "
                       f"(green {t.green}, yellow {t.yellow}); swap them or change the direction")
        if ind.measure in _SHARES:
            for name in ("green", "yellow"):
                level = getattr(t, name)
                if level is not None and not 0 <= level <= 1:
                    out.append(f"at .target.{name}: a share's target is between 0 and 1 (0.7 for 70 %), not {level}")
    for i, level in enumerate(ind.levels):
        if level in ind.levels[:i]:
            out.append(f"at .levels[{i}]: {level!r} is listed twice; list it once")
        elif level not in levels_present:
            out.append(f"at .levels[{i}]: the registry has no unit at level {level!r}; remove it")
    if ind.period.by == "answer_year" and ind.period.time_point is None:
        out.append("at .period.time_point: results by answer year need the time point whose answer sets the year, e.g. m12")
    if ind.period.by == "event_year" and ind.period.time_point is not None:
        out.append("at .period.time_point: only results by answer year use a time point; remove it or set `by: answer_year`")
    if ind.standardise is not None and ind.measure not in ("proportion", "mean"):
        out.append(f"at .standardise: only proportions and means are standardised, not a {ind.measure}")
    return out


def _kind(measure: str) -> str:
    return "proportion" if measure in _SHARES else "mean" if measure in ("mean", "qaly") else measure


def read_reference(path: Path, tree: UnitTree) -> tuple[list[Reference], list[str]]:
    """The rows of a coverage reference CSV (`unit,year,count`), and every problem in it.

    A count is of the patients treated at that unit itself, as an episode's unit is; a unit's
    reference in a cell is the sum over it and every unit under it, like its episodes."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        return [], [f"cannot read {path}: {e.strerror}; the path is relative to the indicator file"]
    rows: list[Reference] = []
    out: list[str] = []
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != ["unit", "year", "count"]:
        return [], [f"{path.name}: the header must be unit,year,count, not {','.join(reader.fieldnames or [])!r}"]
    seen: set[tuple[str, int]] = set()
    for n, row in enumerate(reader, start=1):
        where = f"{path.name}, data row {n}"
        unit = (row["unit"] or "").strip()
        if unit not in tree.nodes or unit == NATIONAL:
            out.append(f"{where}, column unit: no unit {unit!r} in the registry")
            continue
        try:
            year, count = int(row["year"]), int(row["count"])
        except (TypeError, ValueError):
            out.append(f"{where}: year and count must be whole numbers, found {row['year']!r} and {row['count']!r}")
            continue
        if count < 0:
            out.append(f"{where}, column count: {count} is below zero")
        if (unit, year) in seen:
            out.append(f"{where}: unit {unit} has a second row for {year}; give one count per unit and year")
        seen.add((unit, year))
        rows.append(Reference(unit=unit, year=year, count=count))
    return rows, out

