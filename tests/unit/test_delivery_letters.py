"""Printable letters: a PDF per batch, one A4 page per letter, with the link as text and as a
QR code, and the short code."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pytest

from promsvc.delivery.letters import Letter, render_batch

TEXT = ("Spørreskjema\n\nNasjonalt demoregister ber deg svare på et kort spørreskjema.\n\n"
        "Lenken virker til og med 15. mars 2027.\n\nVennlig hilsen\nNasjonalt demoregister\n")


def letter(n: int, language: str = "nb") -> Letter:
    return Letter(
        sender="Nasjonalt demoregister",
        address=f"Kari Nordmann {n}\nStorgata {n}\n0155 Oslo",
        text=TEXT,
        link=f"https://prom.example/q/TOKEN{n:03d}abcdefghijklmnopqrstuvwxyz0123456",
        code=f"7K3M-Q9TD-2X{n:02d}",
        code_url="https://prom.example/code",
        language=language,
        date=dt.date(2027, 1, 4),
    )


def test_one_page_per_letter_with_link_code_and_qr():
    pdf = render_batch([letter(1), letter(2), letter(3, "en")], compress=False)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 3
    for n in (1, 2, 3):
        # Uncompressed content streams show the drawn strings; the link may be split over lines.
        assert f"TOKEN{n:03d}".encode() in pdf
        assert f"7K3M-Q9TD-2X{n:02d}".encode() in pdf
        assert f"Kari Nordmann {n}".encode() in pdf
    assert b"Staff at the place of treatment" in pdf
    assert b"/Title (Letters)" in pdf  # metadata says nothing about the recipients


def test_the_qr_code_is_drawn():
    with_qr = render_batch([letter(1)], compress=False)
    # The QR widget draws its modules as filled rectangles ("re" operators): hundreds of them.
    assert with_qr.count(b" re") > 200


def test_the_same_letters_give_the_same_pdf():
    assert render_batch([letter(1)]) == render_batch([letter(1)])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_text_extracts_as_printed(tmp_path):
    path = tmp_path / "batch.pdf"
    path.write_bytes(render_batch([letter(1)]))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Spørreskjema" in text
    assert "7K3M-Q9TD-2X01" in text
    assert "Ansatte på behandlingsstedet kan skrive inn koden på https://prom.example/code" in text
