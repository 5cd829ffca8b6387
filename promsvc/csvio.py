"""Read and write the CSV files of `promsvc score`: one response per row, every cell kept as text.

Registries send files saved from spreadsheets and statistics packages: separated by `,` or by
`;` (what a Norwegian Excel writes), sometimes with a UTF-8 byte-order mark, sometimes with
CRLF line ends. Cells that are not items must come out exactly as they went in ("007" stays
"007"), so every cell is read as a string and the file is written back in the same dialect.
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

BOM = b"\xef\xbb\xbf"
SEPARATORS = (",", ";")
# Scan the file in blocks so that finding the rows costs a few bytes per byte of a block,
# not of the whole file.
_BLOCK = 1 << 24


class CsvError(Exception):
    """A file that cannot be read or written as asked; the message says what, where, and how to fix it."""


@dataclass(frozen=True)
class Table:
    """A CSV file read with every cell as text (empty cell → null), and its dialect."""

    frame: pl.DataFrame
    separator: str
    bom: bool
    line_terminator: str


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
    # Trailing blank lines are an artefact of editors, not responses.
    end = len(data.rstrip(b"\r\n"))
    if not data[start:end].strip():
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

    try:
        frame = pl.read_csv(
            data, separator=sep, infer_schema=False, n_rows=rows, raise_if_empty=False, quote_char='"'
        )
    except pl.exceptions.PolarsError as e:
        raise CsvError(f"cannot read {name} as CSV: {str(e).splitlines()[0]}") from None
    if frame.height != rows or frame.columns != header:
        raise CsvError(f"cannot read {name} as CSV: its quoting is inconsistent (a \" inside a cell that is not quoted?)")
    eol = "\r\n" if header_bytes.endswith(b"\r") else "\n"
    return Table(frame, sep, bom, eol)


def write(table: Table, frame: pl.DataFrame, output: str | Path | None, *, stdout, float_precision: int | None) -> None:
    """Write `frame` in the dialect of `table`: to `output`, or to `stdout` when output is None.

    A file is written whole or not at all: to a temporary file beside it, flushed to disk, then
    renamed over the target, so a reader never sees half a file and an error leaves no file.
    """
    options = dict(separator=table.separator, line_terminator=table.line_terminator, float_precision=float_precision)
    if output is None:
        buffer = getattr(stdout, "buffer", None)
        if buffer is None:
            stdout.write(frame.write_csv(**options))
        else:
            stdout.flush()
            frame.write_csv(buffer, **options)
            buffer.flush()
        return
    target = Path(output)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as e:
        raise CsvError(f"cannot write {output}: {e.strerror or e}") from None
    os.close(fd)
    try:
        frame.write_csv(tmp, include_bom=table.bom, **options)
        with open(tmp, "rb+") as f:
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


def _check_utf8(data: bytes, name: str) -> None:
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
    # separators before each record's end, counted block by block to bound the memory used
    before_end = np.empty(len(ends), dtype=np.int64)
    seen = 0
    for offset in range(0, len(body), _BLOCK):
        seps = offset + np.flatnonzero(body[offset : offset + _BLOCK] == sep)
        if quotes.size:
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
