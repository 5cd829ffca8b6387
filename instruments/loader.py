"""Load instrument definitions and wording overlays, and check them.

Decoding catches unknown keys and wrong types; `problems` then checks the rules that span
fields (every reference resolves, every recode table covers its items' codes, …) and reports
all of them at once, each with its path inside the file.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import msgspec

from instruments.schema import (
    INSTRUMENT_ID,
    NAME,
    Bands,
    Condition,
    ConditionalRecode,
    Instrument,
    Item,
    Languages,
    Overlay,
    Scoring,
    Sum,
    RecodeMean,
    ValueSetIndex,
    WeightedSum,
)

DEFINITIONS = "definitions"


class DefinitionError(Exception):
    """A definition or overlay file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[str]):
        self.file, self.problems = file, problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


def decode(data: bytes, file: str) -> Instrument:
    """Decode and check one definition; raise DefinitionError naming the file and paths."""
    try:
        instrument = msgspec.yaml.decode(data, type=Instrument)
    except msgspec.ValidationError as e:
        raise DefinitionError(file, [located(str(e))]) from None
    except msgspec.DecodeError as e:
        raise DefinitionError(file, [f"not valid YAML: {e}"]) from None
    found = problems(instrument)
    if found:
        raise DefinitionError(file, found)
    return instrument


def load(path: str | Path) -> Instrument:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DefinitionError(str(path), [f"cannot read the file: {e.strerror}"]) from None
    return decode(data, str(path))


@functools.cache
def catalogue() -> dict[str, Instrument]:
    """The instruments shipped with promsvc, by id (read once per process)."""
    found: dict[str, Instrument] = {}
    for entry in sorted(resources.files(__package__).joinpath(DEFINITIONS).iterdir(), key=str):
        if entry.name.endswith(".yaml"):
            instrument = decode(entry.read_bytes(), f"instruments/{DEFINITIONS}/{entry.name}")
            if instrument.id in found:
                raise DefinitionError(entry.name, [f"instrument id {instrument.id!r} is defined twice"])
            found[instrument.id] = instrument
    return found


def get(instrument_id: str) -> Instrument:
    """A shipped instrument by id; KeyError with the known ids if there is none."""
    known = catalogue()
    if instrument_id not in known:
        raise KeyError(f"unknown instrument {instrument_id!r}; known: {', '.join(sorted(known))}")
    return known[instrument_id]


def located(message: str) -> str:
    """A msgspec validation message with its path first: 'at $.items[3].min: Expected …'."""
    # msgspec says "Expected `int`, got `str` - at `$.items[3].min`", or "- at `key` in `$.x`"
    # for a bad mapping key, and nothing for the top level; lead with the path.
    text, sep, where = message.rpartition(" - at ")
    if not sep:
        return f"at $: {message}"
    if where.startswith("`key` in "):
        return f"at {where.removeprefix('`key` in ').strip('`')} (a key): {text}"
    return f"at {where.strip('`')}: {text}"


def _spelling(value: str, pattern: str, at: str, what: str) -> list[str]:
    if re.fullmatch(pattern, value):
        return []
    return [f"at {at}: {what} {value!r} must match {pattern} (letters, digits{', hyphens' if '-' in pattern else ', underscores'})"]


# ---------------------------------------------------------------------------------------------
# Rules that span fields


def problems(ins: Instrument) -> list[str]:
    """Every cross-field problem of a decoded definition, as 'at $.path: what (how to fix)'."""
    out: list[str] = _spelling(ins.id, INSTRUMENT_ID, "$.id", "instrument id")
    items: dict[str, Item] = {}
    for n, item in enumerate(ins.items):
        at = f"$.items[{n}]"
        out += _spelling(item.id, NAME, f"{at}.id", "item id")
        if item.id in items:
            out.append(f"at {at}.id: item id {item.id!r} is used twice")
        out += _item_problems(ins, item, at)
        if item.when is not None:
            # An item may only depend on items asked before it.
            out += _condition_problems(ins, item.when, items, f"{at}.when")
        items[item.id] = item
    for name, options in ins.option_sets.items():
        out += _option_problems(options, f"$.option_sets.{name}")

    scoring_ids = [s.id for s in ins.scorings]
    for dup in {s for s in scoring_ids if scoring_ids.count(s) > 1}:
        out.append(f"at $.scorings: scoring id {dup!r} is used twice")
    if sum(s.default for s in ins.scorings) != 1:
        out.append("at $.scorings: exactly one scoring must have `default: true`")
    for n, scoring in enumerate(ins.scorings):
        out += _scoring_problems(ins, scoring, items, f"$.scorings[{n}]")

    for n, ex in enumerate(ins.examples):
        at = f"$.examples[{n}]"
        scoring = next((s for s in ins.scorings if s.id == ex.scoring), None)
        if ex.scoring is not None and scoring is None:
            out.append(f"at {at}.scoring: no scoring {ex.scoring!r}; scorings: {', '.join(scoring_ids)}")
            continue
        for item_id, code in ex.answers.items():
            if item_id not in items:
                out.append(f"at {at}.answers.{item_id}: no such item")
            elif code is not None and code not in ins.codes_of(items[item_id]):
                out.append(f"at {at}.answers.{item_id}: {code} is not a code of this item")
        scoring = scoring or next((s for s in ins.scorings if s.default), None)
        if scoring is not None:
            scores = _score_ids(scoring)
            for key in ex.expect:
                if key not in scores:
                    out.append(f"at {at}.expect.{key}: scoring {scoring.id!r} has no score {key!r}; it has {', '.join(scores)}")
    return out


def _item_problems(ins: Instrument, item: Item, at: str) -> list[str]:
    if item.kind == "choice":
        if item.min is not None or item.max is not None:
            return [f"at {at}: a choice item takes `options`, not `min`/`max`"]
        if item.options is None or item.options == []:
            return [f"at {at}.options: a choice item needs options (a list, or the name of an option set)"]
        if isinstance(item.options, str):
            if item.options not in ins.option_sets:
                known = ", ".join(ins.option_sets) or "none"
                return [f"at {at}.options: no option set {item.options!r}; option sets: {known}"]
            return []
        return _option_problems(item.options, f"{at}.options")
    if item.options is not None:
        return [f"at {at}: an {item.kind} item takes `min` and `max`, not `options`"]
    if item.min is None or item.max is None or item.min > item.max:
        return [f"at {at}: an {item.kind} item needs whole numbers `min` ≤ `max`"]
    return []


def _option_problems(options, at: str) -> list[str]:
    codes = [o.code for o in options]
    return [f"at {at}: option code {c} is used twice" for c in sorted({c for c in codes if codes.count(c) > 1})]


def _condition_problems(ins: Instrument, cond: Condition, items: dict[str, Item], at: str) -> list[str]:
    forms = [cond.item is not None, cond.any is not None, cond.all is not None]
    if sum(forms) != 1:
        return [f"at {at}: a condition has exactly one of `item`, `any`, `all`"]
    if cond.any is not None or cond.all is not None:
        key, parts = ("any", cond.any) if cond.any is not None else ("all", cond.all)
        return [p for n, c in enumerate(parts) for p in _condition_problems(ins, c, items, f"{at}.{key}[{n}]")]
    if cond.item not in items:
        return [f"at {at}.item: {cond.item!r} is not an item listed before this point"]
    if (cond.in_ is None) == (cond.answered is None):
        return [f"at {at}: give either `in` (codes) or `answered` (true/false)"]
    codes = ins.codes_of(items[cond.item])
    return [f"at {at}.in: {c} is not a code of item {cond.item}" for c in cond.in_ or [] if c not in codes]


def _score_ids(scoring: Scoring) -> list[str]:
    return [s.id for s in scoring.scales] + [s.id for s in scoring.summaries]


def _scoring_problems(ins: Instrument, scoring: Scoring, items: dict[str, Item], at: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    bands: set[str] = set()
    out += _spelling(scoring.id, NAME, f"{at}.id", "scoring id")
    for n, scale in enumerate(scoring.scales):
        sat = f"{at}.scales[{n}]"
        out += _spelling(scale.id, NAME, f"{sat}.id", "score id")
        if scale.id in seen:
            out.append(f"at {sat}.id: score id {scale.id!r} is used twice")
        seen.add(scale.id)
        unknown = [i for i in scale.items if i not in items]
        out += [f"at {sat}.items: no item {i!r}" for i in unknown]
        if unknown:
            continue
        if isinstance(scale, (RecodeMean, Sum)):
            if scale.min_answered is not None and scale.min_answered > len(scale.items):
                out.append(f"at {sat}.min_answered: {scale.min_answered} is more than the {len(scale.items)} items")
            out += _recode_problems(ins, scoring, scale, items, sat)
        if isinstance(scale, ValueSetIndex):
            for i in scale.items:
                codes = ins.codes_of(items[i])
                if items[i].kind != "choice" or codes != list(range(1, len(codes) + 1)):
                    out.append(f"at {sat}.items: {i} must be a choice item with codes 1, 2, … (the level)")
    for n, summary in enumerate(scoring.summaries):
        sat = f"{at}.summaries[{n}]"
        out += _spelling(summary.id, NAME, f"{sat}.id", "score id")
        if summary.id in seen:
            out.append(f"at {sat}.id: score id {summary.id!r} is used twice")
        inputs = [i.scale for i in summary.inputs] if isinstance(summary, WeightedSum) else [summary.input]
        out += [f"at {sat}: {i!r} is not a scale or summary score listed before it" for i in inputs if i not in seen]
        out += [f"at {sat}: {i!r} is a band (text), not a number to compute with" for i in inputs if i in bands]
        if isinstance(summary, WeightedSum) and not summary.inputs:
            out.append(f"at {sat}.inputs: a weighted sum needs at least one input")
        if isinstance(summary, Bands):
            mins = [b.min for b in summary.bands]
            if not summary.bands or mins != sorted(mins) or len(set(mins)) != len(mins):
                out.append(f"at {sat}.bands: give bands in increasing order of `min`")
            bands.add(summary.id)
        seen.add(summary.id)
    return out


def _recode_problems(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, items, at: str) -> list[str]:
    if scale.recode is None:
        return []
    if isinstance(scale.recode, str):
        per_item = {i: scale.recode for i in scale.items}
    else:
        per_item = scale.recode
        extra = [i for i in per_item if i not in scale.items]
        if extra:
            return [f"at {at}.recode: {', '.join(extra)} not in this scale's items"]
    out = []
    for item_id, spec in per_item.items():
        rat = f"{at}.recode" if isinstance(scale.recode, str) else f"{at}.recode.{item_id}"
        item = items[item_id]
        needed = [c for c in ins.codes_of(item) if not _unanswered(ins, item, c)]
        tables = spec if isinstance(spec, list) else [spec]
        for k, table in enumerate(tables):
            tat = f"{rat}[{k}]" if isinstance(spec, list) else rat
            if isinstance(table, ConditionalRecode):
                out += _condition_problems(ins, table.when, items, f"{tat}.when")
                table = table.values
            if isinstance(table, str):
                if table not in scoring.recode_tables:
                    out.append(f"at {tat}: no recode table {table!r} in this scoring's recode_tables")
                    continue
                table = scoring.recode_tables[table]
            missing = [c for c in needed if c not in table]
            if missing:
                out.append(f"at {tat}: no value for code(s) {', '.join(map(str, missing))} of item {item_id}")
    return out


def _unanswered(ins: Instrument, item: Item, code: int) -> bool:
    return item.kind == "choice" and any(o.code == code and o.unanswered for o in ins.options_of(item))


# ---------------------------------------------------------------------------------------------
# Wording overlays


def load_overlay(path: str | Path, instrument: Instrument) -> tuple[Overlay, list[str]]:
    """Read an overlay with the licensed wording of `instrument`.

    Returns the overlay and what it lacks (items or options without wording, per language).
    Raises DefinitionError when it does not fit the definition: another instrument or version,
    or items and option codes that the definition does not have.
    """
    path = Path(path)
    try:
        overlay = msgspec.yaml.decode(path.read_bytes(), type=Overlay)
    except OSError as e:
        raise DefinitionError(str(path), [f"cannot read the file: {e.strerror}"]) from None
    except msgspec.ValidationError as e:
        raise DefinitionError(str(path), [located(str(e))]) from None
    except msgspec.DecodeError as e:
        raise DefinitionError(str(path), [f"not valid YAML: {e}"]) from None

    wrong: list[str] = []
    if (overlay.instrument, overlay.version) != (instrument.id, instrument.version):
        wrong.append(
            f"at $.instrument: the overlay is for {overlay.instrument} {overlay.version}, "
            f"not {instrument.id} {instrument.version}"
        )
    missing: list[str] = []
    for lang in Languages:
        if lang not in overlay.languages:
            missing.append(f"{lang}: no wording for this language")
            continue
        given = overlay.languages[lang].items
        for item_id, wording in given.items():
            at = f"$.languages.{lang}.items.{item_id}"
            item = next((i for i in instrument.items if i.id == item_id), None)
            if item is None:
                wrong.append(f"at {at}: {instrument.id} has no item {item_id!r}")
                continue
            codes = instrument.codes_of(item) if item.kind == "choice" else []
            wrong += [f"at {at}.options.{c}: item {item_id} has no option {c}" for c in wording.options if c not in codes]
            lacking = [str(c) for c in codes if c not in wording.options]
            if lacking:
                missing.append(f"{lang}: item {item_id} has no wording for option(s) {', '.join(lacking)}")
        missing += [f"{lang}: item {i.id} has no wording" for i in instrument.items if i.id not in given]
    if wrong:
        raise DefinitionError(str(path), wrong)
    return overlay, missing
