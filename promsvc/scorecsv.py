"""`promsvc score`: score a CSV file of responses, one response per row.

The file is read whole (every cell as text), every item cell is checked before anything is
scored, the rows are scored in chunks (so a long run can show progress), and the output is
written only when every row has been scored: a bad cell in the last row leaves no output file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TextIO

import numpy as np
import polars as pl

from instruments import Instrument, catalogue, load
from instruments.schema import InstrumentId
from promsvc import csvio
from scoring import engine
from scoring.errors import AnswerError, MissingItems, UnknownName

CHUNK_ROWS = 200_000
# Below this, scoring takes well under a second and a progress line would only flicker.
PROGRESS_ROWS = 2 * CHUNK_ROWS


@dataclass(frozen=True)
class Request:
    instrument: str
    input: str
    output: str | None = None
    scoring: str | None = None
    method: str | None = None
    country: str | None = None
    round: int | None = None
    separator: str | None = None


def run(request: Request, *, stdout: TextIO, stderr: TextIO) -> None:
    """Score `request.input` and write it with the score columns added.

    Raises CsvError, DefinitionError or a ScoringError (UnknownName, MissingItems, AnswerError
    with the 1-based data row already in its message) for anything wrong with the request.
    """
    ins = find_instrument(request.instrument)
    # Names first: an unknown country should not wait for a large file to be read.
    chosen = engine.choose_scoring(ins, request.scoring)
    engine.choose_value_set(ins, chosen, request.method, request.country)

    table = csvio.read(request.input, request.separator)
    frame = table.frame
    _check_columns(ins, chosen, frame.columns, request.input)
    answers = _numeric_answers(ins, frame, request.input)

    scores, provenance = _score_in_chunks(ins, request, answers, frame, stderr)
    names = output_columns(ins, chosen.id)
    out = frame.with_columns(_score_series(names[i], values, request.round) for i, values in scores.items())
    csvio.write(table, out, request.output, stdout=stdout, float_precision=request.round)
    print(f"promsvc: {_describe(provenance, frame.height, request)}", file=stderr)


def find_instrument(instrument_id: str) -> Instrument:
    """A shipped instrument, read from its own file when it is named after the id.

    Reading one file instead of the whole catalogue keeps `promsvc score` quick to start.
    """
    if _valid_id(instrument_id):
        entry = resources.files("instruments") / "definitions" / f"{instrument_id}.yaml"
        if entry.is_file():
            ins = load(str(entry))
            if ins.id == instrument_id:
                return ins
    known = catalogue()
    if instrument_id not in known:
        raise UnknownName(f"unknown instrument {instrument_id!r}; instruments: {', '.join(sorted(known))}")
    return known[instrument_id]


def _valid_id(text: str) -> bool:
    import msgspec

    try:
        msgspec.convert(text, InstrumentId)
    except msgspec.ValidationError:
        return False
    return True


def output_columns(ins: Instrument, scoring_id: str | None) -> dict[str, str]:
    """Score id → the name of its output column.

    A score is named by its id, except when the id is also an item's (a one-item scale such as
    nrs-pain's `pain`): then it is `<id>_score`, so the answer column stays as it came in.
    """
    chosen = ins.scoring(scoring_id)
    items = {item.id for item in ins.items}
    ids = [s.id for s in chosen.scales] + [s.id for s in chosen.summaries]
    return {i: f"{i}_score" if i in items else i for i in ids}


# ---------------------------------------------------------------------------------------------
# Checks before scoring


def _check_columns(ins: Instrument, chosen, columns: list[str], name: str) -> None:
    absent = [i for i in engine.required_items(chosen) if i not in columns]
    if absent:
        error = MissingItems(ins.id, chosen.id, absent)
        wanted = {a.casefold() for a in absent}
        near = [repr(c) for c in columns if c.strip().casefold() in wanted]
        if near:
            hint = f" ({name} has {', '.join(near)}: item ids are case-sensitive, without spaces)"
            raise _with_message(error, f"{error}{hint}")
        raise error
    taken = [c for c in output_columns(ins, chosen.id).values() if c in columns]
    if taken:
        raise csvio.CsvError(
            f"{name} already has a column named {', '.join(taken)}, where the scores would go; "
            "rename or remove it (scores from an earlier run?)"
        )


def _numeric_answers(ins: Instrument, frame: pl.DataFrame, name: str) -> dict[str, np.ndarray]:
    """Every item column as float codes (NaN = no answer), checked against the item's codes.

    All columns are checked over the whole file before any scoring, so the message names the
    first bad cell of the file (top to bottom, then left to right) and how many more there are.
    """
    answers: dict[str, np.ndarray] = {}
    first: tuple[int, int, str] | None = None  # row, bad-cell count and item of the first bad cell
    for item in (item for item in ins.items if item.id in frame.columns):
        values, unreadable = _as_numbers(frame[item.id])
        bad = unreadable | ~(np.isnan(values) | _is_code(values, ins.codes_of(item)))
        if bad.any():
            row = int(np.argmax(bad))
            if first is None or row < first[0]:
                first = (row, int(np.count_nonzero(bad)), item.id)
        answers[item.id] = values
    if first is not None:
        row, count, item_id = first
        raise _answer_error(ins, item_id, row, frame[item_id][row], count, name)
    return answers


def _as_numbers(column: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as floats (NaN for an empty cell), and which cells hold text that is not a number.

    Spaces around a number are allowed. Text such as "NaN" is not a number here: letting it
    through would turn it silently into a missing answer.
    """
    numbers = column.cast(pl.Float64, strict=False)
    failed = numbers.is_null() & column.is_not_null()
    if failed.any():  # spaces, empty strings ("") or text: look again, only then (it is slower)
        stripped = column.str.strip_chars()
        numbers = numbers.fill_null(stripped.cast(pl.Float64, strict=False))
        unreadable = (numbers.is_null() & (stripped.str.len_bytes() > 0)).fill_null(False)
    else:
        unreadable = pl.Series(np.zeros(len(column), dtype=bool))
    unreadable = unreadable | numbers.is_nan().fill_null(False)
    return numbers.fill_null(np.nan).to_numpy(), unreadable.to_numpy()


def _is_code(values: np.ndarray, codes: list[int]) -> np.ndarray:
    """Which values are one of `codes` (a lookup table; np.isin is slow for 0–100 VAS codes)."""
    lowest, highest = min(codes), max(codes)
    table = np.zeros(highest - lowest + 1, dtype=bool)
    table[np.asarray(codes) - lowest] = True
    with np.errstate(invalid="ignore"):
        whole = (values >= lowest) & (values <= highest) & (values == np.floor(values))
    slot = np.where(whole, values - lowest, 0).astype(np.intp)
    return whole & table[slot]


def _answer_error(ins: Instrument, item_id: str, row: int, found, count: int, name: str) -> AnswerError:
    """The error for a bad cell; `row` is 0-based, the message names the 1-based data row."""
    error = AnswerError(item_id, row, found, engine.describe_allowed(ins, ins.item(item_id)), more=count - 1)
    return _with_message(error, f"{name}: {error.describe(row + 1)}")


def _with_message(error: Exception, message: str) -> Exception:
    error.args = (message,)
    return error


# ---------------------------------------------------------------------------------------------
# Scoring


def _score_in_chunks(ins, request: Request, answers, frame: pl.DataFrame, stderr: TextIO):
    rows = frame.height
    show = rows >= PROGRESS_ROWS and _is_terminal(stderr)
    parts: dict[str, list[np.ndarray]] = {}
    provenance = None
    for start in range(0, max(rows, 1), CHUNK_ROWS):
        chunk = {item: values[start : start + CHUNK_ROWS] for item, values in answers.items()}
        try:
            result = engine.score(ins, chunk, scoring=request.scoring, method=request.method, country=request.country)
        except AnswerError as e:
            # the checks above should have caught it; keep the message about the whole file
            row = start + e.row
            column = answers[e.item]
            count = int(np.count_nonzero(~(np.isnan(column) | _is_code(column, ins.codes_of(ins.item(e.item))))))
            raise _answer_error(ins, e.item, row, frame[e.item][row], max(count, 1), request.input) from None
        for score_id, values in result.scores.items():
            parts.setdefault(score_id, []).append(values)
        provenance = result.provenance
        if show:
            done = min(start + CHUNK_ROWS, rows)
            print(f"\rpromsvc: scored {done:,} of {rows:,} rows", end="", file=stderr, flush=True)
    if show:
        print(file=stderr)
    return {score_id: np.concatenate(values) for score_id, values in parts.items()}, provenance


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _score_series(name: str, values: np.ndarray, decimals: int | None) -> pl.Series:
    if values.dtype.kind == "f":
        if decimals is not None:
            rounded = pl.Series(values).round(decimals, mode="half_away_from_zero").to_numpy()
            # -0.0004 rounds to -0.0, which would be written "-0.000"
            values = np.where(rounded == 0, 0.0, rounded)
        return pl.Series(name, values, dtype=pl.Float64).fill_nan(None)
    # band scores: labels, with "" for no score → an empty cell
    series = pl.Series(name, values.tolist() if values.dtype == object else values, dtype=pl.String)
    return series.replace("", None)


def _describe(provenance, rows: int, request: Request) -> str:
    what = f"{rows:,} row(s) scored with {provenance.instrument} {provenance.instrument_version}, " \
        f"scoring {provenance.scoring} {provenance.scoring_version}"
    ref = provenance.value_set
    if ref is not None:
        what += f", value set {ref.name}"
        if getattr(ref, "doi", None):
            what += f" (doi:{ref.doi})"
    if request.round is not None:
        what += f"; scores rounded to {request.round} decimal(s)"
    return what
