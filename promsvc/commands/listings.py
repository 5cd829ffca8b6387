"""`promsvc instruments …` and `promsvc valuesets list`: what can be scored, and how.

Plain-text tables and descriptions for people at a terminal; nothing here scores data except
`check`, which runs each definition's own examples.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TextIO

from instruments import DefinitionError, Instrument, catalogue, fit_overlay, is_file_name, load, read_overlay
from instruments.answers import describe_allowed
from instruments.schema import (
    Bands,
    Condition,
    MeanOf,
    PatternLookup,
    RecodeMean,
    ScoreLookup,
    Sum,
    ValueSetIndex,
    WeightedSum,
)


class UsageError(Exception):
    """A name on the command line that does not exist; the message lists those that do."""


def table(rows: list[list[str]], out: TextIO) -> None:
    """Rows as left-aligned columns; the first row is the heading."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


# ---------------------------------------------------------------------------------------------
# instruments list / show


def list_instruments(out: TextIO) -> None:
    rows = [["id", "version", "kind", "title", "scorings (* = default)", "wording"]]
    for ins in catalogue().values():
        scorings = " ".join(s.id + ("*" if s.default else "") for s in ins.scorings)
        wording = "overlay (licensed)" if ins.licence.wording == "overlay" else "ours"
        rows.append([ins.id, ins.version, ins.kind.upper(), ins.title.en, scorings, wording])
    table(rows, out)


def show_instrument(instrument_id: str, lang: str, out: TextIO) -> None:
    """One instrument (a shipped id, or the path of a definition file) for people to read."""
    known = catalogue()
    if is_file_name(instrument_id):
        ins = load(instrument_id)
    elif instrument_id not in known:
        raise UsageError(f"unknown instrument {instrument_id!r}; instruments: {', '.join(sorted(known))}")
    else:
        ins = known[instrument_id]
    say = lambda text="": print(text, file=out)  # noqa: E731
    say(f"{ins.id} {ins.version} ({ins.kind.upper()}): {getattr(ins.title, lang)}")
    say(f"citation: {ins.citation}")
    say(f"licence: {ins.licence.holder}. {ins.licence.terms}")
    if ins.licence.wording == "overlay":
        say("wording: licensed; the labels below are ours, the official wording comes from a registry's overlay file")
    say()
    say("items (column name: codes):")
    for item in ins.items:
        asked = f"  [asked when {_condition(item.when)}]" if item.when else ""
        say(f"  {item.id}: {getattr(item.label, lang)}{asked}")
        if item.kind in ("choice", "multi"):
            if item.kind == "multi":
                say("      one or more of (a list of codes, or codes separated by spaces):")
            for option in ins.options_of(item):
                missing = "  (counts as no answer)" if option.unanswered else ""
                say(f"      {option.code} = {getattr(option.label, lang)}{missing}")
        else:
            say(f"      {describe_allowed(ins, item).removesuffix(', or empty for no answer')}"
                + ("; stored, never scored" if item.kind == "text" else ""))
    for scoring in ins.scorings:
        say()
        default = ", the default" if scoring.default else ""
        say(f"scoring {scoring.id} {scoring.version}{default}: {getattr(scoring.title, lang)}")
        say(f"  source: {scoring.source}")
        for score in [*scoring.scales, *scoring.summaries]:
            # `promsvc score` writes a score named like an item as <id>_score
            column = f" (column {ins.score_column(score.id)})" if ins.score_column(score.id) != score.id else ""
            say(f"  {score.id}{column}: {getattr(score.label, lang)}")
            say(f"      {_kernel(score)}")
            for line in _recode_lines(scoring, score):
                say(f"        {line}")


def _kernel(score) -> str:
    """How a scale or summary score is computed, in one line."""
    if isinstance(score, ValueSetIndex):
        country = score.default_country or "none (give --country)"
        return (
            f"value-set index of the state {' '.join(score.items)} ({score.version}); "
            f"default method {score.default_method}, default country {country}"
        )
    if isinstance(score, RecodeMean):
        text = f"mean of the answered items {' '.join(score.items)}{_recoded(score)}, when at least {score.min_answered} answered"
        return text + _transform(score.transform)
    if isinstance(score, Sum):
        need = "all" if score.min_answered is None else f"at least {score.min_answered}"
        text = f"sum of the items {' '.join(score.items)}{_recoded(score)}, when {need} answered"
        if score.prorate:
            text += ", scaled up to all items"
        if score.constant:
            text += f", plus {score.constant:g}"
        return text + _transform(score.transform)
    if isinstance(score, PatternLookup):
        return f"looked up by the pattern of {' '.join(score.items)} in a table of {len(score.table)} pattern(s)"
    if isinstance(score, ScoreLookup):
        return f"looked up by the value of {score.input} in a table of {len(score.table)} value(s)"
    if isinstance(score, MeanOf):
        need = "all" if score.min_scored is None else f"at least {score.min_scored}"
        return f"mean of {' '.join(score.inputs)}, when {need} have a score"
    if isinstance(score, WeightedSum):
        parts = "".join(
            f"{(' − ' if n else '−') if i.weight < 0 else ' + ' if n else ''}{abs(i.weight)}·({i.scale} − {i.mean})/{i.sd}"
            for n, i in enumerate(score.inputs)
        )
        return f"{score.constant:g} + {score.multiplier:g} × ({parts}); needs every input"
    if isinstance(score, Bands):
        bands = ", ".join(f"{b.id} from {b.min:g}" if b.above is None else f"{b.id} above {b.above:g}" for b in score.bands)
        return f"band of {score.input}: {bands}"
    return type(score).__name__


def _transform(transform) -> str:
    if transform is None:
        return ""
    if transform.min is not None:
        return f"; rescaled so that {transform.min:g} → 0 and {transform.max:g} → 100"
    multiply = 1.0 if transform.multiply is None else transform.multiply
    return f"; then × {multiply:g} + {0.0 if transform.add is None else transform.add:g}"


def _recoded(scale: RecodeMean | Sum) -> str:
    if scale.recode is None:
        return " (codes as answered)"
    if isinstance(scale.recode, str):
        return f" (recoded with table {scale.recode})"
    return " (recoded per item)"


def _recode_lines(scoring, score) -> list[str]:
    """The recode tables of a scale, one line each: `q1: 1→5, 2→4.4, …`."""
    recode = getattr(score, "recode", None)
    if recode is None:
        return []
    if isinstance(recode, str):
        return [f"{' '.join(score.items)}: {_table(scoring.recode_tables[recode])}"]
    lines = []
    for item_id, spec in recode.items():
        if isinstance(spec, list):
            lines += [f"{item_id} when {_condition(part.when)}: {_table(part.values)}" for part in spec]
        else:
            lines.append(f"{item_id}: {_table(scoring.recode_tables[spec] if isinstance(spec, str) else spec)}")
    return lines


def _table(values: dict) -> str:
    return ", ".join(f"{code}→{'missing' if v is None else f'{v:g}'}" for code, v in values.items())


def _condition(cond: Condition) -> str:
    if cond.any is not None:
        return "(" + " or ".join(_condition(c) for c in cond.any) + ")"
    if cond.all is not None:
        return "(" + " and ".join(_condition(c) for c in cond.all) + ")"
    if cond.answered is not None:
        return f"{cond.item} {'answered' if cond.answered else 'not answered'}"
    return f"{cond.item} in {', '.join(map(str, cond.in_ or []))}"


# ---------------------------------------------------------------------------------------------
# instruments check


def shipped_files() -> list[tuple[str, Path]]:
    folder = resources.files("instruments") / "definitions"
    return sorted(
        (f"instruments/definitions/{entry.name}", Path(str(entry)))
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def check(files: list[str], overlays: list[str], out: TextIO) -> bool:
    """Check definition files (and run their examples) and overlays; True when all pass.

    Prints one line per file that passes, and one line per problem (file, path, what) otherwise.
    """
    named = [(f, Path(f)) for f in files] if files or overlays else shipped_files()
    passed = True
    loaded: dict[tuple[str, str], tuple[str, Instrument]] = {}
    for name, path in named:
        problems, ins = _check_definition(path)
        if ins is not None:
            key = (ins.id, ins.version)
            if key in loaded:
                problems.append(f"at $.version: {ins.id} version {ins.version} is also defined in {loaded[key][0]}")
            else:
                loaded[key] = (name, ins)
        if problems:
            passed = False
            for problem in problems:
                print(f"{name}: {problem}", file=out)
        else:
            assert ins is not None  # no problems: the definition loaded
            print(f"{name}: ok ({ins.id} {ins.version}, {len(ins.examples)} example(s) pass)", file=out)
    for name in overlays:
        passed &= _check_overlay(name, {k: v for k, (_, v) in loaded.items()}, out)
    return passed


def _check_definition(path: Path) -> tuple[list[str], Instrument | None]:
    try:
        ins = load(path)
    except DefinitionError as e:
        return list(e.problems), None
    from scoring.examples import failures  # needs numpy; only `check` runs examples

    try:
        return failures(ins), ins
    except Exception as e:  # noqa: BLE001 — a checker reports every file, even one that crashes the examples
        return [f"at $.examples: could not run the examples: {type(e).__name__}: {e}"], ins


def _instrument_of(overlay, given: dict[tuple[str, str], Instrument], name: str) -> Instrument:
    """The definition an overlay is checked against: a file given beside it, else a shipped one."""
    same_id = [i for (instrument_id, _), i in given.items() if instrument_id == overlay.instrument]
    ins = given.get((overlay.instrument, overlay.version)) or next(iter(same_id), None) or catalogue().get(overlay.instrument)
    if ins is None:
        known = ", ".join(sorted({i for i, _ in given} | set(catalogue())))
        raise DefinitionError(name, [f"at $.instrument: no instrument {overlay.instrument!r}; instruments: {known}"])
    return ins


def _check_overlay(name: str, given: dict[tuple[str, str], Instrument], out: TextIO) -> bool:
    try:
        overlay = read_overlay(name)
        ins = _instrument_of(overlay, given, name)
        _, missing = fit_overlay(overlay, ins, name)
    except DefinitionError as e:
        for problem in e.problems:
            print(f"{name}: {problem}", file=out)
        return False
    if not missing:
        print(f"{name}: ok (complete wording for {ins.id} {ins.version})", file=out)
    else:
        # Lacking wording is not an error: a registry may hold the wording of only some languages.
        print(f"{name}: ok for {ins.id} {ins.version}, but {len(missing)} wording(s) missing:", file=out)
        for line in missing:
            print(f"{name}: missing {line}", file=out)
    return True


# ---------------------------------------------------------------------------------------------
# valuesets list


def list_valuesets(version: str | None, method: str | None, out: TextIO) -> None:
    from scoring import valueset

    refs = valueset.catalogue()
    if version is not None:
        refs = _matching(refs, "version", version, "versions")
    if method is not None:
        refs = _matching(refs, "method", method, "methods" + (f" of {refs[0].version}" if version else ""))
    rows = [["version", "method", "country", "model", "DOI"]]
    rows += [[r.version, r.method, r.country, r.model, r.doi or "—"] for r in refs]
    table(rows, out)


def _matching(refs: list, field: str, wanted: str, plural: str) -> list:
    chosen = [r for r in refs if getattr(r, field).casefold() == wanted.casefold()]
    if not chosen:
        known = ", ".join(sorted({getattr(r, field) for r in refs}))
        raise UsageError(f"no value sets with {field} {wanted!r}; {plural}: {known}")
    return chosen
