"""`promsvc score` keeps every value of every row, whatever the text, separator, quoting, line
ends and byte-order mark of the file: random files written by Python's csv module come back
with the same cells (read by the csv module again), the item cells as the codes they hold."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promsvc.commands import scorecsv

ITEMS = ["MO", "SC", "UA", "PD", "AD"]
text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\ufeff"), max_size=12)
# A cell may hold anything a spreadsheet can: separators, quotes, line breaks, spaces, leading
# zeros, text that looks like a number, nothing at all.
cell = st.one_of(text, st.sampled_from(["", " ", "007", "1e3", '"', '""', ",", ";", "a\nb", "a\r\nb", "a\rb", " x "]))
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

    scorecsv.run(scorecsv.Request("eq5d-5l", str(path), separator=sep), stdout=out, stderr=err)

    written = list(csv.reader(io.StringIO(out.getvalue(), newline=""), delimiter=sep))
    assert written[0] == ["id", "note", *ITEMS, "index"]
    assert [r[:2] for r in written[1:]] == [[first, second] for first, second, _ in rows]
    assert [r[2:7] for r in written[1:]] == [[str(int(float(c))) if c else "" for c in codes] for _, _, codes in rows]
    assert out.getvalue().count(eol) >= len(rows) + 1  # the line ends of the input
