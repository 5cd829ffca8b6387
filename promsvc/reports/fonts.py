"""The TrueType font embedded in every chart and report: DejaVu Sans.

The PDF base fonts cover only WinAnsi, which lacks the narrow no-break space (U+202F) that
Norwegian number formatting needs, "≥"/"≤" of targets and the level symbols (●○). DejaVu Sans
has them all and is free (Bitstream Vera licence). It is not bundled: Debian's `fonts-dejavu-core`
provides it (`.ci/run` installs it when missing), as do most Linux distributions and
matplotlib's data files; `find()` looks in those places.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
PLACES = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu (fonts-dejavu-core)
    "/usr/share/fonts/dejavu-sans-fonts",  # Fedora
    "/usr/share/fonts/TTF",  # Arch
    "/usr/share/fonts/dejavu",  # Alpine
    "/usr/local/share/fonts/dejavu",
    "/opt/homebrew/share/fonts",
    str(Path.home() / "Library/Fonts"),
)


class FontMissing(Exception):
    """DejaVu Sans is not installed where we look."""


def find(name: str) -> Path:
    places = [Path(p) for p in PLACES]
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        places.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for place in places:
        if (place / FILES[name]).is_file():
            return place / FILES[name]
    raise FontMissing(
        f"the font {FILES[name]} (DejaVu Sans) was not found in {', '.join(map(str, places))}; "
        "install it (Debian/Ubuntu: apt-get install fonts-dejavu-core)"
    )


@functools.cache
def register() -> None:
    """Register DejaVu Sans (regular and bold) with reportlab, once per process."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in FILES:
        pdfmetrics.registerFont(TTFont(name, str(find(name))))
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
