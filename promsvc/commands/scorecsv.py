"""`promsvc score`: score a CSV file of responses, one response per row.

The file is read whole and its rows checked (csvio), every item cell is parsed and checked
before anything is scored, the rows are scored in chunks (so a long run can show progress), and
the output is written only when every row has been scored: a bad cell in the last row leaves no
output file. Item cells are written as the codes they hold; every other cell as it came.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import TextIO, TypeVar

import numpy as np
import polars as pl

from instruments import Instrument, catalogue, is_file_name, load
from instruments.schema import InstrumentId
from promsvc import csvio, numbers
from scoring import engine
from scoring.coding import code_column
from scoring.errors import AnswerError, MissingItems, UnknownName

# Rows scored at a time, few enough that a chunk's arrays take little memory; WORKERS chunks at
# a time, because numpy lets go of the GIL while it works (two cores on the bench machine).
CHUNK_ROWS = 50_000
WORKERS = 2
# Below this, scoring takes well under a second and a progress line would only flicker.
PROGRESS_ROWS = 400_000


@dataclass(frozen=True)
class Request:
    """The `promsvc score` command line: None means the default (see `promsvc score --help`)."""

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

    table = csvio.read(request.input, request.separator, numbers=[item.id for item in ins.items])
    _check_columns(ins, chosen, table.header, request.input)
    answers = _numeric_answers(ins, table)

    # the engine gets the items its scoring reads (every item present was checked above)
    needed = answers.select(i for i in engine.required_items(chosen) if i in answers.columns)
    scores, provenance = _score_in_chunks(ins, request, needed, table, stderr)
    names = output_columns(ins, chosen.id)
    columns = pl.DataFrame([
        *(_as_written(answers[item_id]) for item_id in answers.columns),
        *(column.alias(names[score_id]) for score_id, column in scores.items()),
    ])
    csvio.write(table, columns, request.output, stdout=stdout, float_precision=request.round)
    print(f"promsvc: {_describe(provenance, table.rows, request)}", file=stderr)


def find_instrument(instrument_id: str) -> Instrument:
    """A shipped instrument, read from its own file when it is named after the id; or the
    definition file named by a path (`promsvc score my-odi.yaml …`).

    Reading one file instead of the whole catalogue keeps `promsvc score` quick to start.
    """
    if is_file_name(instrument_id):
        return load(instrument_id)
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
    ids = [s.id for s in chosen.scales] + [s.id for s in chosen.summaries]
    return {i: ins.score_column(i) for i in ids}


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


def _numeric_answers(ins: Instrument, table: csvio.Table) -> pl.DataFrame:
    """The item columns as numbers (null = no answer), every cell checked against its item's codes.

    All columns are checked over the whole file before any scoring, so the message names the
    first bad cell of the file (top to bottom, then left to right) and how many more there are.
    """
    # text items are never scored; multi-select cells ("1 3") are read by the engine's own rules
    items = [item for item in ins.items if item.id in table.header and item.kind not in ("text", "multi")]
    numbers = _as_numbers(table, [i.id for i in items]) if items else pl.DataFrame()
    # null: no answer; NaN: a cell that is not a number; anything else must be one of the codes
    # (a decimal item: a number in its range)
    bad = numbers.select(
        (pl.col(i.id).is_not_null() & ~(
            pl.col(i.id).is_between(i.min, i.max) if i.kind == "decimal"
            else pl.col(i.id).is_in(_codes(ins.codes_of(i), numbers.schema[i.id]))
        )).alias(i.id)
        for i in items
    )
    first: tuple[int, int, str] | None = None  # row, bad-cell count and item of the first bad cell
    for item in items:
        count = bad[item.id].sum()
        if count:
            row = bad[item.id].arg_max()
            assert row is not None  # count > 0: the column has a true value
            if first is None or row < first[0]:
                first = (row, int(count), item.id)
    for item in ins.items:
        if item.kind == "multi" and item.id in table.header:
            try:
                code_column(ins, item, table.columns([item.id])[item.id].to_list())
            except AnswerError as e:
                if first is None or e.row < first[0]:
                    first = (e.row, e.more + 1, item.id)
    if first is not None:
        row, count, item_id = first
        found = table.columns([item_id])[item_id][row]
        raise _answer_error(ins, item_id, row, found, count, table.name)
    multi = [i.id for i in ins.items if i.kind == "multi" and i.id in table.header]
    if not multi:
        return numbers
    return pl.concat([numbers, table.columns(multi)], how="horizontal") if items else table.columns(multi)


def _codes(codes: list[int], dtype) -> list:
    # polars compares like with like: whole numbers for an Int16 column, floats for Float64
    return [float(c) for c in codes] if dtype == pl.Float64 else codes


def _as_numbers(table: csvio.Table, names: list[str]) -> pl.DataFrame:
    """Item cells as numbers: null for an empty cell, NaN for a cell that is not a number.

    Spaces around a number are allowed. Text such as "NaN" is not a number here: letting it
    through would turn it silently into a missing answer.
    """
    # csvio has read columns of whole numbers as such (quick and small: a byte or two a cell),
    # and those of any kind of number as Float64 (1.00 from a statistics package; NaN parses,
    # and is refused as no code); the rest are text, looked at cell by cell (spaces, "x", "1,5").
    converted = []
    for name in names:
        if table.cells.schema[name] != pl.String:
            converted.append(pl.col(name))
            continue
        cell = pl.col(name).str.strip_chars()
        number = cell.cast(pl.Float64, strict=False)
        converted.append(
            pl.when(cell.str.len_bytes() > 0).then(number.fill_null(float("nan"))).otherwise(None).alias(name)
        )
    return table.cells.select(converted)


def _as_written(answers: pl.Series) -> pl.Series:
    """Checked item cells as they are written out: the code each holds (" 1 ", "01", "1.0" and
    "+1" as 1; keeping their text would cost 16 bytes a cell where a code takes 1 or 2)."""
    if answers.dtype == pl.Float64 and (answers.drop_nulls() % 1 == 0).all():
        return answers.cast(pl.Int64)
    return answers


def _engine_columns(numbers: pl.DataFrame) -> dict[str, np.ndarray | list]:
    """The item columns as the engine takes them, made once for the whole file (a polars call
    costs about a millisecond, too much to make per column of every chunk): whole numbers as a
    masked array (mask = no answer; the codes as read, no copy where there is no null), other
    numbers as floats with NaN for no answer, the text of multi-select cells as it is."""
    integer = [name for name, dtype in numbers.schema.items() if dtype.is_integer()]
    floats = [name for name, dtype in numbers.schema.items() if dtype.is_float()]
    filled = numbers.select(pl.col(integer).fill_null(0), pl.col(floats).fill_null(np.nan))
    missing = numbers.select(pl.col(integer).is_null())
    columns: dict[str, np.ndarray | list] = {}
    for name in numbers.columns:
        if name in missing.columns:
            columns[name] = np.ma.MaskedArray(filled[name].to_numpy(), mask=missing[name].to_numpy())
        elif name in filled.columns:
            columns[name] = filled[name].to_numpy()
        else:
            columns[name] = numbers[name].to_list()
    return columns


def _chunk(columns: dict[str, np.ndarray | list], start: int, rows: int) -> dict[str, np.ndarray | list]:
    """Rows start … start+rows of every column (views of the arrays, not copies)."""
    return {name: column[start : start + rows] for name, column in columns.items()}


def _answer_error(ins: Instrument, item_id: str, row: int, found, count: int, name: str) -> AnswerError:
    """The error for a bad cell; `row` is 0-based, the message names the 1-based data row."""
    error = AnswerError(item_id, row, found, engine.describe_allowed(ins, ins.item(item_id)), more=count - 1)
    return _with_message(error, f"{name}: {error.describe(row + 1)}")


_E = TypeVar("_E", bound=Exception)


def _with_message(error: _E, message: str) -> _E:
    error.args = (message,)
    return error


# ---------------------------------------------------------------------------------------------
# Scoring


def _score_in_chunks(ins, request: Request, answers: pl.DataFrame, table: csvio.Table, stderr: TextIO):
    """Every score as the column it is written as (numbers cleaned, or rounded as asked), and
    the provenance. Chunks are scored WORKERS at a time, and taken in order."""
    rows = table.rows
    show = rows >= PROGRESS_ROWS and _is_terminal(stderr)
    columns = _engine_columns(answers)

    def score(start: int):
        try:
            result = engine.score(
                ins, _chunk(columns, start, CHUNK_ROWS), scoring=request.scoring, method=request.method,
                country=request.country,
            )
        except AnswerError as e:
            return start, e
        written = {score_id: _written(values, request.round) for score_id, values in result.scores.items()}
        return start, (written, result.provenance)

    parts: dict[str, list[np.ndarray]] = {}
    provenance = None
    pool = ThreadPoolExecutor(WORKERS)
    try:
        for start, result in pool.map(score, range(0, max(rows, 1), CHUNK_ROWS)):
            if isinstance(result, AnswerError):
                # the checks above should have caught it; keep the message about the whole file
                e, row = result, start + result.row
                column = answers[e.item].cast(pl.Float64)
                count = int((column.is_not_null() & ~column.is_in(_codes(ins.codes_of(ins.item(e.item)), pl.Float64))).sum())
                found = table.columns([e.item])[e.item][row]
                raise _answer_error(ins, e.item, row, found, max(count, 1), table.name) from None
            written, provenance = result
            for score_id, values in written.items():
                parts.setdefault(score_id, []).append(values)
            if show:
                done = min(start + CHUNK_ROWS, rows)
                print(f"\rpromsvc: scored {done:,} of {rows:,} rows", end="", file=stderr, flush=True)
    finally:
        pool.shutdown(cancel_futures=True)  # after an error, the chunks not yet begun are not scored
    if show:
        print(file=stderr)
    return {score_id: _score_series(score_id, parts.pop(score_id)) for score_id in list(parts)}, provenance


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _written(values: np.ndarray, decimals: int | None) -> np.ndarray:
    """Scores as they leave: numbers to 12 significant digits or `decimals` decimals; bands as they are."""
    return numbers.clean(values, decimals) if values.dtype.kind == "f" else values


def _score_series(name: str, parts: list[np.ndarray]) -> pl.Series:
    values = np.concatenate(parts)
    if values.dtype.kind == "f":
        return pl.Series(name, values, dtype=pl.Float64, nan_to_null=True)
    # band scores: labels, with "" for no score → an empty cell
    series = pl.Series(name, values.tolist() if values.dtype == object else values, dtype=pl.String)
    return series.replace("", None)


def _describe(provenance, rows: int, request: Request) -> str:
    """What produced the scores, for the line on standard error (no answer or identifier in it)."""
    what = (
        f"{rows:,} row(s) scored with {provenance.instrument} {provenance.instrument_version}, "
        f"scoring {provenance.scoring} {provenance.scoring_version}"
    )
    ref = provenance.value_set
    if ref is not None:
        what += f", value set {ref.name}"
        if getattr(ref, "doi", None):
            what += f" (doi:{ref.doi})"
    if request.round is not None:
        what += f"; scores rounded to {request.round} decimal(s)"
    return what
