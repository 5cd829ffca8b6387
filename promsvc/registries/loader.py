"""Load and check registry configuration files, and the instruments they may ask.

Decoding is strict (`promsvc.registries.schema`: unknown keys and wrong types are refused with
their path); `problems` then checks what spans several fields and reports every problem found,
each as `at PATH: what is wrong; how to fix it`. The service refuses to start while any
registry file has a problem, or asks a licensed instrument of patients without the registry's
complete overlay in each of its languages (`promsvc.registries.overlays.licence_problems`);
`promsvc registries check [FILE…]` runs the same checks.

Instruments are looked up in one catalogue (`instrument_catalogue`): the shipped definitions
and the registries' own from `PROMSVC_INSTRUMENTS_DIR`, checked as `promsvc instruments check`
checks them (their examples are run). `load_all` returns the registries with that catalogue
(`Registries.instruments`) and their overlays (`Registries.overlays`), and every part of the
service asks them: nothing is read again while the service runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import instruments
from instruments import Catalogue, DefinitionError, Instrument, yamlfile
from promsvc.registries.overlays import Overlays, licence_problems
from promsvc.registries.schema import LEVELS, ORG_NUMBER, UNIT_ID, Protocol, Registry, Unit
from promsvc.settings import Settings
from scoring import engine as scoring_engine
from scoring.errors import UnknownName

DEMO_FILE = "demo.yaml"
_ZERO = dt.timedelta(0)


class RegistryError(Exception):
    """A registry configuration that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[str]):
        self.file, self.problems = file, problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


class Registries(dict[str, Registry]):
    """Every registry the service serves, by id, the catalogue of instruments they ask and the
    registries' overlays (licensed wording), all read and checked once, at start-up."""

    def __init__(self, registries: Mapping[str, Registry], instruments: Catalogue, overlays: Overlays | None = None):
        super().__init__(registries)
        self.instruments = instruments
        self.overlays = overlays if overlays is not None else Overlays(None)

    def instrument(self, protocol: Protocol, instrument_id: str) -> Instrument:
        """The definition a protocol asks: the version it names, else the newest loaded."""
        return self.instruments.find(instrument_id, protocol.instrument_use(instrument_id).version)


def instrument_catalogue(settings: Settings) -> Catalogue:
    """The shipped instruments and those of `PROMSVC_INSTRUMENTS_DIR`, each checked and its
    examples run; DefinitionError (naming the file and path) for the first bad file."""
    shipped = instruments.catalogue()
    if not settings.instruments_dir:
        return shipped
    found = shipped.with_directory(settings.instruments_dir, "PROMSVC_INSTRUMENTS_DIR")
    from scoring.examples import failures

    for instrument_id in found:
        for version in found.versions(instrument_id):
            ins = found.version(instrument_id, version)
            assert ins is not None  # versions() lists only the versions loaded
            if shipped.version(instrument_id, version) is None:
                wrong = failures(ins)
                if wrong:
                    raise DefinitionError(found.file_of(ins), wrong)
    return found


def decode(data: bytes, file: str, catalogue: Catalogue | None = None) -> Registry:
    """Decode and check one registry file against the instruments of `catalogue` (default: the
    shipped ones); RegistryError names the file and every path."""
    return _checked(yamlfile.decode(data, Registry, file, RegistryError, _hinted), file, catalogue)


def _checked(registry: Registry, file: str, catalogue: Catalogue | None) -> Registry:
    found = problems(registry, catalogue)
    if found:
        raise RegistryError(file, found)
    return registry


def _hinted(problem: str) -> str:
    if "Object contains unknown field" in problem:
        return problem + "; remove it or correct its spelling (see promsvc/registries/schema.py for the keys)"
    if "duration" in problem:
        return problem + "; write durations as ISO 8601, e.g. P90D (90 days) or -P14D (14 days before)"
    return problem


def load(path: str | Path, catalogue: Catalogue | None = None) -> Registry:
    return _checked(yamlfile.read(path, Registry, RegistryError, _hinted), str(path), catalogue)


def demo() -> Registry:
    """The shipped synthetic registry `demo`."""
    data = resources.files("promsvc.registries").joinpath(DEMO_FILE).read_bytes()
    return decode(data, f"promsvc/registries/{DEMO_FILE}")


def load_all(settings: Settings) -> Registries:
    """Every registry the service serves, by id: the demo (if enabled) and `registries_dir/*.yaml`,
    checked against the instruments of `instrument_catalogue(settings)`."""
    catalogue = instrument_catalogue(settings)
    found: dict[str, Registry] = {}
    where: dict[str, str] = {}
    sources: list[tuple[str, Registry]] = []
    if settings.demo_registry:
        sources.append((f"promsvc/registries/{DEMO_FILE}", demo()))
    for directory in settings.registry_dirs():
        if not directory.is_dir():
            raise RegistryError(str(directory), [
                "PROMSVC_REGISTRIES_DIR names no directory; create it or correct the setting"
            ])
        # `{id}.indicators.yaml` beside a registry file holds its indicators (promsvc.indicators.loader)
        sources.extend((str(p), load(p, catalogue)) for p in sorted(directory.glob("*.y*ml"))
                       if not p.name.endswith(".indicators.yaml"))
    overlays = _overlays(settings.overlays_dir, catalogue)
    for file, registry in sources:
        if registry.id in found:
            raise RegistryError(file, [
                f"at $.id: registry id {registry.id!r} is already declared in {where[registry.id]}; "
                "give each registry its own id (or switch off PROMSVC_DEMO_REGISTRY)"
            ])
        wording = licence_problems(registry, overlays, catalogue)
        if wording:
            raise RegistryError(file, wording)
        found[registry.id], where[registry.id] = registry, file
    return Registries(found, catalogue, overlays)


def check_files(paths: Iterable[str | Path], overlays_dir: str = "", catalogue: Catalogue | None = None) -> list[str]:
    """Every problem of the given files, one line each (empty: all good), against the instruments
    of `catalogue` (default: the shipped ones); the licensed wording they need is looked for in
    `overlays_dir` (the setting PROMSVC_OVERLAYS_DIR)."""
    out: list[str] = []
    overlays = _overlays(overlays_dir, catalogue)
    for path in paths:
        try:
            registry = load(path, catalogue)
        except RegistryError as e:
            out.extend(f"{e.file}: {p}" for p in e.problems)
            continue
        out.extend(f"{path}: {p}" for p in licence_problems(registry, overlays, catalogue))
    return out


def _overlays(directory: str, catalogue: Catalogue | None) -> Overlays:
    try:
        return Overlays(directory, catalogue)
    except instruments.DefinitionError as e:
        raise RegistryError(e.file, e.problems) from None


# ------------------------------------------------------------------ cross-field checks


def problems(registry: Registry, catalogue: Catalogue | None = None) -> list[str]:
    """Every problem that spans several fields, each with its path and a hint."""
    out: list[str] = []
    out += _unit_problems(registry)
    out += _patient_information_problems(registry)
    seen: dict[str, str] = {}
    for p, protocol in enumerate(registry.protocols):
        at = f"$.protocols[{p}]"
        if protocol.id in seen:
            out.append(f"at {at}.id: protocol id {protocol.id!r} is used twice (also at {seen[protocol.id]}); give each protocol its own id")
        seen.setdefault(protocol.id, f"{at}.id")
        out += _protocol_problems(protocol, at, catalogue or instruments.catalogue())
    return out


def _patient_information_problems(registry: Registry) -> list[str]:
    out: list[str] = []
    for missing in ("contact", "privacy"):
        if getattr(registry, missing) is None and not registry.demo:
            out.append(
                f"at $.{missing}: a registry must tell its patients "
                + ("where to reach it (name, phone, email, postal)" if missing == "contact"
                   else "its data controller, legal basis and privacy statement")
                + "; add it (docs/service.md, registry files), or set `demo: true` if its patients are synthetic"
            )
    for i, lang in _repeats(list(registry.languages)):
        out.append(f"at $.languages[{i}]: {lang!r} is listed twice; list it once")
    return out


def _unit_problems(registry: Registry) -> list[str]:
    out: list[str] = []
    ids: dict[str, str] = {}
    orgs: dict[str, str] = {}

    def walk(units: list[Unit], at: str, parent: Unit | None) -> None:
        for u, unit in enumerate(units):
            here = f"{at}[{u}]"
            if not re.fullmatch(UNIT_ID, unit.id):
                out.append(f"at {here}.id: unit id {unit.id!r} is not an id; use lower-case letters, digits and '-', "
                           "starting with a letter or digit (e.g. haukeland-ortopedi)")
            if unit.org_number is not None and not re.fullmatch(ORG_NUMBER, unit.org_number):
                out.append(f"at {here}.org_number: {unit.org_number!r} is not an organisation number; "
                           "give the unit's 9 digits from Enhetsregisteret, without spaces, or leave it out")
            if unit.id in ids:
                out.append(f"at {here}.id: unit id {unit.id!r} is used twice (also at {ids[unit.id]}); give each unit its own id")
            ids.setdefault(unit.id, f"{here}.id")
            if unit.org_number is not None:
                if unit.org_number in orgs:
                    out.append(f"at {here}.org_number: organisation number {unit.org_number} is also given at {orgs[unit.org_number]}; each unit has its own")
                orgs.setdefault(unit.org_number, f"{here}.org_number")
            if parent is not None and LEVELS.index(unit.level) <= LEVELS.index(parent.level):
                out.append(
                    f"at {here}.level: a {unit.level} cannot sit under a {parent.level}; "
                    f"levels go {' → '.join(LEVELS)}"
                )
            walk(unit.children, f"{here}.children", unit)

    walk(registry.units, "$.units", None)
    return out


def _repeats(values: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, v in enumerate(values):
        if v in seen:
            out.append((i, v))
        seen.add(v)
    return out


def _protocol_problems(protocol: Protocol, at: str, known: Catalogue) -> list[str]:
    out: list[str] = []
    known_list = ", ".join(sorted(known))
    asked: set[str] = set()
    out += _used_twice([tp.id for tp in protocol.time_points], f"{at}.time_points", "time point")
    for t, tp in enumerate(protocol.time_points):
        here = f"{at}.time_points[{t}]"
        if tp.window <= _ZERO:
            out.append(f"at {here}.window: the window must be longer than zero (e.g. P30D)")
        for i, instrument_id in enumerate(tp.instruments):
            if instrument_id not in known:
                out.append(f"at {here}.instruments[{i}]: unknown instrument {instrument_id!r}; known: {known_list}")
            asked.add(instrument_id)
        for i, instrument_id in _repeats(list(tp.instruments)):
            out.append(f"at {here}.instruments[{i}]: {instrument_id!r} is asked twice at this time point; list it once")

    uses: dict[str, int] = {}
    for u, use in enumerate(protocol.instruments):
        here = f"{at}.instruments[{u}]"
        if use.instrument in uses:
            out.append(f"at {here}.instrument: {use.instrument!r} is configured twice (also at {at}.instruments[{uses[use.instrument]}]); merge the two")
        uses.setdefault(use.instrument, u)
        if use.instrument not in known:
            out.append(f"at {here}.instrument: unknown instrument {use.instrument!r}; known: {known_list}")
            continue
        if use.instrument not in asked:
            out.append(f"at {here}.instrument: {use.instrument!r} is not asked at any time point of this protocol; add it to a time point or remove this entry")
        if use.version is not None and known.version(use.instrument, use.version) is None:
            out.append(f"at {here}.version: {use.instrument} has no version {use.version!r}; versions: {', '.join(known.versions(use.instrument))}")
            continue
        ins = known.find(use.instrument, use.version)
        scoring_ids = [s.id for s in ins.scorings]
        for s, scoring_id in enumerate(use.scorings):
            if scoring_id not in scoring_ids:
                out.append(f"at {here}.scorings[{s}]: {use.instrument} has no scoring {scoring_id!r}; its scorings: {', '.join(scoring_ids)}")
        for s, scoring_id in _repeats(list(use.scorings)):
            out.append(f"at {here}.scorings[{s}]: scoring {scoring_id!r} is listed twice; list it once")
        chosen = [ins.scoring(s) for s in use.scorings if s in scoring_ids] or [ins.scoring()]
        for scoring in chosen:
            try:
                scoring_engine.choose_value_set(ins, scoring, use.method, use.country)
            except UnknownName as e:
                out.append(f"at {here}.{e.field}: {e}")

    for c, channel in _repeats(list(protocol.channels)):
        out.append(f"at {at}.channels[{c}]: channel {channel!r} is listed twice; list each channel once")
    for r, respondent in _repeats(list(protocol.respondents)):
        out.append(f"at {at}.respondents[{r}]: {respondent!r} is listed twice; list it once")

    if protocol.reminders is not None:
        here = f"{at}.reminders"
        after = protocol.reminders.after
        if after <= _ZERO:
            out.append(f"at {here}.after: reminders must come after the invitation (e.g. P14D)")
        elif protocol.reminders.max > 0:
            shortest = min(protocol.time_points, key=lambda tp: tp.window)
            last = after * protocol.reminders.max
            if last >= shortest.window:
                out.append(
                    f"at {here}: the last reminder ({protocol.reminders.max} × {_days(after)}) would come after "
                    f"time point {shortest.id!r} expires ({_days(shortest.window)} window); "
                    "remind sooner, less often, or widen the window"
                )
        if "clinic" in protocol.channels and len(protocol.channels) == 1 and protocol.reminders.max > 0:
            out.append(f"at {here}: the only channel is 'clinic', which cannot carry reminders; remove reminders or add a channel")
    out += _attribute_problems(protocol, at)
    return out


_ATTRIBUTE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
# A category value is written as is in exports and indicator formulas (`urgency = 'acute'`):
# no quotes, backslashes or control characters, and no spaces around it.
_BAD_IN_VALUE = re.compile(r"['\"\\\x00-\x1f\x7f]")


def _used_twice(ids: list[str], at: str, what: str) -> list[str]:
    """An id used again in a list of `what`s at `at`, with where it was first."""
    first: dict[str, int] = {}
    out = []
    for n, id_ in enumerate(ids):
        if id_ in first:
            out.append(f"at {at}[{n}].id: {what} id {id_!r} is used twice (also at {at}[{first[id_]}]); give each {what} its own id")
        first.setdefault(id_, n)
    return out


def _attribute_problems(protocol: Protocol, at: str) -> list[str]:
    out = _used_twice([a.id for a in protocol.attributes], f"{at}.attributes", "attribute")
    for a, attribute in enumerate(protocol.attributes):
        here = f"{at}.attributes[{a}]"
        if not _ATTRIBUTE_ID.match(attribute.id):
            out.append(f"at {here}.id: {attribute.id!r} cannot name a column or a formula variable; use lower-case letters, digits and _, starting with a letter (e.g. asa_class)")
        kind = attribute.kind
        if kind == "category":
            if not attribute.values:
                out.append(f"at {here}.values: a category needs its allowed values, e.g. values: [elective, acute]")
            for v, value in enumerate(attribute.values):
                if not value or value != value.strip() or _BAD_IN_VALUE.search(value):
                    out.append(f"at {here}.values[{v}]: {value!r} cannot be written as is in a CSV cell or a formula; "
                               "leave out quotes, backslashes, control characters and spaces around it")
            for v, value in _repeats(list(attribute.values)):
                out.append(f"at {here}.values[{v}]: {value!r} is listed twice; list each value once")
        elif attribute.values:
            out.append(f"at {here}.values: only a category has values; remove them or make the kind category")
        if kind == "integer":
            if attribute.min is not None and attribute.max is not None and attribute.min > attribute.max:
                out.append(f"at {here}.min: min {attribute.min} is above max {attribute.max}; swap them")
        else:
            for bound in ("min", "max"):
                if getattr(attribute, bound) is not None:
                    out.append(f"at {here}.{bound}: only an integer has a range; remove {bound} or make the kind integer")
    return out


def _days(delta) -> str:
    return f"{delta.days} days" if delta.seconds == 0 else str(delta)
