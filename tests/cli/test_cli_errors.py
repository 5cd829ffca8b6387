"""`promsvc score` with bad input: exit status 2, one message on standard error that says what
and where, nothing on standard output, and no output file.

Every case runs both in-process and as a real subprocess (`any_promsvc`).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from cli_support import no_traceback

from promsvc.commands import scorecsv

EQ5D = "MO,SC,UA,PD,AD\n"


@dataclass
class Case:
    id: str
    content: str | bytes | None  # None: no input file at all
    expect: list[str]  # parts of the message
    instrument: str = "eq5d-5l"
    options: list[str] = field(default_factory=list)
    input_name: str = "in.csv"


CASES = [
    Case("code-outside-options", EQ5D + "1,1,1,1,1\n1,1,1,1,1\n1,7,1,1,1\n",
         ["in.csv: data row 3, column SC: found '7', allowed one of 1, 2, 3, 4, 5, or empty for no answer"]),
    Case("file-name-that-looks-like-a-pattern", EQ5D + "1,1,1,1,1\n1,7,1,1,1\n",
         ["week[1]*.csv: data row 2, column SC: found '7'"], input_name="week[1]*.csv"),
    Case("not-a-number", EQ5D + "x,1,1,1,1\n",
         ["data row 1, column MO: found 'x', allowed one of 1, 2, 3, 4, 5, or empty for no answer"]),
    Case("decimal-code", EQ5D + "1,1,1,1,1\n1,1,2.5,1,1\n", ["data row 2, column UA: found '2.5'"]),
    Case("nan-text-is-not-missing", EQ5D + "1,1,1,NaN,1\n", ["data row 1, column PD: found 'NaN'"]),
    Case("too-large-for-any-code", EQ5D + "1,1,1,1,40000\n", ["data row 1, column AD: found '40000'"]),
    # cells that are whole numbers, but not of 0 to 255 (how most codes are read)
    Case("code-beyond-a-byte", "MO,SC,UA,PD,AD,VAS\n1,1,1,1,1,300\n", ["data row 1, column VAS: found '300'"]),
    Case("negative-code", EQ5D + "1,1,-1,1,1\n", ["data row 1, column UA: found '-1'"]),
    Case("decimal-comma", EQ5D + '1,1,1,1,"1,0"\n', ["data row 1, column AD: found '1,0'"]),
    Case("vas-out-of-range", "MO,SC,UA,PD,AD,VAS\n1,1,1,1,1,101\n",
         ["data row 1, column VAS: found '101', allowed a whole number from 0 to 100, or empty for no answer"]),
    Case("first-bad-cell-of-the-file-and-the-count", EQ5D + "1,1,1,1,1\n9,1,1,1,0\n9,1,1,1,1\n9,1,1,1,1\n",
         ["data row 2, column MO: found '9'", "(2 more row(s) in this column are wrong too)"]),
    Case("rand36-code", ",".join(f"q{i}" for i in range(1, 37)) + "\n" + "1," * 35 + "6\n",
         ["data row 1, column q36: found '6', allowed one of 1, 2, 3, 4, 5"], instrument="rand36"),
    Case("nrs-out-of-range", "pain\n11\n", ["data row 1, column pain: found '11', allowed a whole number from 0 to 10"],
         instrument="nrs-pain"),
    Case("missing-item-column", "pseudonym,MO,SC,UA,PD\n1,1,1,1,1\n",
         ["eq5d-5l scoring 'index' needs the item column(s) AD", "an empty cell means a missing answer"]),
    Case("item-column-in-wrong-case", "mo,SC,UA,PD,AD\n1,1,1,1,1\n",
         ["needs the item column(s) MO", "has 'mo': item ids are case-sensitive"]),
    Case("unknown-instrument", EQ5D + "1,1,1,1,1\n", ["unknown instrument 'eq5d'", "eq5d-5l", "rand36", "nrs-pain"],
         instrument="eq5d"),
    Case("unknown-scoring", EQ5D + "1,1,1,1,1\n", ["eq5d-5l has no scoring 'sf36v1'; its scorings: index"],
         options=["--scoring", "sf36v1"]),
    Case("unknown-country", EQ5D + "1,1,1,1,1\n", ["country 'Narnia'", "Norway", "England", "Denmark"],
         options=["--country", "Narnia"]),
    Case("unknown-method", EQ5D + "1,1,1,1,1\n", ["method 'XYZ'", "VT", "CW"], options=["--method", "XYZ"]),
    Case("value-set-for-an-instrument-without-one", "pain\n1\n", ["uses no value set"], instrument="nrs-pain",
         options=["--country", "Norway"]),
    Case("no-such-file", None, ["cannot read", "in.csv", "No such file or directory"]),
    Case("empty-file", b"", ["in.csv is empty", "the first line must name the columns"]),
    Case("blank-file", b"\xef\xbb\xbf  \r\n\r\n", ["in.csv is empty"]),
    Case("duplicate-columns", "id,MO,SC,UA,PD,AD,MO\n1,1,1,1,1,1,1\n",
         ["columns 2 and 7 have the same name 'MO'"]),
    Case("short-row", EQ5D + "1,1,1,1,1\n1,1,1,1\n", ["data row 2 has 4 cells but the header has 5"]),
    Case("long-row", "id;MO;SC;UA;PD;AD\n1;1;1;1;1;1\n2;1;1;1;1;1;x\n1;1;1;1;1;1;x\n",
         ["data row 2 has 7 cells but the header has 6", "(1 more row(s) like it)"]),
    Case("blank-line-in-the-middle", EQ5D + "1,1,1,1,1\n\n1,1,1,1,1\n", ["data row 2 is a blank line"]),
    Case("blank-line-with-crlf", "MO;SC;UA;PD;AD\r\n1;1;1;1;1\r\n\r\n1;1;1;1;1\r\n", ["data row 2 is a blank line"]),
    Case("first-row-short", EQ5D + "1,1,1,1\n1,1,1,1,1\n", ["data row 1 has 4 cells but the header has 5"]),
    Case("short-and-long-rows", EQ5D + "1,1,1,1\n1,1,1,1,1,1\n",
         ["data row 1 has 4 cells but the header has 5", "(1 more row(s) like it)"]),
    # quoted cells hold separators and line breaks that are no cell boundaries
    Case("short-row-among-quoted-separators", 'id,note,MO,SC,UA,PD,AD\n1,"a,b",1,1,1,1,1\n2,"c,d",1,1,1,1\n',
         ["data row 2 has 6 cells but the header has 7"]),
    Case("long-row-among-quoted-separators", 'id,note,MO,SC,UA,PD,AD\n1,"a,b",1,1,1,1,1\n2,"c",1,1,1,1,1,9\n',
         ["data row 2 has 8 cells but the header has 7"]),
    Case("short-row-with-a-line-break-in-a-cell", 'id;note;MO;SC;UA;PD;AD\r\n1;"x\r\ny;z";1;1;1;1\r\n',
         ["data row 1 has 6 cells but the header has 7"]),
    Case("quote-never-closed", 'id,MO,SC,UA,PD,AD\n1,1,1,1,1,1\n5" tall,1,1,1,1,1\n"ok",1,1,1,1,1\n',
         ["data row 2 has a quote", "never closed"]),
    Case("quote-never-closed-in-the-header", 'id,"MO,SC,UA,PD,AD\n1,1,1,1,1,1\n', ["the header has a quote", "never closed"]),
    # a carriage return alone ends a line for the csv module and old Mac programs; polars would
    # drop it from the end of a cell (one in quotes, or inside a cell's text, is kept)
    Case("lines-ending-in-a-carriage-return", "id,MO,SC,UA,PD,AD\r1,1,1,1,1,1\r2,1,1,1,1,1\r",
         ["the header line has a carriage return", "Windows or Unix line ends"]),
    Case("cell-ending-in-a-carriage-return", 'id;note;MO;SC;UA;PD;AD\n1;"x\r;y";1;1;1;1;1\n2;x\r;1;1;1;1;1\n',
         ["data row 2, column 'note': the cell ends with a carriage return", "put the cell in quotes"]),
    Case("not-utf8", "id,MO,SC,UA,PD,AD\nÅse,1,1,1,1,1\n".encode("latin-1"),
         ["in.csv is not UTF-8 text (line 2", "CSV UTF-8"]),
    Case("score-column-already-there", "MO,SC,UA,PD,AD,index\n1,1,1,1,1,0.5\n",
         ["already has a column named index"]),
    Case("round-not-a-number", EQ5D + "1,1,1,1,1\n", ["--round", "from 0 to 12"], options=["--round", "three"]),
    Case("unknown-separator", EQ5D + "1,1,1,1,1\n", ["--sep", "give ',' or ';'"], options=["--sep", "tab"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_message_and_no_output(any_promsvc, tmp_path, case):
    path = tmp_path / case.input_name
    if case.content is not None:
        path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode("utf-8"))
    out = tmp_path / "out.csv"

    ran = any_promsvc("score", case.instrument, path, *case.options, "-o", out)

    assert ran.status == 2, ran
    assert no_traceback(ran)
    assert ran.out == ""
    assert len(ran.err.strip().splitlines()) == 1, ran.err
    for part in case.expect:
        assert part in ran.err, (part, ran.err)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != case.input_name] == []  # no temporary file either


def test_a_bad_cell_in_answers_from_a_pipe_is_quoted_as_written(csv_file):
    # A pipe cannot be read twice: its bytes are kept for the message.
    done = subprocess.run([sys.executable, "-m", "promsvc", "score", "eq5d-5l", "/dev/stdin"],
                          input=(EQ5D + "1,1,1,1,1\n1, 7,1,1,1\n").encode(), capture_output=True, timeout=120)

    assert done.returncode == 2
    assert done.stderr.decode() == (
        "promsvc: error: /dev/stdin: data row 2, column SC: found ' 7', allowed one of 1, 2, 3, 4, 5, "
        "or empty for no answer\n"
    )


def test_a_directory_as_input(any_promsvc, tmp_path):
    ran = any_promsvc("score", "eq5d-5l", tmp_path)

    assert ran.status == 2 and no_traceback(ran)
    assert "cannot read" in ran.err and "Is a directory" in ran.err


def test_an_output_folder_that_does_not_exist(any_promsvc, csv_file, tmp_path):
    ran = any_promsvc("score", "eq5d-5l", csv_file(EQ5D + "1,1,1,1,1\n"), "-o", tmp_path / "no" / "out.csv")

    assert ran.status == 2 and no_traceback(ran)
    assert "cannot write" in ran.err and "No such file or directory" in ran.err


def test_an_error_leaves_an_existing_output_file_as_it_was(any_promsvc, csv_file, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("the results of last week\n")

    ran = any_promsvc("score", "eq5d-5l", csv_file(EQ5D + "1,1,1,1,6\n"), "-o", out)

    assert ran.status == 2
    assert out.read_text() == "the results of last week\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_a_bad_cell_in_a_later_chunk_leaves_no_output(promsvc, csv_file, tmp_path, monkeypatch):
    monkeypatch.setattr(scorecsv, "CHUNK_ROWS", 10)
    path = csv_file(EQ5D + "1,2,3,4,5\n" * 45 + "1,2,3,4,8\n" + "1,2,3,4,5\n" * 4)
    out = tmp_path / "out.csv"

    ran = promsvc("score", "eq5d-5l", path, "-o", out)

    assert ran.status == 2
    assert "data row 46, column AD: found '8'" in ran.err
    assert not out.exists()


def test_the_engine_catching_a_bad_code_in_a_later_chunk_names_the_row_in_the_file(promsvc, csv_file, tmp_path, monkeypatch):
    # The command checks every cell before scoring; should the engine still refuse a code
    # (its rules are the authority), the message must name the row in the file, not in the chunk.
    monkeypatch.setattr(scorecsv, "CHUNK_ROWS", 10)
    def unchecked(ins, table):
        return scorecsv._as_numbers(table, [i.id for i in ins.items if i.id in table.header])

    monkeypatch.setattr(scorecsv, "_numeric_answers", unchecked)
    path = csv_file(EQ5D + "1,2,3,4,5\n" * 25 + "1,9,3,4,5\n" + "1,9,3,4,5\n")
    out = tmp_path / "out.csv"

    ran = promsvc("score", "eq5d-5l", path, "-o", out)

    assert ran.status == 2
    assert "data row 26, column SC: found '9', allowed one of 1, 2, 3, 4, 5" in ran.err
    assert not out.exists()


def test_a_write_that_fails_half_way_leaves_no_file(promsvc, csv_file, tmp_path, monkeypatch):
    import polars as pl

    def disk_full(self, file, **options):
        file.write(b"MO,SC")  # half a file …
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_csv", disk_full)
    out = tmp_path / "out.csv"

    ran = promsvc("score", "eq5d-5l", csv_file(EQ5D + "1,1,1,1,1\n"), "-o", out)

    assert ran.status == 2
    assert "cannot write" in ran.err and "No space left on device" in ran.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
