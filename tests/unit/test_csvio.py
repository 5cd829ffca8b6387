"""promsvc.csvio.read_header: a file's column names, separator and byte-order mark from its
first line alone (for files too large to read whole), by the same rules as csvio.read."""

from __future__ import annotations

import pytest

from promsvc import csvio


def test_names_separator_and_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufeffid;"note; free text";Åse\r\n1;2;3\r\n'.encode())

    assert csvio.read_header(path) == (["id", "note; free text", "Åse"], ";", True)
    assert csvio.read(path).header == ["id", "note; free text", "Åse"]


@pytest.mark.parametrize(("content", "words"), [
    (b"", "is empty"),
    (b"\xef\xbb\xbf \r\n1\r\n", "is empty"),
    (b"a,b,a\n1,2,3\n", "columns 1 and 3 have the same name 'a'"),
    ("Åse,b\n".encode("latin-1"), "the header is not UTF-8 text"),
    (b"a,b\r1,2\r", "lines end with a carriage return alone, as old Mac"),
])
def test_what_cannot_be_a_header(tmp_path, content, words):
    path = tmp_path / "in.csv"
    path.write_bytes(content)

    with pytest.raises(csvio.CsvError, match=words):
        csvio.read_header(path)
