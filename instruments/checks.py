"""The rules of a definition that span fields: every reference resolves, every recode table
covers its items' codes, every lookup table covers the raw scores it is asked for, ….

`problems` reports all of them at once, each as 'at $.path: what is wrong (how to fix it)'.
"""

from __future__ import annotations

import re

from instruments.answers import accepts, describe_allowed
from instruments.schema import (
    CODED,
    INSTRUMENT_ID,
    NAME,
    Bands,
    Condition,
    ConditionalRecode,
    Instrument,
    Item,
    Linear,
    MeanOf,
    PatternLookup,
    Recode,
    RecodeMean,
    ScoreLookup,
    Scoring,
    Sum,
    ValueSetIndex,
    WeightedSum,
)

# A pattern lookup is scored from a dense table with a cell per pattern (missing included).
MAX_PATTERNS = 1_000_000
# Raw scores whose lookup coverage is checked; more possible totals than this are not enumerated.
MAX_TOTALS = 100_000


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
        out += _example_problems(ins, ex, items, scoring_ids, f"$.examples[{n}]")
    return out


def _spelling(value: str, pattern: str, at: str, what: str) -> list[str]:
    if re.fullmatch(pattern, value):
        return []
    return [f"at {at}: {what} {value!r} must match {pattern} (letters, digits{', hyphens' if '-' in pattern else ', underscores'})"]


# ---------------------------------------------------------------------------------------------
# Items and conditions


def _item_problems(ins: Instrument, item: Item, at: str) -> list[str]:
    kind = item.kind
    if kind != "text" and item.max_length is not None:
        return [f"at {at}.max_length: only a text item takes `max_length`"]
    if kind in ("choice", "multi"):
        if item.min is not None or item.max is not None:
            return [f"at {at}: a {kind} item takes `options`, not `min`/`max`"]
        if item.options is None or item.options == []:
            return [f"at {at}.options: a {kind} item needs options (a list, or the name of an option set)"]
        if isinstance(item.options, str) and item.options not in ins.option_sets:
            known = ", ".join(ins.option_sets) or "none"
            return [f"at {at}.options: no option set {item.options!r}; option sets: {known}"]
        out = [] if isinstance(item.options, str) else _option_problems(item.options, f"{at}.options")
        if kind == "multi" and any(o.unanswered for o in ins.options_of(item)):
            out.append(f"at {at}.options: a multi item's options cannot be `unanswered` (no ticks is no answer)")
        return out
    if item.options is not None:
        return [f"at {at}: {_a(kind)} item takes no `options`"]
    if kind == "text":
        if item.min is not None or item.max is not None:
            return [f"at {at}: a text item takes `max_length`, not `min`/`max`"]
        return []
    if item.min is None or item.max is None or item.min > item.max:
        whole = "whole numbers" if kind != "decimal" else "numbers"
        return [f"at {at}: {_a(kind)} item needs {whole} `min` ≤ `max`"]
    if kind != "decimal" and not (isinstance(item.min, int) and isinstance(item.max, int)):
        return [f"at {at}: {_a(kind)} item needs whole numbers `min` and `max` (a `decimal` item takes any number)"]
    return []


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _option_problems(options, at: str) -> list[str]:
    codes = [o.code for o in options]
    return [f"at {at}: option code {c} is used twice" for c in sorted({c for c in codes if codes.count(c) > 1})]


def _condition_problems(ins: Instrument, cond: Condition, items: dict[str, Item], at: str) -> list[str]:
    forms = [cond.item is not None, cond.any is not None, cond.all is not None]
    if sum(forms) != 1:
        return [f"at {at}: a condition has exactly one of `item`, `any`, `all`"]
    if cond.any is not None or cond.all is not None:
        key, parts = ("any", cond.any) if cond.any is not None else ("all", cond.all or [])  # `or []`: for mypy, all is set here
        return [p for n, c in enumerate(parts) for p in _condition_problems(ins, c, items, f"{at}.{key}[{n}]")]
    if cond.item not in items:
        return [f"at {at}.item: {cond.item!r} is not an item listed before this point"]
    if (cond.in_ is None) == (cond.answered is None):
        return [f"at {at}: give either `in` (codes) or `answered` (true/false)"]
    item = items[cond.item]
    if item.kind == "text":
        return [f"at {at}.item: {cond.item} is a text item, which is never read by a condition"]
    if cond.in_ is not None and item.kind == "decimal":
        return [f"at {at}.in: {cond.item} is a decimal item; a condition can only ask whether it is `answered`"]
    codes = ins.codes_of(item)
    return [f"at {at}.in: {c} is not a code of item {cond.item}" for c in cond.in_ or [] if c not in codes]


# ---------------------------------------------------------------------------------------------
# Scorings


def score_ids(scoring: Scoring) -> list[str]:
    return [s.id for s in scoring.scales] + [s.id for s in scoring.summaries]


def _scoring_problems(ins: Instrument, scoring: Scoring, items: dict[str, Item], at: str) -> list[str]:
    out: list[str] = _spelling(scoring.id, NAME, f"{at}.id", "scoring id")
    seen: dict[str, object] = {}
    bands: set[str] = set()
    for n, scale in enumerate(scoring.scales):
        sat = f"{at}.scales[{n}]"
        out += _spelling(scale.id, NAME, f"{sat}.id", "score id")
        if scale.id in seen:
            out.append(f"at {sat}.id: score id {scale.id!r} is used twice")
        seen[scale.id] = scale
        unknown = [i for i in scale.items if i not in items]
        out += [f"at {sat}.items: no item {i!r}" for i in unknown]
        if unknown:
            continue
        out += [f"at {sat}.items: {i} is a text item, which is never scored" for i in scale.items if items[i].kind == "text"]
        if isinstance(scale, (RecodeMean, Sum)):
            if scale.min_answered is not None and scale.min_answered > len(scale.items):
                out.append(f"at {sat}.min_answered: {scale.min_answered} is more than the {len(scale.items)} items")
            out += _recode_problems(ins, scoring, scale, items, sat)
            out += _transform_problems(scale.transform, f"{sat}.transform")
        elif isinstance(scale, ValueSetIndex):
            for i in scale.items:
                codes = ins.codes_of(items[i])
                if items[i].kind != "choice" or codes != list(range(1, len(codes) + 1)):
                    out.append(f"at {sat}.items: {i} must be a choice item with codes 1, 2, … (the level)")
        elif isinstance(scale, PatternLookup):
            out += _pattern_problems(ins, scale, items, sat)
    for n, summary in enumerate(scoring.summaries):
        sat = f"{at}.summaries[{n}]"
        out += _spelling(summary.id, NAME, f"{sat}.id", "score id")
        if summary.id in seen:
            out.append(f"at {sat}.id: score id {summary.id!r} is used twice")
        inputs = (
            [i.scale for i in summary.inputs] if isinstance(summary, WeightedSum)
            else list(summary.inputs) if isinstance(summary, MeanOf) else [summary.input]
        )
        out += [f"at {sat}: {i!r} is not a scale or summary score listed before it" for i in inputs if i not in seen]
        out += [f"at {sat}: {i!r} is a band (text), not a number to compute with" for i in inputs if i in bands]
        if isinstance(summary, WeightedSum) and not summary.inputs:
            out.append(f"at {sat}.inputs: a weighted sum needs at least one input")
        if isinstance(summary, MeanOf) and summary.min_scored is not None and summary.min_scored > len(summary.inputs):
            out.append(f"at {sat}.min_scored: {summary.min_scored} is more than the {len(summary.inputs)} inputs")
        if isinstance(summary, Bands):
            out += _band_problems(summary, sat)
            bands.add(summary.id)
        if isinstance(summary, ScoreLookup) and summary.input in seen and summary.input not in bands:
            out += _coverage_problems(ins, scoring, seen[summary.input], summary, items, sat)
        seen[summary.id] = summary
    return out


def _transform_problems(transform: Linear | None, at: str) -> list[str]:
    if transform is None:
        return []
    rescale = transform.min is not None or transform.max is not None
    linear = transform.multiply is not None or transform.add is not None
    if rescale == linear or (rescale and (transform.min is None or transform.max is None)):
        return [f"at {at}: give either `min` and `max` (rescale to 0–100) or `multiply` and/or `add`"]
    if rescale and transform.min == transform.max:
        return [f"at {at}: `min` and `max` must differ"]
    return []


def _band_problems(summary: Bands, at: str) -> list[str]:
    out = [
        f"at {at}.bands[{n}]: give a band exactly one lower bound: `min` (≥) or `above` (>)"
        for n, b in enumerate(summary.bands)
        if (b.min is None) == (b.above is None)
    ]
    if out:
        return out
    bounds = [b.bound for b in summary.bands]
    if not summary.bands or bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
        out.append(f"at {at}.bands: give bands in increasing order of their lower bound (`min: x` before `above: x`)")
    return out


def _recode_problems(ins: Instrument, scoring: Scoring, scale: RecodeMean | Sum, items, at: str) -> list[str]:
    if scale.recode is None:
        return []
    if isinstance(scale.recode, str):
        per_item: dict[str, Recode] = {i: scale.recode for i in scale.items}
    else:
        per_item = scale.recode
        extra = [i for i in per_item if i not in scale.items]
        if extra:
            return [f"at {at}.recode: {', '.join(extra)} not in this scale's items"]
    out = []
    for item_id, spec in per_item.items():
        rat = f"{at}.recode" if isinstance(scale.recode, str) else f"{at}.recode.{item_id}"
        item = items[item_id]
        if item.kind not in CODED:
            out.append(f"at {rat}: {item_id} is {_a(item.kind)} item; its answer is its value and cannot be recoded")
            continue
        needed = [c for c in ins.codes_of(item) if c not in ins.unanswered_codes(item)]
        tables = spec if isinstance(spec, list) else [spec]
        table: str | dict[int, float | None] | ConditionalRecode
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
            if item.kind == "multi" and any(table.get(c) is None for c in needed if c in table):
                out.append(f"at {tat}: every option of the multi item {item_id} needs a number (the values of the ticked options are added)")
    return out


def _pattern_problems(ins: Instrument, scale: PatternLookup, items: dict[str, Item], at: str) -> list[str]:
    kinds = [items[i].kind for i in scale.items]
    wrong = [i for i, k in zip(scale.items, kinds, strict=True) if k not in ("choice", "integer", "vas")]
    if wrong:
        return [f"at {at}.items: {', '.join(wrong)}: a pattern is made of choice, integer or vas answers"]
    cells = 1
    for i in scale.items:
        cells *= len(ins.codes_of(items[i])) + 1
    if cells > MAX_PATTERNS:
        return [f"at {at}.items: {cells:,} possible patterns; a pattern lookup takes at most {MAX_PATTERNS:,}"]
    out = []
    for key in scale.table:
        parts = key.split(" ")
        codes = [_int(p) for p in parts]
        if len(parts) != len(scale.items) or None in codes:
            out.append(f"at {at}.table.{key!r}: a key is {len(scale.items)} code(s) separated by single spaces, in the order of `items`")
            continue
        bad = [f"{c} is not a code of {i}" for c, i in zip(codes, scale.items, strict=True) if c not in ins.code_set(items[i])]
        out += [f"at {at}.table.{key!r}: {b}" for b in bad]
    return out


def _int(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def _coverage_problems(ins: Instrument, scoring: Scoring, source, lookup: ScoreLookup, items, at: str) -> list[str]:
    """A lookup from a plain sum of coded items must have a key for every total it can reach."""
    if not isinstance(source, Sum) or source.prorate or source.transform is not None:
        return []
    totals = _reachable_totals(ins, scoring, source, items)
    if totals is None:
        return []
    lacking = sorted(t for t in totals if t not in lookup.table)
    if not lacking:
        return []
    shown = ", ".join(f"{t:g}" for t in lacking[:10]) + (" …" if len(lacking) > 10 else "")
    return [f"at {at}.table: no value for {len(lacking)} total(s) of {lookup.input} that answers can give: {shown}"]


def _reachable_totals(ins: Instrument, scoring: Scoring, scale: Sum, items) -> set[float] | None:
    """Every value the sum can take with at least `min_answered` items answered (None: too many)."""
    need = len(scale.items) if scale.min_answered is None else scale.min_answered
    # by_count[k]: the totals of exactly k answered items so far
    by_count: list[set[float]] = [{0.0}]
    for item_id in scale.items:
        values = _item_values(ins, scoring, scale, items[item_id])
        if values is None:
            return None
        grown = [set(s) for s in by_count] + [set()]
        for k, totals in enumerate(by_count):
            grown[k + 1] |= {t + v for t in totals for v in values}
        if sum(len(s) for s in grown) > MAX_TOTALS:
            return None
        by_count = grown
    return {t + scale.constant for k, totals in enumerate(by_count) if k >= need for t in totals}


def _item_values(ins: Instrument, scoring: Scoring, scale: Sum, item: Item) -> set[float] | None:
    if item.kind == "multi":
        return None  # sums of ticked options: not enumerated
    spec = scale.recode if isinstance(scale.recode, (str, type(None))) else scale.recode.get(item.id)
    tables = [p.values for p in spec] if isinstance(spec, list) else [spec]
    out: set[float] = set()
    for table in tables:
        table = scoring.recode_tables[table] if isinstance(table, str) else table
        for code in ins.codes_of(item):
            if code in ins.unanswered_codes(item):
                continue
            value = code if table is None else table.get(code)
            if value is not None:
                out.add(float(value))
    return out


# ---------------------------------------------------------------------------------------------
# Examples


def _example_problems(ins: Instrument, ex, items: dict[str, Item], scoring_ids: list[str], at: str) -> list[str]:
    out: list[str] = []
    scoring = next((s for s in ins.scorings if s.id == ex.scoring), None)
    if ex.scoring is not None and scoring is None:
        return [f"at {at}.scoring: no scoring {ex.scoring!r}; scorings: {', '.join(scoring_ids)}"]
    for item_id, value in ex.answers.items():
        if item_id not in items:
            out.append(f"at {at}.answers.{item_id}: no such item")
        elif not accepts(ins, items[item_id], value):
            what = "a code of this item" if items[item_id].kind in CODED else "an answer this item accepts"
            out.append(f"at {at}.answers.{item_id}: {value!r} is not {what} ({describe_allowed(ins, items[item_id])})")
    scoring = scoring or next((s for s in ins.scorings if s.default), None)
    if scoring is None:
        return out
    scores = score_ids(scoring)
    for key in ex.expect:
        if key not in scores:
            out.append(f"at {at}.expect.{key}: scoring {scoring.id!r} has no score {key!r}; it has {', '.join(scores)}")
    return out
