"""Read and write the CSV files of `promsvc score`: one response per row.

Registries send files saved from spreadsheets and statistics packages: separated by `,` or by
`;` (what a Norwegian Excel writes), sometimes with a UTF-8 byte-order mark, sometimes with
CRLF line ends. Every cell must come out exactly as it went in ("007" stays "007", a quoted
cell stays quoted), so the output is each input record as it was, byte for byte, with the score
cells appended; only the item columns are parsed, as numbers.

Before anything is parsed, one pass over the bytes finds the records (a newline inside a quoted
cell does not end one) and checks that each has as many cells as the header: polars would fill
a short row with nulls without a word.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

BOM = b"\xef\xbb\xbf"
SEPARATORS = (",", ";")
# A file with quoted cells is scanned in blocks of this many bytes, so that the positions of
# its separators never fill memory at once.
_BLOCK = 1 << 24


class CsvError(Exception):
    """A file that cannot be read or written as asked; the message says what, where, and how to fix it."""


@dataclass(frozen=True, eq=False)
class Table:
    """A checked CSV file: its bytes, dialect and header; cells are parsed only when asked for."""

    name: str
    data: bytes
    separator: str
    bom: bool
    line_terminator: str
    header: list[str]
    header_line: str  # the header as written, without its line end
    rows: int  # data rows (records after the header)
    spans: np.ndarray  # (rows, 2): where each data record starts and ends in `data`
    one_line_records: bool  # no quoted cell holds a line break

    def columns(self, names: list[str], dtype: type[pl.DataType] = pl.String) -> pl.DataFrame:
        """Some columns of every data row, as strings (an empty cell is null) or as numbers of
        `dtype` (polars raises ComputeError at a cell that is not such a number)."""
        return pl.read_csv(
            self.data, separator=self.separator, columns=names, n_rows=self.rows, infer_schema=False,
            schema_overrides={n: dtype for n in names}, raise_if_empty=False, quote_char='"',
        )

    def records(self) -> pl.Series:
        """Each data record as it is in the file, without its line end."""
        if self.one_line_records and b"\0" not in self.data:
            # Every line is a record: let polars split the lines (no separator, no quoting).
            lines = pl.read_csv(
                self.data, has_header=False, separator="\0", quote_char=None, n_rows=self.rows + 1,
                schema={"record": pl.String}, raise_if_empty=False,
            )["record"]
            if len(lines) == self.rows + 1:
                return lines.slice(1).fill_null("")
        text = [self.data[a:b].decode("utf-8").removesuffix("\r") for a, b in self.spans.tolist()]
        return pl.Series("record", text, dtype=pl.String)


def read(path: str | Path, separator: str | None = None) -> Table:
    """Read a whole CSV file. `separator` None means: detect `,` or `;` from the header line.

    Raises CsvError for an unreadable or empty file, a file that is not UTF-8, duplicate column
    names, a row with more or fewer cells than the header, or an unclosed quote.
    """
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CsvError(f"cannot read {name}: {e.strerror or e}") from None
    bom = data.startswith(BOM)
    start = len(BOM) if bom else 0
    # Trailing blank lines are an artefact of editors, not responses. (No slicing of `data`:
    # each slice of a large file would be a copy of it.)
    end = len(data)
    while end > start and data[end - 1] in b"\r\n":
        end -= 1
    if _blank(data, start, end):
        raise CsvError(f"{name} is empty: the first line must name the columns (the item ids, e.g. MO,SC,UA,PD,AD)")
    _check_utf8(data, name)

    body = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
    quotes, ends = _line_ends(body)
    header_bytes = body[: ends[0] if ends.size else len(body)].tobytes()
    sep = separator or _detect_separator(header_bytes, name)
    if quotes.size % 2:
        row = _unclosed_quote(body, ord(sep), quotes, ends)
        where = f"data row {row}" if row else "the header"
        raise CsvError(
            f"{name}: {where} has a quote (\") that is never closed; a cell that contains \" "
            'must be in quotes with the " doubled, e.g. "5"" tall"'
        )
    header = _header_names(header_bytes, sep)
    _check_unique(header, name)
    lengths = _fields_per_row(body, ord(sep), quotes, ends)
    starts = np.concatenate([[0], ends + 1])
    rows = len(lengths) - 1  # the first record is the header
    wrong = np.flatnonzero(lengths[1:] != len(header))
    if wrong.size:
        row = int(wrong[0]) + 1
        line = body[starts[row] : starts[row + 1] if row + 1 < len(starts) else len(body)].tobytes()
        if not line.strip():
            what = "is a blank line; remove it"
        else:
            what = (
                f"has {lengths[row]} cells but the header has {len(header)}; "
                f"check for a missing or extra {sep!r}, or a text cell with {sep!r} that is not in quotes"
            )
        more = f" ({wrong.size - 1} more row(s) like it)" if wrong.size > 1 else ""
        other = ";" if sep == "," else ","
        guessed = f" (the header says the separator is {sep!r}; if it is {other!r}, give --sep '{other}')" if separator is None else ""
        raise CsvError(f"{name}: data row {row} {what}{more}{guessed}")

    one_line = data.count(b"\n", start, end) == len(ends)
    bounds = np.concatenate([ends, [len(body)]]) + start
    spans = np.column_stack([bounds[:-1] + 1, bounds[1:]])
    header_line = header_bytes.decode("utf-8").removesuffix("\r")
    eol = "\r\n" if header_bytes.endswith(b"\r") else "\n"
    return Table(name, data, sep, bom, eol, header, header_line, rows, spans, one_line)


def read_header(path: str | Path) -> tuple[list[str], str, bool]:
    """The column names, the separator (`,` or `;`, detected) and whether there is a byte-order
    mark, from the header line alone: for files too large to read whole."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            line = f.readline(1 << 20)
    except OSError as e:
        raise CsvError(f"cannot read {name}: {e.strerror or e}") from None
    bom = line.startswith(BOM)
    line = line[len(BOM):] if bom else line
    if not line.strip():
        raise CsvError(f"{name} is empty: the first line must name the columns")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        raise CsvError(f"{name}: the header is not UTF-8 text; save the file as UTF-8") from None
    raw = line.rstrip(b"\r\n")
    sep = _detect_separator(raw, name)
    header = _header_names(raw, sep)
    _check_unique(header, name)
    return header, sep, bom


def write(table: Table, scores: pl.DataFrame, output: str | Path | None, *, stdout, float_precision: int | None) -> None:
    """Write every record of `table` as it came, with the `scores` columns appended: to
    `output`, or to `stdout` when output is None. Score names and cells need no quotes
    (names are ids; cells are numbers or band ids).

    A file is written whole or not at all: to a temporary file beside it, flushed to disk, then
    renamed over the target, so a reader never sees half a file and an error leaves no file.
    """
    sep, eol = table.separator, table.line_terminator
    head = sep.join([table.header_line, *scores.columns]) + eol
    body = pl.DataFrame([table.records(), *scores.get_columns()])

    def write_to(f) -> None:
        f.write(head.encode("utf-8"))
        body.write_csv(
            f, include_header=False, separator=sep, line_terminator=eol, quote_style="never",
            float_precision=float_precision,
        )

    if output is None:
        # Into memory first: polars reports a closed pipe (`promsvc score … | head`) as a bare
        # OSError, Python's own write as BrokenPipeError, which the command handles quietly.
        out = io.BytesIO()
        write_to(out)
        buffer = getattr(stdout, "buffer", None)
        if buffer is None:
            stdout.write(out.getvalue().decode("utf-8"))
        else:
            stdout.flush()
            buffer.write(out.getbuffer())
            buffer.flush()
        return
    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:
        raise CsvError(f"cannot write {output}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if table.bom:
                f.write(BOM)  # Excel needs it to read UTF-8
            write_to(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, (OSError, pl.exceptions.PolarsError)):
            raise CsvError(f"cannot write {output}: {getattr(e, 'strerror', None) or e}") from None
        raise
    _fsync_dir(target.parent)


# ---------------------------------------------------------------------------------------------


def _blank(data: bytes, start: int, end: int) -> bool:
    """Only white space between start and end? Looks at the first few bytes first."""
    if end <= start:
        return True
    if not data[start : min(end, start + 4096)].isspace():
        return False
    return data[start:end].isspace()


def _check_utf8(data: bytes, name: str) -> None:
    if data.isascii():  # much quicker than decoding, and most registry files are plain ASCII
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CsvError(
            f"{name} is not UTF-8 text (line {line}, byte {e.start + 1}); "
            "save it as 'CSV UTF-8' (in Excel: Save As → CSV UTF-8)"
        ) from None


def _line_ends(body: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the quotes, and of the newlines that end a record (not those in a quoted cell).

    RFC 4180 doubles a quote inside a quoted cell, so a byte is inside a quoted cell exactly
    when an odd number of quotes come before it: position arithmetic, no loop over the bytes.
    """
    quotes = np.flatnonzero(body == ord('"'))
    ends = np.flatnonzero(body == ord("\n"))
    if quotes.size:
        ends = ends[_outside(quotes, ends)]
    return quotes, ends


def _outside(quotes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.searchsorted(quotes, positions, side="right") % 2 == 0


def _detect_separator(header: bytes, name: str) -> str:
    text = header.decode("utf-8")
    counts = {sep: _count_outside_quotes(text, sep) for sep in SEPARATORS}
    if counts[","] == counts[";"]:
        if counts[","] == 0:
            return ","  # one column: the separator does not matter
        raise CsvError(f"{name}: the header has as many ',' as ';'; say which separates the columns with --sep")
    return max(counts, key=counts.get)


def _count_outside_quotes(text: str, sep: str) -> int:
    return sum(part.count(sep) for part in text.split('"')[::2])


def _header_names(header: bytes, sep: str) -> list[str]:
    text = header.decode("utf-8").removesuffix("\r")
    return next(csv.reader([text], delimiter=sep, quotechar='"', strict=False), [""])


def _check_unique(header: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for n, column in enumerate(header, start=1):
        if column in seen:
            raise CsvError(
                f"{name}: columns {seen[column]} and {n} have the same name {column!r}; "
                "give every column its own name"
            )
        seen[column] = n


def _fields_per_row(body: np.ndarray, sep: int, quotes: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The number of cells in each record (header first); separators in quoted cells do not count."""
    if not quotes.size:
        # No quoted cells: count the separators of each record in one pass over the bytes.
        starts = np.concatenate([[0], ends + 1])
        return np.add.reduceat((body == sep).view(np.uint8), starts, dtype=np.int32) + 1
    # separators before each record's end, counted block by block to bound the memory used
    before_end = np.empty(len(ends), dtype=np.int64)
    seen = 0
    for offset in range(0, len(body), _BLOCK):
        seps = offset + np.flatnonzero(body[offset : offset + _BLOCK] == sep)
        seps = seps[_outside(quotes, seps)]
        lo, hi = np.searchsorted(ends, [offset, offset + _BLOCK])
        before_end[lo:hi] = seen + np.searchsorted(seps, ends[lo:hi])
        seen += len(seps)
    # the last record has no newline of its own (trailing newlines were cut off)
    return np.diff(np.concatenate([[0], before_end, [seen]])) + 1


def _unclosed_quote(body: np.ndarray, sep: int, quotes: np.ndarray, ends: np.ndarray) -> int:
    """The record (0 = header) of the quote most likely to be the stray one.

    Counting quotes pairs every quote with the next; a pair that opens in the middle of a cell
    (not after a separator or a line end) is where the pairing went wrong, as in `5" tall`.
    Without such a pair, the quote opened last is the one that is never closed.
    """
    openers = quotes[::2]
    before = np.where(openers > 0, body[np.maximum(openers - 1, 0)], ord("\n"))
    mid_cell = np.flatnonzero((before != sep) & (before != ord("\n")) & (before != ord("\r")))
    culprit = openers[mid_cell[0]] if mid_cell.size else openers[-1]
    return int(np.searchsorted(ends, culprit))


def _mode_for(target: Path) -> int:
    """Keep the permissions of a file being replaced; a new file gets the usual ones (umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    # so that the rename itself survives a crash; not possible on every platform
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
