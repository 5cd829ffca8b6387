"""`promsvc score`: what comes out for good input.

The contract (DESIGN.md, "Contracts"): `promsvc score INSTRUMENT INPUT.csv [--country C]
[--method M] [--scoring S] [-o OUTPUT.csv]` reads one response per row, columns named by item
ids; other columns pass through unchanged; the same rows come out with the score columns added,
to standard output when there is no -o.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
from cli_support import no_traceback, rows

import scoring
from promsvc import commands, numbers
from promsvc.commands import scorecsv

# Norwegian EQ-5D-5L value set (Garratt et al. 2024; additive): 1 minus the decrements.
NORWAY = {"11111": 1.0, "55555": -0.453, "21341": 1 - 0.03116 - 0.056743 - 0.303025, "11112": 0.928256}


def index_of(out: str, sep: str = ",") -> list[str]:
    table = rows(out, sep)
    col = table[0].index("index")
    return [r[col] for r in table[1:]]


# ---------------------------------------------------------------------------------------------
# EQ-5D-5L


def test_eq5d_5l_to_stdout_with_the_norwegian_value_set_by_default(promsvc, csv_file):
    path = csv_file("pseudonym,MO,SC,UA,PD,AD,VAS\nA1,1,1,1,1,1,90\nA2,5,5,5,5,5,10\nA3,2,1,3,4,1,55\nA4,1,1,1,1,2,\n")

    ran = promsvc("score", "eq5d-5l", path)

    assert ran.status == 0, ran.err
    table = rows(ran.out)
    assert table[0] == ["pseudonym", "MO", "SC", "UA", "PD", "AD", "VAS", "index"]
    assert [r[:7] for r in table[1:]] == [
        ["A1", "1", "1", "1", "1", "1", "90"],
        ["A2", "5", "5", "5", "5", "5", "10"],
        ["A3", "2", "1", "3", "4", "1", "55"],
        ["A4", "1", "1", "1", "1", "2", ""],
    ]
    got = [float(v) for v in index_of(ran.out)]
    assert got == pytest.approx([NORWAY["11111"], NORWAY["55555"], NORWAY["21341"], NORWAY["11112"]], abs=1e-9)


def test_a_missing_dimension_gives_an_empty_index_not_an_error(promsvc, csv_file):
    path = csv_file("id,MO,SC,UA,PD,AD\n1,1,1,,1,1\n2,1,1,1,1,1\n3, ,1,1,1,1\n")

    ran = promsvc("score", "eq5d-5l", path)

    assert ran.status == 0, ran.err
    assert index_of(ran.out) == ["", "1.0", ""]


def test_twelve_significant_digits_by_default_and_rounding_on_request(promsvc, csv_file):
    path = csv_file("id,MO,SC,UA,PD,AD\n1,2,1,3,4,1\n2,1,1,1,1,1\n3,5,5,5,5,5\n4,1,2,3,4,5\n")

    full = promsvc("score", "eq5d-5l", path)
    rounded = promsvc("score", "eq5d-5l", path, "--round", "3")
    whole = promsvc("score", "eq5d-5l", path, "--round", "0")

    # the engine gives 0.6090720000000001, -0.4529999999999999 and 0.13692000000000004
    assert index_of(full.out) == ["0.609072", "1.0", "-0.453", "0.13692"]
    assert index_of(rounded.out) == ["0.609", "1.000", "-0.453", "0.137"]
    assert index_of(whole.out) == ["1", "1", "0", "0"]  # -0.453 → 0, never "-0"
    assert "rounded to 3 decimal(s)" in rounded.err


def test_a_score_that_is_zero_on_paper_is_written_0(promsvc, csv_file):
    # Denmark's decrements for 52235 add up to 1; the arithmetic leaves 1.1e-16
    ran = promsvc("score", "eq5d-5l", csv_file("MO,SC,UA,PD,AD\n5,2,2,3,5\n"), "--country", "Denmark")

    assert ran.status == 0, ran.err
    assert index_of(ran.out) == ["0.0"]


def test_other_countries_and_methods(promsvc, csv_file):
    path = csv_file("MO,SC,UA,PD,AD\n5,5,5,5,5\n1,2,3,4,5\n")

    england = promsvc("score", "eq5d-5l", path, "--country", "England")
    crosswalk = promsvc("score", "eq5d-5l", path, "--method", "CW", "--country", "UK")

    assert float(index_of(england.out)[0]) == pytest.approx(-0.285, abs=5e-4)
    assert [float(v) for v in index_of(crosswalk.out)] == pytest.approx([-0.594, 0.063], abs=5e-4)
    assert "EQ-5D-5L · VT · England" in england.err
    assert "EQ-5D-5L · CW · UK" in crosswalk.err


def test_the_same_scores_as_the_engine_for_many_random_rows(promsvc, csv_file, monkeypatch):
    # several chunks, so that chunking cannot lose, repeat or reorder rows
    monkeypatch.setattr(scorecsv, "CHUNK_ROWS", 37)
    rng = np.random.default_rng(5)
    codes = rng.integers(1, 6, size=(500, 5)).astype(float)
    codes[rng.random(codes.shape) < 0.05] = np.nan
    lines = ["id,MO,SC,UA,PD,AD"] + [
        f"r{n}," + ",".join("" if np.isnan(c) else str(int(c)) for c in row) for n, row in enumerate(codes)
    ]
    path = csv_file("\n".join(lines) + "\n")

    ran = promsvc("score", "eq5d-5l", path)

    expected = scoring.score("eq5d-5l", dict(zip(["MO", "SC", "UA", "PD", "AD"], codes.T, strict=True))).scores["index"]
    got = np.array([float(v) if v else np.nan for v in index_of(ran.out)])
    np.testing.assert_array_equal(got, numbers.clean(expected))
    assert [r[0] for r in rows(ran.out)[1:]] == [f"r{n}" for n in range(500)]


# ---------------------------------------------------------------------------------------------
# The file's dialect and the cells that pass through


def test_semicolon_file_with_bom_and_crlf_comes_back_in_the_same_dialect(promsvc, csv_file, tmp_path):
    text = "\ufeffpseudonym;navn;MO;SC;UA;PD;AD\r\nP1;Åse, Berit;1;1;1;1;1\r\nP2;Ørjan;5;5;5;5;5\r\n"
    path = csv_file(text)
    out = tmp_path / "out.csv"

    ran = promsvc("score", "eq5d-5l", path, "-o", out)

    assert ran.status == 0, ran.err
    written = out.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    lines = written.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "pseudonym;navn;MO;SC;UA;PD;AD;index"
    assert lines[1] == "P1;Åse, Berit;1;1;1;1;1;1.0"  # a ',' needs no quotes in a ';' file
    assert lines[2].rsplit(";", 1)[0] == "P2;Ørjan;5;5;5;5;5"
    assert float(lines[2].rsplit(";", 1)[1]) == pytest.approx(-0.453, abs=1e-12)
    assert ran.out == ""


def test_sep_option_overrides_detection(promsvc, csv_file):
    # the header alone says ',' (six commas, five semicolons)
    path = csv_file("note,a,b,c,d,e,f;MO;SC;UA;PD;AD\n1;1;1;1;1;1\n", name="odd.csv")

    detected = promsvc("score", "eq5d-5l", path)
    forced = promsvc("score", "eq5d-5l", path, "--sep", ";")

    assert detected.status == 2
    assert "data row 1 has 1 cells but the header has 7" in detected.err
    assert "if it is ';', give --sep ';'" in detected.err
    assert forced.status == 0, forced.err
    assert rows(forced.out, ";")[0] == ["note,a,b,c,d,e,f", "MO", "SC", "UA", "PD", "AD", "index"]


def test_other_columns_pass_through_exactly(promsvc, csv_file):
    text = (
        'pseudonym,comment,hospital,MO,SC,UA,PD,AD,VAS,empty\n'
        '007,"said ""fine"", then left",Ahus,1,1,1,1,1,80,\n'
        '0042,"two\nlines",St. Olavs,1,1,1,1,1,80,""\n'
        '1e3, spaces kept ,Åse sykehus,1,1,1,1,1,80,x\n'
    )
    path = csv_file(text)

    ran = promsvc("score", "eq5d-5l", path)

    assert ran.status == 0, ran.err
    table = rows(ran.out)
    assert table[0][-1] == "index"
    assert [r[:3] + r[9:10] for r in table[1:]] == [
        ["007", 'said "fine", then left', "Ahus", ""],
        ["0042", "two\nlines", "St. Olavs", ""],
        ["1e3", " spaces kept ", "Åse sykehus", "x"],
    ]
    # byte for byte: leading zeros, quoting where needed, an empty cell stays empty
    assert ran.out.splitlines()[1] == '007,"said ""fine"", then left",Ahus,1,1,1,1,1,80,,1.0'


def test_records_with_line_breaks_in_quoted_cells_keep_bom_crlf_and_needed_quotes(promsvc, csv_file, tmp_path):
    text = '\ufeffid;note;MO;SC;UA;PD;AD\r\n1;"first\r\nsecond; third";1;1;1;1;1\r\n"2";"";1;1;1;1;"1"\r\n'
    out = tmp_path / "out.csv"

    ran = promsvc("score", "eq5d-5l", csv_file(text), "-o", out)

    assert ran.status == 0, ran.err
    # Quotes are written where a cell needs them (a separator, a quote or a line break in it);
    # "2" needs none and loses them; "" stays an empty text, as it came.
    assert out.read_bytes().decode("utf-8") == (
        '\ufeffid;note;MO;SC;UA;PD;AD;index\r\n'
        '1;"first\r\nsecond; third";1;1;1;1;1;1.0\r\n'
        '2;"";1;1;1;1;1;1.0\r\n'
    )


def test_item_cells_with_spaces_or_decimals_score_and_are_written_as_their_codes(promsvc, csv_file):
    path = csv_file('MO,SC,UA,PD,AD\n 1 ,1.0,"1",+1,01\n2,2,2,2,2\n')

    ran = promsvc("score", "eq5d-5l", path)

    assert ran.status == 0, ran.err
    assert ran.out.splitlines()[1] == "1,1,1,1,1,1.0"  # the codes the cells hold
    assert float(index_of(ran.out)[1]) == pytest.approx(1 - 0.03116 - 0.031312 - 0.027208 - 0.059432 - 0.071744)


def test_header_only_file_gives_the_header_with_the_score_columns(any_promsvc, csv_file, tmp_path):
    path = csv_file("pseudonym;MO;SC;UA;PD;AD\n")
    out = tmp_path / "out.csv"

    ran = any_promsvc("score", "eq5d-5l", path, "-o", out)

    assert ran.status == 0, ran.err
    assert out.read_text() == "pseudonym;MO;SC;UA;PD;AD;index\n"
    assert "0 row(s) scored" in ran.err


@pytest.mark.parametrize("text", ["MO,SC,UA,PD,AD\n1,1,1,1,1\n\n\n", "MO;SC;UA;PD;AD\r\n1;1;1;1;1\r\n\r\n\r\n"])
def test_trailing_blank_lines_are_not_rows(promsvc, csv_file, text):
    ran = promsvc("score", "eq5d-5l", csv_file(text))

    assert ran.status == 0, ran.err
    assert index_of(ran.out, text[2]) == ["1.0"]
    assert "1 row(s) scored" in ran.err


def test_output_file_replaces_an_old_one_and_keeps_its_permissions(promsvc, csv_file, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    out.chmod(0o640)

    ran = promsvc("score", "eq5d-5l", csv_file("MO,SC,UA,PD,AD\n1,1,1,1,1\n"), "-o", out)

    assert ran.status == 0, ran.err
    assert out.read_text() == "MO,SC,UA,PD,AD,index\n1,1,1,1,1,1.0\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary file left


def test_a_new_output_file_gets_the_usual_permissions(promsvc, csv_file, tmp_path):
    umask = os.umask(0o022)
    try:
        ran = promsvc("score", "eq5d-5l", csv_file("MO,SC,UA,PD,AD\n1,1,1,1,1\n"), "-o", tmp_path / "new.csv")
    finally:
        os.umask(umask)
    assert ran.status == 0, ran.err
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o644


# ---------------------------------------------------------------------------------------------
# Other instruments


def test_nrs_pain_score_goes_beside_the_answer(promsvc, csv_file):
    path = csv_file("id,pain\n1,7\n2,\n3,0\n")

    ran = promsvc("score", "nrs-pain", path)

    assert ran.status == 0, ran.err
    assert rows(ran.out) == [["id", "pain", "pain_score"], ["1", "7", "7.0"], ["2", "", ""], ["3", "0", "0.0"]]
    assert "nrs-pain 1.0, scoring nrs 1.0" in ran.err


RAND36_ITEMS = [f"q{i}" for i in range(1, 37)]


def rand36_file(csv_file, answers: list[dict[str, int]]):
    lines = ["pseudonym," + ",".join(RAND36_ITEMS)]
    for n, row in enumerate(answers):
        lines.append(f"p{n}," + ",".join(str(row.get(i, "")) for i in RAND36_ITEMS))
    return csv_file("\n".join(lines) + "\n", name="rand36.csv")


def test_rand36_rand_scoring(promsvc, csv_file):
    all_first = {i: 1 for i in RAND36_ITEMS}
    # RAND's worked example: energy items 23 = 4, 27 = 3, 29 = 3, 31 blank → (40 + 60 + 40) / 3
    energy = {"q23": 4, "q27": 3, "q29": 3}
    path = rand36_file(csv_file, [all_first, energy])

    ran = promsvc("score", "rand36", path)

    assert ran.status == 0, ran.err
    table = rows(ran.out)
    assert table[0] == ["pseudonym", *RAND36_ITEMS, "pf", "rp", "bp", "gh", "vt", "sf", "re", "mh"]
    first = dict(zip(table[0], table[1], strict=True))
    assert {k: float(first[k]) for k in ["pf", "rp", "bp", "gh", "vt", "sf", "re", "mh"]} == {
        "pf": 0, "rp": 0, "bp": 100, "gh": 60, "vt": 50, "sf": 50, "re": 0, "mh": 40,
    }
    second = dict(zip(table[0], table[2], strict=True))
    assert float(second["vt"]) == pytest.approx(140 / 3)
    assert second["pf"] == "" and second["mh"] == ""  # no item answered: no score
    assert "rand36 1.0, scoring rand 1.0" in ran.err


def test_rand36_sf36v1_scoring_adds_pcs_and_mcs(promsvc, csv_file):
    rng = np.random.default_rng(3)
    instrument = scorecsv.find_instrument("rand36")
    answers = []
    for _ in range(40):
        row = {}
        for item in instrument.items:
            codes = instrument.codes_of(item)
            if rng.random() > 0.1:
                row[item.id] = int(rng.choice(codes))
        answers.append(row)
    path = rand36_file(csv_file, answers)

    ran = promsvc("score", "rand36", path, "--scoring", "sf36v1")

    assert ran.status == 0, ran.err
    table = rows(ran.out)
    assert table[0][-10:] == ["pf", "rp", "bp", "gh", "vt", "sf", "re", "mh", "pcs", "mcs"]
    columns = {i: np.array([a.get(i, np.nan) for a in answers], dtype=float) for i in RAND36_ITEMS}
    expected = scoring.score("rand36", columns, scoring="sf36v1").scores
    for n, name in enumerate(table[0][-10:]):
        got = np.array([float(r[-10 + n]) if r[-10 + n] else np.nan for r in table[1:]])
        np.testing.assert_array_equal(got, numbers.clean(expected[name]), err_msg=name)
    assert "scoring sf36v1" in ran.err


# ---------------------------------------------------------------------------------------------
# Standard error: what produced the scores, and progress only at a terminal


def test_provenance_line_names_instrument_scoring_value_set_and_doi(promsvc, csv_file):
    ran = promsvc("score", "eq5d-5l", csv_file("MO,SC,UA,PD,AD\n1,1,1,1,1\n2,2,2,2,2\n"))

    assert ran.err.strip().splitlines() == [
        "promsvc: 2 row(s) scored with eq5d-5l 1.0, scoring index 1.0, "
        "value set EQ-5D-5L · VT · Norway (doi:10.1007/s11136-024-03837-3)"
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_at_a_terminal_for_a_large_file(csv_file, monkeypatch, capsys):
    monkeypatch.setattr(scorecsv, "CHUNK_ROWS", 10)
    monkeypatch.setattr(scorecsv, "PROGRESS_ROWS", 20)
    path = csv_file("MO,SC,UA,PD,AD\n" + "1,2,3,4,5\n" * 25)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    status = commands.main(["score", "eq5d-5l", str(path)])

    assert status == 0
    err = terminal.getvalue()
    assert "scored 10 of 25 rows" in err and "scored 25 of 25 rows" in err
    assert "scored" not in capsys.readouterr().out


def test_no_progress_when_standard_error_is_not_a_terminal(promsvc_process, csv_file, monkeypatch):
    path = csv_file("MO,SC,UA,PD,AD\n" + "1,2,3,4,5\n" * (scorecsv.PROGRESS_ROWS + 1))

    ran = promsvc_process("score", "eq5d-5l", path)

    assert ran.status == 0, ran.err
    assert "of" not in ran.err.split("row(s) scored")[0]
    assert len(ran.err.strip().splitlines()) == 1 and "\r" not in ran.err


# ---------------------------------------------------------------------------------------------
# The command itself


def test_real_command_scores_a_file_and_keeps_stdout_for_data(promsvc_process, csv_file, tmp_path):
    ran = promsvc_process("score", "eq5d-5l", csv_file("MO,SC,UA,PD,AD\n1,1,1,1,1\n"))

    assert ran.status == 0 and no_traceback(ran)
    assert ran.out == "MO,SC,UA,PD,AD,index\n1,1,1,1,1,1.0\n"
    assert ran.err.startswith("promsvc: 1 row(s) scored")


def test_a_reader_that_stops_early_ends_the_command_quietly(csv_file):
    # `promsvc score … | head`: the pipe closes before the output is written
    path = csv_file("MO,SC,UA,PD,AD\n" + "1,2,3,4,5\n" * 50_000)
    child = subprocess.Popen(
        [sys.executable, "-m", "promsvc", "score", "eq5d-5l", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()
    err = child.stderr.read().decode()
    child.wait(timeout=120)

    assert child.returncode == 1
    assert "Traceback" not in err and "Exception ignored" not in err


# ---------------------------------------------------------------------------------------------
# A definition file instead of an id (a registry's own instrument)

OWN = os.path.join(os.path.dirname(__file__), "..", "integration", "own_instruments", "local-followup-2.yaml")


def test_a_definition_file_is_scored_by_its_path_with_every_item_kind(promsvc_process, csv_file):
    # multi-select cells hold the ticked codes separated by spaces; free text passes through unread;
    # item cells are written as the value they hold (README: a decimal 80 comes out as 80.0)
    path = csv_file("id;change;help;weight;comment\na;1;1 3;80;fint, takk\nb;9;;80.5;\nc;2;2;;\n")

    ran = promsvc_process("score", OWN, path)

    assert ran.status == 0, ran.err
    assert rows(ran.out, ";") == [
        ["id", "change", "help", "weight", "comment", "improved", "kinds_of_help", "weight_score", "weight_band"],
        ["a", "1", "1 3", "80.0", "fint, takk", "1.0", "2.0", "80.0", "up_to_80"],
        ["b", "9", "", "80.5", "", "", "", "80.5", "above_80"],
        ["c", "2", "2", "", "", "1.0", "1.0", "", ""],
    ]
    assert "scored with local-followup 2, scoring main 2.0" in ran.err


@pytest.mark.parametrize(("cell", "column", "allowed"), [
    ("1 4", "help", "one or more of 1, 2, 3, or empty for no answer"),
    ("250.5", "weight", "a number from 30 to 250, or empty for no answer"),
    ("80,5", "weight", "a number from 30 to 250, or empty for no answer"),
])
def test_a_bad_cell_of_a_new_item_kind_names_row_column_and_what_is_allowed(promsvc, csv_file, cell, column, allowed):
    cells = {"help": "1", "weight": "80"} | {column: cell}
    path = csv_file(f"change;help;weight\n1;1;80\n2;{cells['help']};{cells['weight']}\n")

    ran = promsvc("score", OWN, path)

    assert ran.status == 2 and ran.out == ""
    assert ran.err == f"promsvc: error: {path}: data row 2, column {column}: found '{cell}', allowed {allowed}\n"
