"""Run the examples of an instrument definition: answer patterns with the scores they must give."""

from __future__ import annotations

import math

from instruments import Instrument
from scoring.engine import score
from scoring.errors import ScoringError


def failures(ins: Instrument) -> list[str]:
    """One message per example score that differs from its expected value (empty: all pass)."""
    out = []
    for n, ex in enumerate(ins.examples):
        at = f"$.examples[{n}]"
        answers = {item.id: [ex.answers.get(item.id)] for item in ins.items}
        try:
            result = score(ins, answers, scoring=ex.scoring, method=ex.method, country=ex.country)
        except ScoringError as e:
            out.append(f"at {at}: could not score ({e})")
            continue
        for key, expected in ex.expect.items():
            got = result.scores[key][0]
            if not _agrees(got, expected, ex.precision):
                out.append(f"at {at}.expect.{key}: expected {expected!r}, got {_shown(got)} ({ex.source})")
    return out


def _agrees(got, expected, precision: int) -> bool:
    if expected is None:
        return got == "" or (isinstance(got, float) and math.isnan(got))
    if isinstance(expected, str):
        return got == expected
    # a published value given to `precision` decimals agrees within half its last unit
    return not math.isnan(got) and abs(got - expected) <= 0.5 * 10.0**-precision + 1e-9


def _shown(got) -> str:
    return repr(got) if isinstance(got, str) else ("no score" if math.isnan(got) else repr(float(got)))
