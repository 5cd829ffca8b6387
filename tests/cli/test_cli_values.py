"""`promsvc score` keeps every value of every row, whatever the text, separator, quoting, line
ends and byte-order mark of the file: random files written by Python's csv module come back
with the same cells (read by the csv module again), the item cells as the codes they hold; or,
where the csv module left a cell that ends in a carriage return unquoted (which reads as a line
end), an error naming its row and column."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promsvc.commands import scorecsv
from promsvc.csvio import CsvError

ITEMS = ["MO", "SC", "UA", "PD", "AD"]
text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\ufeff"), max_size=12)
# A cell may hold anything a spreadsheet can: separators, quotes, line breaks, spaces, leading
# zeros, text that looks like a number, nothing at all.
cell = st.one_of(text, st.sampled_from(["", " ", "007", "1e3", '"', '""', ",", ";", "a\nb", "a\r\nb", "a\rb", "\r", "x\r", " x "]))
code = st.one_of(st.sampled_from(["", "1", "2", "3", "4", "5"]), st.sampled_from([" 1", "01", "1.0"]))
row = st.tuples(cell, cell, st.lists(code, min_size=5, max_size=5))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=6), sep=st.sampled_from([",", ";"]), crlf=st.booleans(),
       bom=st.booleans(), quote_all=st.booleans())
def test_every_cell_comes_back_with_its_value(tmp_path, rows, sep, crlf, bom, quote_all):
    eol = "\r\n" if crlf else "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator=eol, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(["id", "note", *ITEMS])
    writer.writerows([first, second, *codes] for first, second, codes in rows)
    path = tmp_path / "in.csv"
    path.write_bytes(("\ufeff" if bom else "").encode() + buffer.getvalue().encode("utf-8"))
    out, err = io.StringIO(), io.StringIO()
    request = scorecsv.Request("eq5d-5l", str(path), separator=sep)
    # The csv module leaves a cell unquoted unless it holds the separator, a quote or a character
    # of its line end; one that then ends in \r reads as the end of a line, and is refused.
    cut = [(n, column) for n, (first, second, _) in enumerate(rows, start=1)
           for column, cell in (("id", first), ("note", second))
           if cell.endswith("\r") and not quote_all and not any(c in cell for c in (sep, '"', *eol))]
    if cut:
        row, column = cut[0]
        with pytest.raises(CsvError, match=f"data row {row}, column '{column}': the cell ends with a carriage return"):
            scorecsv.run(request, stdout=out, stderr=err)
        return

    scorecsv.run(request, stdout=out, stderr=err)

    written = list(csv.reader(io.StringIO(out.getvalue(), newline=""), delimiter=sep))
    assert written[0] == ["id", "note", *ITEMS, "index"]
    assert [r[:2] for r in written[1:]] == [[first, second] for first, second, _ in rows]
    assert [r[2:7] for r in written[1:]] == [[str(int(float(c))) if c else "" for c in codes] for _, _, codes in rows]
    assert out.getvalue().count(eol) >= len(rows) + 1  # the line ends of the input
