"""Paper: the day's letters of a registry as one printable PDF (A4, one letter per page).

Each letter has the sender, the recipient's address placed for a left-window envelope, the
date, the text of the letter template, the link as text and as a QR code, and a short code
that staff at the place of treatment can type at `{base_url}/code` for a patient who cannot
go online. Built with reportlab's own QR widget; fonts are the PDF base fonts.

The PDF holds live links: it is stored with its batch in the database until it is fetched
(`promsvc outbox letters`), and must be handled like any document with patient contact details.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from promsvc.delivery.messages import format_date

LABELS = {
    "nb": {"link": "Lenke", "code": "Kode", "help": "Ansatte på behandlingsstedet kan skrive inn koden på {url}"},
    "nn": {"link": "Lenkje", "code": "Kode", "help": "Tilsette på behandlingsstaden kan skrive inn koden på {url}"},
    "en": {"link": "Link", "code": "Code", "help": "Staff at the place of treatment can enter the code at {url}"},
}

WIDTH, HEIGHT = A4
LEFT = 25 * mm
RIGHT = WIDTH - 20 * mm
BOTTOM = 20 * mm


@dataclass(frozen=True)
class Letter:
    sender: str
    address: str  # the postal address as lines separated by newlines (or commas)
    text: str  # the rendered letter template: a heading line, a blank line, paragraphs
    link: str
    code: str  # formatted, e.g. "7K3M-Q9TD-2XHB"
    code_url: str
    language: str
    date: dt.date


def _address_lines(address: str) -> list[str]:
    parts = address.replace("\r", "").split("\n") if "\n" in address else address.split(",")
    return [p.strip() for p in parts if p.strip()][:6]


def _qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(data, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    w, h = x1 - x0, y1 - y0
    drawing = Drawing(size, size, transform=[size / w, 0, 0, size / h, -x0 * size / w, -y0 * size / h])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, x, y)


def _page(c: Canvas, letter: Letter) -> None:
    labels = LABELS.get(letter.language, LABELS["nb"])
    top = HEIGHT - 20 * mm
    c.setFont("Helvetica-Bold", 11)
    c.drawString(LEFT, top, letter.sender)
    c.setFont("Helvetica", 10)
    c.drawRightString(RIGHT, top, format_date(letter.date, letter.language))

    # Recipient, where a left-window envelope (C5/DL) shows it.
    y = HEIGHT - 50 * mm
    c.setFont("Helvetica", 11)
    for line in _address_lines(letter.address):
        c.drawString(LEFT, y, line)
        y -= 14

    heading, _, body = letter.text.strip().partition("\n\n")
    y = HEIGHT - 100 * mm
    c.setFont("Helvetica-Bold", 14)
    c.drawString(LEFT, y, heading.strip())
    y -= 24
    c.setFont("Helvetica", 11)
    for paragraph in body.split("\n\n"):
        for line in paragraph.split("\n"):
            for wrapped in simpleSplit(line.strip(), "Helvetica", 11, RIGHT - LEFT) or [""]:
                if y < 85 * mm:  # keep room for the link box; long texts go on
                    c.showPage()
                    c.setFont("Helvetica", 11)
                    y = HEIGHT - 25 * mm
                c.drawString(LEFT, y, wrapped)
                y -= 15
        y -= 8

    # The link box: QR code on the right, the link and the code on the left.
    box_top = 70 * mm
    size = 42 * mm
    _qr(c, letter.link, RIGHT - size, box_top - size, size)
    text_width = RIGHT - size - 8 * mm - LEFT
    yy = box_top - 6 * mm
    c.setFont("Helvetica-Bold", 11)
    c.drawString(LEFT, yy, labels["link"] + ":")
    yy -= 14
    c.setFont("Courier", 10)
    per_line = max(20, int(text_width / c.stringWidth("M", "Courier", 10)))
    for i in range(0, len(letter.link), per_line):
        c.drawString(LEFT, yy, letter.link[i:i + per_line])
        yy -= 12
    yy -= 8
    c.setFont("Helvetica-Bold", 11)
    c.drawString(LEFT, yy, labels["code"] + ":")
    c.setFont("Courier-Bold", 14)
    c.drawString(LEFT + 16 * mm, yy, letter.code)
    yy -= 16
    c.setFont("Helvetica", 9)
    for wrapped in simpleSplit(labels["help"].format(url=letter.code_url), "Helvetica", 9, text_width):
        c.drawString(LEFT, yy, wrapped)
        yy -= 11
    c.showPage()


def render_batch(letters: Sequence[Letter], *, compress: bool = True) -> bytes:
    """One PDF with one page per letter (more for a very long text), in the order given."""
    out = io.BytesIO()
    c = Canvas(out, pagesize=A4, pageCompression=1 if compress else 0, invariant=1)
    c.setTitle("Letters")  # metadata carries nothing about the recipients
    c.setAuthor("promsvc")
    for letter in letters:
        _page(c, letter)
    c.save()
    return out.getvalue()
