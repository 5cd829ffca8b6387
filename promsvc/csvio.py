"""Read and write the CSV files of `promsvc score`: one response per row, read and written by polars.

Registries send files saved from spreadsheets and statistics packages: separated by `,` or by
`;` (what a Norwegian Excel writes), sometimes with a UTF-8 byte-order mark, sometimes with
CRLF line ends. The output keeps all three. polars reads every cell and writes it back with the
same text; it quotes a cell only where it must (one holding the separator, a quote or a line
break), so a cell quoted without need in the input comes out without its quotes.

polars refuses a row with more cells than the header without saying which row, and fills a row
with fewer cells with nulls without a word (it has no option to refuse one). So `read` counts:
every separator in the file either separates two cells or is text in a quoted cell, which
polars has read; when the first kind are more or fewer than the rows need, the row at fault
is found by walking the records (`_records`), on that error path only.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

BOM = b"\xef\xbb\xbf"
SEPARATORS = (",", ";")


class CsvError(Exception):
    """A file that cannot be read or written as asked; the message says what, where, and how to fix it."""


@dataclass(frozen=True)
class Dialect:
    """How a file is written: kept from input to output."""

    separator: str
    bom: bool
    line_terminator: str


@dataclass(frozen=True, eq=False)
class Table:
    """A CSV file read whole: its dialect, header and cells."""

    name: str
    dialect: Dialect
    header: list[str]
    cells: pl.DataFrame  # every data row: text (null = an empty cell), or numbers (see `read`)
    # The bytes, kept only when the file cannot be read again (a pipe): the bytes of a large
    # file would take memory the scoring needs, for a message that is rarely written.
    data: bytes | None = None

    @property
    def rows(self) -> int:
        return self.cells.height

    def columns(self, names: list[str]) -> pl.DataFrame:
        """Some columns' cells as written, as text (for messages that quote a cell)."""
        source = self.name if self.data is None else self.data
        return _parse(source, self.dialect.separator, dict.fromkeys(self.header, pl.String), columns=names)


def read(path: str | Path, separator: str | None = None, numbers: Sequence[str] = ()) -> Table:
    """Read a whole CSV file. `separator` None means: detect `,` or `;` from the header line.

    Every column is read as text, except the columns named in `numbers`: as numbers where every
    cell of those columns is one (the smallest of UInt8, Int16 and Float64 that holds them all;
    null for an empty cell), else as text too.

    Raises CsvError for an unreadable or empty file, a file that is not UTF-8, duplicate column
    names, an unclosed quote, or a row with more or fewer cells than the header.
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
    newline = data.find(b"\n", start, end)
    first_line = data[start : newline if newline >= 0 else end]
    sep = separator or _detect_separator(first_line.decode("utf-8"), name)
    if b'"' in data and data.count(b'"', start, end) % 2:
        row = _unclosed_quote(data[start:end].decode("utf-8"), sep)
        where = f"data row {row}" if row else "the header"
        raise CsvError(
            f"{name}: {where} has a quote (\") that is never closed; a cell that contains \" "
            'must be in quotes with the " doubled, e.g. "5"" tall"'
        )
    header = _header(first_line, sep, name)
    _check_carriage_returns(data, start, end, sep, header, name)

    text = dict.fromkeys(header, pl.String)
    asked = [n for n in numbers if n in text]
    failure: Exception | None = None
    for kind in (pl.UInt8, pl.Int16, pl.Float64, pl.String):  # codes are most often 0 to 255
        try:
            cells = _parse(data, sep, text | dict.fromkeys(asked, kind))
            break
        except pl.exceptions.PolarsError as e:
            failure = e  # a cell that is no such number, or a row polars cannot split
    else:
        raise _wrong_rows(name, data[start:end].decode("utf-8"), header, sep, separator is None, failure)
    cells = cells.head(cells.height - max(data.count(b"\n", end) - 1, 0))  # polars read blank lines at the end
    # Every separator either separates two cells or is text in a quoted cell (which polars
    # has read): count the first kind.
    between = data.count(sep.encode(), start, end)
    if b'"' in data:
        between -= sum(h.count(sep) for h in header)
        between -= sum(cells.select(pl.col(pl.String).str.count_matches(sep, literal=True).sum()).row(0))
    if between != (cells.height + 1) * (len(header) - 1):
        raise _wrong_rows(name, data[start:end].decode("utf-8"), header, sep, separator is None)
    eol = "\r\n" if first_line.endswith(b"\r") else "\n"
    return Table(name, Dialect(sep, bom, eol), header, cells, data=None if Path(path).is_file() else data)


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
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise CsvError(f"{name}: the header is not UTF-8 text; save the file as UTF-8") from None
    sep = _detect_separator(text, name)
    return _header(line.rstrip(b"\r\n"), sep, name), sep, bom


def write(table: Table, columns: pl.DataFrame, output: str | Path | None, *, stdout, float_precision: int | None) -> None:
    """Write the rows of `table` with `columns` put in: a column named like one of the table's
    takes its place, the others are appended. To `output`, or to `stdout` when output is None
    (without the byte-order mark, which belongs at the start of a file).

    A file is written whole or not at all: to a temporary file beside it, flushed to disk, then
    renamed over the target, so a reader never sees half a file and an error leaves no file.
    """
    frame, dialect = table.cells.with_columns(columns.get_columns()), table.dialect

    def write_to(f, bom: bool) -> None:
        frame.write_csv(
            f, include_bom=bom, separator=dialect.separator, line_terminator=dialect.line_terminator,
            quote_char='"', quote_style="necessary", float_precision=float_precision,
        )

    if output is None:
        # Into memory first: polars reports a closed pipe (`promsvc score … | head`) as a bare
        # OSError, Python's own write as BrokenPipeError, which the command handles quietly.
        out = io.BytesIO()
        write_to(out, bom=False)
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
            write_to(f, bom=dialect.bom)  # Excel needs the BOM to read UTF-8
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


def _header(line: bytes, sep: str, name: str) -> list[str]:
    """The column names in the header line (its own line end left out or not), each once."""
    cr = line.rstrip(b"\r\n").find(b"\r")
    if cr >= 0 and line.count(b'"', 0, cr) % 2 == 0:  # outside quotes
        raise CsvError(f"{name}: the header line has a carriage return (\\r) outside quotes; if the file's lines end "
                       "with a carriage return alone, as old Mac programs write them, save it with Windows or Unix "
                       "line ends (in Excel: Save As → CSV UTF-8)")
    try:
        names = pl.read_csv(line.removesuffix(b"\n").removesuffix(b"\r"), has_header=False, infer_schema=False,
                            separator=sep)
    except pl.exceptions.PolarsError as e:  # e.g. a quoted name with a line break in it
        raise CsvError(f"{name}: the header line cannot be read as CSV ({str(e).splitlines()[0]})") from None
    header = [cell or "" for cell in names.row(0)]
    _check_unique(header, name)
    return header


def _parse(source: bytes | str, sep: str, schema: dict, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_csv(source, has_header=True, schema=schema, columns=columns, separator=sep, quote_char='"', glob=False,
                       raise_if_empty=False)


def _wrong_rows(name: str, text: str, header: list[str], sep: str, detected: bool, failure=None) -> CsvError:
    """The error for the first row with more or fewer cells than the header."""
    width = len(header)
    wrong = [(row, cells, line) for row, cells, line in _records(text, sep) if row and cells != width]
    if not wrong:  # polars read the file otherwise: a quote in the middle of a cell, perhaps
        why = str(failure).splitlines()[0] if failure else "a row has more or fewer cells than the header"
        return CsvError(f"{name} cannot be read as CSV: {why}; check the quotes (\")")
    row, cells, line = wrong[0]
    if not line.strip():
        what = "is a blank line; remove it"
    else:
        what = (
            f"has {cells} cells but the header has {width}; "
            f"check for a missing or extra {sep!r}, or a text cell with {sep!r} that is not in quotes"
        )
    more = f" ({len(wrong) - 1} more row(s) like it)" if len(wrong) > 1 else ""
    other = ";" if sep == "," else ","
    guessed = f" (the header says the separator is {sep!r}; if it is {other!r}, give --sep '{other}')" if detected else ""
    return CsvError(f"{name}: data row {row} {what}{more}{guessed}")


def _check_carriage_returns(data: bytes, start: int, end: int, sep: str, header: list[str], name: str) -> None:
    """Refuse a cell that ends in a carriage return (\\r) outside quotes: polars reads the \\r
    as part of a line end and drops it, so the cell would silently lose it, and by RFC 4180 and
    Python's csv module it ends the line there. (Python's csv module writes such cells unquoted
    when its lines end in \\n alone.) A \\r in quotes, or inside a cell's text, is kept; one
    that ends a row's last cell is, for every CSV reader, part of a Windows line end."""
    pattern, quotes, counted = b"\r" + sep.encode(), 0, start
    at = data.find(pattern, start, end)
    while at >= 0:
        quotes, counted = quotes + data.count(b'"', counted, at), at
        if quotes % 2 == 0:  # outside quotes (a doubled quote in a quoted cell counts twice)
            break
        at = data.find(pattern, at + 1, end)
    else:
        return
    *_, (row, cells, _) = _records(data[start : at + 1].decode("utf-8"), sep)
    raise CsvError(f"{name}: data row {row}, column {header[cells - 1]!r}: the cell ends with a carriage return (\\r) "
                   "outside quotes, which reads as the end of a line; put the cell in quotes (\"…\") or remove the \\r")


def _records(text: str, sep: str) -> Iterator[tuple[int, int, str]]:
    """(record number, cells, first line) of each record, the header being record 0, by the rule
    polars reads by: a quote opens or closes a quoted cell, in which separators and line breaks
    are text. Slow (a loop over lines), so only for naming the row of an error."""
    record, cells, first, quoted = 0, 1, None, False
    for line in text.split("\n"):
        first = line if first is None else first
        for n, part in enumerate(line.split('"')):
            quoted = quoted != (n > 0)  # every quote after the first part toggles
            if not quoted:
                cells += part.count(sep)
        if not quoted:
            yield record, cells, first.removesuffix("\r")
            record, cells, first = record + 1, 1, None


def _unclosed_quote(text: str, sep: str) -> int:
    """The record (0 = the header) of the quote most likely to be the stray one.

    Pairing quotes in order goes wrong at a quote that opens in the middle of a cell (not after
    a separator, a line break or another quote), as in `5" tall`; without one, the quote opened
    last is the one that is never closed.
    """
    record, quoted, opened = 0, False, 0
    for line in text.split("\n"):
        parts = line.split('"')
        for before in parts[:-1]:  # the text before each quote, back to the one before it
            quoted = not quoted
            if quoted:
                if before and not before.endswith(sep):
                    return record
                opened = record
        if not quoted:
            record += 1
    return opened


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


def _detect_separator(header: str, name: str) -> str:
    counts = {sep: sum(part.count(sep) for part in header.split('"')[::2]) for sep in SEPARATORS}
    if counts[","] == counts[";"]:
        if counts[","] == 0:
            return ","  # one column: the separator does not matter
        raise CsvError(f"{name}: the header has as many ',' as ';'; say which separates the columns with --sep")
    return max(counts, key=counts.__getitem__)


def _check_unique(header: list[str], name: str) -> None:
    seen: dict[str, int] = {}
    for n, column in enumerate(header, start=1):
        if column in seen:
            raise CsvError(
                f"{name}: columns {seen[column]} and {n} have the same name {column!r}; "
                "give every column its own name"
            )
        seen[column] = n


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
