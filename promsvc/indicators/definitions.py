"""An indicator definition resolved against its registry: variables → frame columns, formulas
parsed and type-checked, and what the computation reads (`Needs`).

`compile_indicator` is the one place a definition's names are resolved; the loader calls it to
report problems (with their paths) and the engine calls it to compute.
"""

from __future__ import annotations

import re
from typing import cast

import msgspec

import instruments
from instruments.schema import Bands
from promsvc.indicators import frame
from promsvc.indicators.expressions import (
    BOOLEAN,
    DATE,
    NUMBER,
    TEXT,
    TIMESTAMP,
    ExpressionError,
    Formula,
    Var,
    parse,
)
from promsvc.indicators.schema import Indicator, Variable
from promsvc.registries.schema import Attribute, Protocol, Registry

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

# Built-in variables: the frame's fixed columns, and three the engine derives at the data date.
EVENT_YEAR, WITHDRAWN, DECEASED = "event_year", "withdrawn", "deceased"
BUILT_IN = ("unit", "protocol", "event_date", EVENT_YEAR, WITHDRAWN, DECEASED)

_ATTRIBUTE_TYPES = {"category": TEXT, "integer": NUMBER, "boolean": BOOLEAN, "date": DATE}


class DefinitionError(Exception):
    """Problems of one definition, each `at PATH: what; fix` (paths relative to the indicator)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class Compiled(msgspec.Struct, frozen=True, kw_only=True):
    """A definition ready to compute."""

    indicator: Indicator
    protocol: Protocol
    variables: dict[str, Var]
    population: Formula
    exclusions: list[Formula]
    numerator: Formula | None
    denominator: Formula | None
    value: Formula | None
    utility: list[tuple[str, str, int]]  # qaly: (time point, frame column, offset in days), in protocol order
    strata: list[tuple[str, list]]  # standardise: (frame column, the attribute's possible values) per attribute
    needs: frame.Needs


def first_scoring(registry: Registry, instrument_id: str) -> str:
    """The scoring whose scores the export (and the frame) names without a scoring:
    the first the registry lists for the instrument, as promsvc.episodes.export orders them."""
    for protocol in registry.protocols:
        for tp in protocol.time_points:
            if instrument_id in tp.instruments:
                use = protocol.instrument_use(instrument_id)
                return (list(use.scorings) or [instruments.get(instrument_id).scoring().id])[0]
    return instruments.get(instrument_id).scoring().id


def _stratum_values(attribute: Attribute) -> list | None:
    """The values of an attribute that a direct standardisation can stratify by (None: it cannot)."""
    if attribute.kind == "category":
        return list(attribute.values)
    if attribute.kind == "boolean":
        return [False, True]
    if attribute.kind == "integer" and attribute.min is not None and attribute.max is not None and attribute.max - attribute.min < 100:
        return list(range(attribute.min, attribute.max + 1))
    return None


def built_in_variables(registry: Registry, protocol: Protocol) -> dict[str, Var]:
    return {
        "unit": Var("unit", TEXT, tuple(registry.unit_ids())),
        "protocol": Var("protocol", TEXT, tuple(p.id for p in registry.protocols)),
        "event_date": Var("event_date", DATE),
        EVENT_YEAR: Var(EVENT_YEAR, NUMBER),
        WITHDRAWN: Var(WITHDRAWN, BOOLEAN),
        DECEASED: Var(DECEASED, BOOLEAN),
    }


def resolve(variable: Variable, registry: Registry, protocol: Protocol, at: str,
            problems: list[str], time_point_allowed: bool = True) -> tuple[Var, frame.ScoreRef | None] | None:
    """What one declared variable refers to, or None (with the problems added)."""
    forms = [variable.attribute is not None, variable.field is not None, variable.score is not None]
    if sum(forms) != 1:
        problems.append(f"at {at}: give exactly one of `attribute`, `field` (with `time_point`) or `score` "
                        "(with `time_point` and `instrument`)")
        return None
    if variable.attribute is not None:
        extra = [k for k in ("time_point", "instrument", "scoring") if getattr(variable, k) is not None]
        if extra:
            problems.append(f"at {at}: an attribute variable takes no {', '.join(extra)}; remove it")
            return None
        found = next((a for a in protocol.attributes if a.id == variable.attribute), None)
        if found is None:
            known = ", ".join(a.id for a in protocol.attributes) or "none declared"
            problems.append(f"at {at}.attribute: protocol {protocol.id!r} declares no attribute {variable.attribute!r}; "
                            f"its attributes: {known} (declare it under the protocol's `attributes`)")
            return None
        values = tuple(found.values) if found.kind == "category" else None
        return Var(frame.attribute_column(found.id), _ATTRIBUTE_TYPES[found.kind], values), None

    if variable.time_point is None and time_point_allowed:
        problems.append(f"at {at}: a time point variable needs `time_point` (one of {_ids(protocol)})")
        return None
    if variable.time_point is not None:
        if not time_point_allowed:
            problems.append(f"at {at}.time_point: the utility is read at every time point; remove `time_point`")
            return None
        if protocol.time_point(variable.time_point) is None:
            problems.append(f"at {at}.time_point: protocol {protocol.id!r} has no time point {variable.time_point!r}; "
                            f"its time points: {_ids(protocol)}")
            return None
    if variable.field is not None:
        extra = [k for k in ("instrument", "scoring") if getattr(variable, k) is not None]
        if extra:
            problems.append(f"at {at}: a `field` variable takes no {', '.join(extra)}; remove it")
            return None
        assert variable.time_point is not None  # checked above; the utility, which may not name one, is a score
        column = frame.time_point_column(variable.time_point, variable.field)
        if variable.field != "status":
            return Var(column, TIMESTAMP), None
        from promsvc.models import Status  # here: the models pull in SQLAlchemy, which the CSV route does not need

        return Var(column, TEXT, tuple(s.value for s in Status)), None

    if variable.instrument is None:
        problems.append(f"at {at}: a score variable needs `instrument`, e.g. eq5d-5l")
        return None
    asked_at = [tp for tp in protocol.time_points if variable.instrument in tp.instruments]
    if not asked_at:
        problems.append(f"at {at}.instrument: protocol {protocol.id!r} does not ask {variable.instrument!r} at any time point")
        return None
    if variable.time_point is not None and all(tp.id != variable.time_point for tp in asked_at):
        problems.append(f"at {at}.instrument: {variable.instrument!r} is not asked at {variable.time_point!r}; "
                        f"it is asked at {', '.join(tp.id for tp in asked_at)}")
        return None
    ins = instruments.get(variable.instrument)
    use = protocol.instrument_use(variable.instrument)
    scorings = list(use.scorings) or [ins.scoring().id]
    scoring_id = variable.scoring or scorings[0]
    if scoring_id not in scorings:
        problems.append(f"at {at}.scoring: protocol {protocol.id!r} scores {variable.instrument} with "
                        f"{', '.join(scorings)}, not {scoring_id!r} (add it to the protocol's `instruments` scorings)")
        return None
    scoring = ins.scoring(scoring_id)
    kinds = {s.id: NUMBER for s in scoring.scales}
    kinds.update({s.id: TEXT if isinstance(s, Bands) else NUMBER for s in scoring.summaries})
    if variable.score not in kinds:
        problems.append(f"at {at}.score: {variable.instrument} scoring {scoring_id!r} has no score {variable.score!r}; "
                        f"its scores: {', '.join(kinds)}")
        return None
    ref = score_ref(registry, variable.time_point or "", variable.instrument, variable.score, scoring_id)
    return Var(frame.score_column(ref), kinds[variable.score]), ref


def score_ref(registry: Registry, time_point: str, instrument_id: str, score: str, scoring_id: str | None) -> frame.ScoreRef:
    """The frame's name of a score: without the scoring when it is the instrument's first."""
    first = first_scoring(registry, instrument_id)
    return frame.ScoreRef(time_point=time_point, instrument=instrument_id, score=score,
                          scoring=None if scoring_id in (None, first) else scoring_id)


def _ids(protocol: Protocol) -> str:
    return ", ".join(tp.id for tp in protocol.time_points)


def compile_indicator(indicator: Indicator, registry: Registry) -> Compiled:
    """Resolve and check one definition against its registry; DefinitionError lists every problem."""
    problems: list[str] = []
    protocol = registry.protocol(indicator.protocol)
    if protocol is None:
        raise DefinitionError([f"at .protocol: registry {registry.id!r} has no protocol {indicator.protocol!r}; "
                               f"its protocols: {', '.join(p.id for p in registry.protocols)}"])
    variables = built_in_variables(registry, protocol)
    attributes: set[str] = set()
    time_points: set[str] = set()
    scores: set[frame.ScoreRef] = set()
    broken: set[str] = set()  # declared, with a problem said: formulas naming them say no more of it
    for name, variable in indicator.variables.items():
        at = f".variables.{name}"
        if not NAME.match(name) or name.upper() in _RESERVED:
            problems.append(f"at {at}: {name!r} cannot name a variable; use lower-case letters, digits and _ "
                            "(not an SQL keyword), starting with a letter")
            continue
        if name in BUILT_IN:
            problems.append(f"at {at}: {name!r} is a built-in variable ({', '.join(BUILT_IN)}); choose another name")
            continue
        found = resolve(variable, registry, protocol, at, problems)
        if found is None:
            broken.add(name)
            continue
        variables[name], ref = found
        if variable.attribute is not None:
            attributes.add(variable.attribute)
        if variable.time_point is not None:
            time_points.add(variable.time_point)
        if ref is not None:
            scores.add(ref)

    def formula(text: str | None, at: str, want: str) -> Formula | None:
        if text is None:
            return None
        try:
            return parse(text, variables, want)
        except ExpressionError as e:
            if e.unknown not in broken:
                problems.append(f"at {at}: {e}")
            return None

    population = formula(indicator.population, ".population", BOOLEAN)
    exclusions = [formula(t, f".exclusions[{i}]", BOOLEAN) for i, t in enumerate(indicator.exclusions)]
    numerator = formula(indicator.numerator, ".numerator", BOOLEAN)
    denominator = formula(indicator.denominator, ".denominator", BOOLEAN)
    value = formula(indicator.value, ".value", NUMBER)

    utility: list[tuple[str, str, int]] = []
    if indicator.utility is not None:
        score = indicator.utility.score
        if score is None:  # an attribute or a field would be read as a utility at no time point
            problems.append("at .utility: a utility is a score read at every time point that asks it; give `instrument` "
                            "and `score`, e.g. {instrument: eq5d-5l, score: index}")
        found = None if score is None else resolve(indicator.utility, registry, protocol, ".utility", problems,
                                                   time_point_allowed=False)
        if score is not None and found is not None:
            var, _ = found
            if var.type != NUMBER:
                problems.append(f"at .utility.score: a utility must be a number (an EQ-5D index), not {var.type}")
            for tp in protocol.time_points:
                if indicator.utility.instrument in tp.instruments:
                    ref = score_ref(registry, tp.id, indicator.utility.instrument, score, indicator.utility.scoring)
                    utility.append((tp.id, frame.score_column(ref), tp.offset.days))
                    scores.add(ref)
            if len(utility) < 2:
                problems.append(f"at .utility.instrument: {indicator.utility.instrument} is asked at fewer than two time "
                                "points; an area under the curve needs two or more")
    time_points |= {ref.time_point for ref in scores}  # their submission times apply the data date
    for key, tp_id in (("time_point", indicator.time_point), ("period.time_point", indicator.period.time_point)):
        if tp_id is not None and protocol.time_point(tp_id) is None:
            problems.append(f"at .{key}: protocol {protocol.id!r} has no time point {tp_id!r}; its time points: {_ids(protocol)}")
        elif tp_id is not None:
            time_points.add(tp_id)
    strata: list[tuple[str, list]] = []
    stratifiers = {a.id: values for a in protocol.attributes if (values := _stratum_values(a)) is not None}
    for i, by in enumerate(indicator.standardise.by if indicator.standardise else []):
        values = stratifiers.get(by)
        if values is None:
            problems.append(f"at .standardise.by[{i}]: {by!r} is not a category, boolean or integer attribute "
                            f"(with min and max) of protocol {protocol.id!r}; standardise by attributes with few values: "
                            f"{', '.join(stratifiers) or 'the protocol declares none'}")
            continue
        attributes.add(by)
        strata.append((frame.attribute_column(by), values))
    if problems:
        raise DefinitionError(problems)
    # No problems: every formula given was parsed (the population always is; it defaults to TRUE).
    assert population is not None and all(f is not None for f in exclusions)
    names = set().union(*(f.names for f in [population, *exclusions, numerator, denominator, value] if f is not None))
    used = {n for n in names if n not in BUILT_IN}
    # Read only what the formulas use (and what the measure itself reads).
    attributes = {a for a in attributes if any(indicator.variables[n].attribute == a for n in used)} | set(
        indicator.standardise.by if indicator.standardise else [])
    windows = {v.time_point for v in (indicator.variables[n] for n in used) if v.field in frame.WINDOW_FIELDS and v.time_point}
    return Compiled(
        indicator=indicator, protocol=protocol, variables=variables, population=population, exclusions=cast(list[Formula], exclusions),
        numerator=numerator, denominator=denominator, value=value, utility=utility, strata=strata,
        needs=frame.Needs(protocol=protocol.id, attributes=frozenset(attributes), time_points=frozenset(time_points),
                          windows=frozenset(windows), scores=frozenset(scores)),
    )


# Words sqlglot reads as keywords or functions rather than names.
_RESERVED = {
    "AND", "OR", "NOT", "NULL", "TRUE", "FALSE", "IS", "IN", "CASE", "WHEN", "THEN", "ELSE", "END", "BETWEEN",
    "SELECT", "FROM", "WHERE", "AS", "CAST", "DATE", "TIME", "TIMESTAMP", "INTERVAL", "YEAR", "EXTRACT", "LIKE",
    "ILIKE", "ALL", "ANY", "SOME", "EXISTS", "DISTINCT", "ORDER", "GROUP", "BY", "LIMIT", "UNION", "ON", "USING",
}
