"""The fast engine (`scoring.score`) agrees with the slow reference scorer, row by row.

Hypothesis draws answers for an instrument (every code of every item, `unanswered` options
included, missing answers at rates from none to all, and rows with no answer at all), the
engine scores the whole table at once, and the reference scores each row on its own.

Two sources of instruments: every shipped definition with every scoring (`instruments.catalogue()`,
so new definitions are covered as they land), and small synthetic definitions below that use
every kernel and option of the format.
"""

from __future__ import annotations

import functools
import math
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_score

import instruments
import scoring
from instruments.schema import Instrument, RecodeMean, ValueSetIndex

MAX_ROWS = 50
# Answers drawn per example at most (rows x items): wide instruments (KOOS, 42 items) get fewer
# rows, each row being scored on its own by the reference anyway.
MAX_CELLS = 300
# Examples per instrument and scoring (most of the time goes into drawing the answers of wide
# instruments: RAND-36, KOOS, HOOS). Raise it for a long local run.
EXAMPLES = 50

# ---------------------------------------------------------------------------------------------
# Synthetic definitions: small, but every kernel and option of the format

_LABEL = "{nb: x, nn: x, en: x}"


def _definition(instrument_id: str, body: str) -> Instrument:
    text = (
        f"id: {instrument_id}\n"
        'version: "0.1"\n'
        "kind: prom\n"
        f"title: {_LABEL}\n"
        "citation: synthetic, for the engine's property tests\n"
        "licence: {holder: none, terms: test only, wording: ours}\n"
        + textwrap.dedent(body).replace("LABEL", _LABEL)
    )
    return instruments.decode(text.encode(), f"{instrument_id}.yaml")


# Named and inline option sets: codes 1–5, codes starting at 0, negative codes, non-contiguous
# codes (1, 2, 3, 9) with and without 9 as an `unanswered` option; integer and vas items.
KERNELS = _definition("syn-kernels", """
    option_sets:
      five: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
             {code: 4, label: LABEL}, {code: 5, label: LABEL}]
      zero: [{code: 0, label: LABEL}, {code: 1, label: LABEL}, {code: 2, label: LABEL},
             {code: 3, label: LABEL}, {code: 4, label: LABEL}]
      na: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
           {code: 9, label: LABEL, unanswered: true}]
    items:
      - {id: a1, kind: choice, label: LABEL, options: five}
      - {id: a2, kind: choice, label: LABEL, options: five}
      - {id: a3, kind: choice, label: LABEL, options: five}
      - {id: b1, kind: choice, label: LABEL, options: na}
      - id: b2
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
                  {code: 9, label: LABEL, unanswered: true}]
      - {id: c1, kind: choice, label: LABEL, options: zero}
      - {id: c2, kind: choice, label: LABEL, options: zero}
      - id: g1
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
                  {code: 9, label: LABEL}]
      - id: s1
        kind: choice
        label: LABEL
        options: [{code: -2, label: LABEL}, {code: -1, label: LABEL}, {code: 0, label: LABEL},
                  {code: 1, label: LABEL}, {code: 2, label: LABEL}]
      - {id: n1, kind: integer, label: LABEL, min: 0, max: 10}
      - {id: v1, kind: vas, label: LABEL, min: 0, max: 100}
    scorings:
      - id: means
        version: "1"
        default: true
        title: LABEL
        source: synthetic
        recode_tables:
          rev5: {1: 100, 2: 75, 3: 50, 4: 25, 5: 0}
          na3: {1: 0, 2: 50, 3: 100}
          g: {1: 10, 2: 20, 3: 30, 9: null}
        scales:
          - {kernel: recode_mean, id: m_named, label: LABEL, items: [a1, a2, a3], recode: rev5,
             min_answered: 2}
          - {kernel: recode_mean, id: m_t, label: LABEL, items: [a1, a2, a3],
             transform: {min: 1, max: 5}}
          - {kernel: recode_mean, id: m_zero, label: LABEL, items: [c1, c2],
             transform: {min: 0, max: 4}}
          - {kernel: recode_mean, id: m_na, label: LABEL, items: [b1, b2], recode: na3,
             transform: {min: 0, max: 100}}
          - kernel: recode_mean
            id: m_mixed
            label: LABEL
            items: [a1, b1, g1, n1, c1]
            recode:
              a1: rev5
              b1: {1: 10, 2: 20, 3: null}
              g1: g
              n1: {0: 0, 1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 60, 7: 70, 8: 80, 9: 90, 10: 100}
            min_answered: 3
            transform: {min: 0, max: 100}
          - {kernel: recode_mean, id: m_signed, label: LABEL, items: [s1, c1]}
          - {kernel: recode_mean, id: m_vas, label: LABEL, items: [v1], transform: {min: 0, max: 100}}
          - {kernel: recode_mean, id: m_rev, label: LABEL, items: [a1, c1],
             transform: {min: 5, max: 0}}
      - id: sums
        version: "1"
        title: LABEL
        source: synthetic
        recode_tables:
          g: {1: 1, 2: 2, 3: 3, 9: null}
        scales:
          - {kernel: sum, id: s_all, label: LABEL, items: [a1, a2, a3]}
          - {kernel: sum, id: s_pro, label: LABEL, items: [a1, a2, a3, c1], prorate: true,
             min_answered: 2, constant: -4}
          - {kernel: sum, id: s_min, label: LABEL, items: [b1, b2, g1], recode: {g1: g},
             min_answered: 1, constant: 0.5}
          - {kernel: sum, id: s_int, label: LABEL, items: [n1, v1, s1], min_answered: 2,
             prorate: true}
          - {kernel: sum, id: s_one, label: LABEL, items: [s1], min_answered: 1, prorate: true}
      - id: summaries
        version: "2"
        title: LABEL
        source: synthetic
        recode_tables:
          rev5: {1: 100, 2: 75, 3: 50, 4: 25, 5: 0}
        scales:
          - {kernel: recode_mean, id: x, label: LABEL, items: [a1, a2, a3], recode: rev5}
          - {kernel: sum, id: y, label: LABEL, items: [c1, c2], min_answered: 1, prorate: true}
          - {kernel: recode_mean, id: z, label: LABEL, items: [n1]}
        summaries:
          - kernel: weighted_sum
            id: w
            label: LABEL
            inputs:
              - {scale: x, weight: 0.5, mean: 50, sd: 20}
              - {scale: y, weight: -1.25, mean: 4, sd: 2.5}
            constant: 50
            multiplier: 10
          - kernel: weighted_sum
            id: w2
            label: LABEL
            inputs: [{scale: w, weight: 1}, {scale: z, weight: 2}]
          - kernel: bands
            id: band_x
            label: LABEL
            input: x
            bands: [{id: low, label: LABEL, min: 0}, {id: mid, label: LABEL, min: 37.5},
                    {id: high, label: LABEL, min: 75}]
          - kernel: bands
            id: band_w
            label: LABEL
            input: w
            bands: [{id: bad, label: LABEL, min: -100}, {id: ok, label: LABEL, min: 0},
                    {id: good, label: LABEL, min: 60}]
          - kernel: bands
            id: band_z
            label: LABEL
            input: z
            bands: [{id: no_pain, label: LABEL, min: 0}, {id: mild, label: LABEL, min: 1},
                    {id: moderate, label: LABEL, min: 4}, {id: severe, label: LABEL, min: 7}]
""")

# Conditional recodes in the manner of RAND-36 bodily pain: how p2 is recoded depends on p1.
CONDITIONS = _definition("syn-conditions", """
    option_sets:
      six: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
            {code: 4, label: LABEL}, {code: 5, label: LABEL}, {code: 6, label: LABEL}]
    items:
      - {id: p1, kind: choice, label: LABEL, options: six}
      - id: p2
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
                  {code: 4, label: LABEL}, {code: 5, label: LABEL}]
      - id: p3
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL}]
      - id: na
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL},
                  {code: 9, label: LABEL, unanswered: true}]
      - {id: age, kind: integer, label: LABEL, min: 0, max: 3}
    scorings:
      - id: cond
        version: "1"
        default: true
        title: LABEL
        source: synthetic
        scales:
          - kernel: recode_mean
            id: pain
            label: LABEL
            items: [p1, p2]
            transform: {min: 0, max: 100}
            recode:
              p1: {1: 100, 2: 80, 3: 60, 4: 40, 5: 20, 6: 0}
              p2:
                - when: {all: [{item: p2, in: [1]}, {item: p1, in: [1]}]}
                  values: {1: 100, 2: 80, 3: 60, 4: 40, 5: 20}
                - when: {all: [{item: p2, in: [1]}, {item: p1, in: [2, 3, 4, 5, 6]}]}
                  values: {1: 80, 2: 80, 3: 60, 4: 40, 5: 20}
                - when: {item: p1, answered: true}
                  values: {1: 100, 2: 75, 3: 50, 4: 25, 5: 0}
                - when: {item: p1, answered: false}
                  values: {1: 100, 2: 80, 3: 60, 4: 40, 5: 20}
          - kernel: sum
            id: other
            label: LABEL
            items: [p3, na]
            min_answered: 1
            recode:
              p3:
                - when: {all: [{item: na, answered: false}, {item: age, in: [2]}]}
                  values: {1: 2, 2: 4, 3: 6}
                - when: {any: [{item: na, in: [9]}, {item: p2, in: [4, 5]}]}
                  values: {1: 0, 2: 1, 3: null}
                - when: {all: [{item: na, in: [1]}, {item: age, answered: true}]}
                  values: {1: 1, 2: 2, 3: 3}
                - when: {any: [{all: [{item: age, in: [0, 1]}, {item: p1, answered: false}]},
                               {item: age, in: [3]}]}
                  values: {1: 5, 2: 6, 3: 7}
              na: {1: 10, 2: 20}
          - kernel: recode_mean
            id: by_age
            label: LABEL
            items: [age, p3]
            min_answered: 2
            recode:
              age:
                - when: {item: age, in: [0]}
                  values: {0: 0, 1: 1, 2: 2, 3: 3}
                - when: {any: [{item: p3, answered: true}, {item: na, in: [2]}]}
                  values: {0: 10, 1: 11, 2: 12, 3: 13}
        summaries:
          - kernel: bands
            id: pain_band
            label: LABEL
            input: pain
            bands: [{id: severe, label: LABEL, min: 0}, {id: moderate, label: LABEL, min: 40},
                    {id: mild, label: LABEL, min: 70}, {id: none, label: LABEL, min: 100}]
""")

# An `answered` condition on an item whose options include an `unanswered` one.
UNANSWERED_CONDITION = _definition("syn-unanswered-condition", """
    items:
      - id: q1
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL},
                  {code: 9, label: LABEL, unanswered: true}]
      - id: q2
        kind: choice
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL}]
    scorings:
      - id: s
        version: "1"
        default: true
        title: LABEL
        source: synthetic
        scales:
          - kernel: recode_mean
            id: s
            label: LABEL
            items: [q2]
            recode:
              q2:
                - when: {item: q1, answered: true}
                  values: {1: 1, 2: 2, 3: 3}
                - when: {item: q1, answered: false}
                  values: {1: 10, 2: 20, 3: 30}
""")

# EQ-5D-5L-like answers with summaries over the index (scored only when value sets exist).
INDEX = _definition("syn-index", """
    option_sets:
      level: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
              {code: 4, label: LABEL}, {code: 5, label: LABEL}]
    items:
      - {id: MO, kind: choice, label: LABEL, options: level}
      - {id: SC, kind: choice, label: LABEL, options: level}
      - {id: UA, kind: choice, label: LABEL, options: level}
      - {id: PD, kind: choice, label: LABEL, options: level}
      - {id: AD, kind: choice, label: LABEL, options: level}
      - {id: VAS, kind: vas, label: LABEL, min: 0, max: 100}
    scorings:
      - id: index
        version: "1"
        default: true
        title: LABEL
        source: synthetic
        scales:
          - {kernel: valueset_index, id: index, label: LABEL, items: [MO, SC, UA, PD, AD],
             version: EQ-5D-5L, default_method: VT, default_country: Norway}
          - {kernel: recode_mean, id: vas, label: LABEL, items: [VAS]}
        summaries:
          - kernel: weighted_sum
            id: qaly
            label: LABEL
            inputs: [{scale: index, weight: 0.5}, {scale: vas, weight: 0.005}]
          - kernel: bands
            id: state
            label: LABEL
            input: index
            bands: [{id: worse_than_dead, label: LABEL, min: -10}, {id: alive, label: LABEL, min: 0},
                    {id: full, label: LABEL, min: 1}]
""")

# Item kinds multi, decimal and text; lookups (score → score, pattern → score), the mean of
# available scores, bands with open and closed bounds, and both forms of linear transform.
NEWER = _definition("syn-newer", """
    option_sets:
      five: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 3, label: LABEL},
             {code: 4, label: LABEL}, {code: 5, label: LABEL}]
    items:
      - {id: a1, kind: choice, label: LABEL, options: five}
      - {id: a2, kind: choice, label: LABEL, options: five}
      - id: na
        kind: choice
        label: LABEL
        options: [{code: 0, label: LABEL}, {code: 1, label: LABEL}, {code: 9, label: LABEL, unanswered: true}]
      - id: m1
        kind: multi
        label: LABEL
        options: [{code: 1, label: LABEL}, {code: 2, label: LABEL}, {code: 4, label: LABEL}, {code: 7, label: LABEL}]
      - {id: d1, kind: decimal, label: LABEL, min: -2.5, max: 10.25}
      - {id: d2, kind: decimal, label: LABEL, min: 0, max: 1}
      - {id: n1, kind: integer, label: LABEL, min: 0, max: 4}
      - {id: t1, kind: text, label: LABEL, max_length: 20}
    scorings:
      - id: lookups
        version: "1"
        default: true
        title: LABEL
        source: synthetic
        scales:
          - {kernel: sum, id: raw, label: LABEL, items: [a1, a2]}
          - {kernel: sum, id: raw_any, label: LABEL, items: [a1, a2, n1], min_answered: 1}
          - kernel: lookup
            id: pattern
            label: LABEL
            items: [a1, na]
            table: {"1 0": 0.5, "1 1": 0.25, "2 0": -1, "5 1": 3.75, "3 9": 99}
          - {kernel: recode_mean, id: m_dec, label: LABEL, items: [d1, d2, n1], min_answered: 2}
        summaries:
          - kernel: lookup
            id: t_score
            label: LABEL
            input: raw
            table: {2: 20.5, 3: 30.25, 4: 41, 5: 44.5, 6: 50, 7: 55.5, 8: 61.25, 9: 70, 10: 80.75}
          - kernel: lookup
            id: partial
            label: LABEL
            input: m_dec
            table: {0: 1, 1: 2, 0.5: 4, -2.5: 7, 2: 8, 10.25: 100}
          - {kernel: mean, id: mean_all, label: LABEL, inputs: [raw, pattern, m_dec]}
          - {kernel: mean, id: mean_two, label: LABEL, inputs: [t_score, pattern, m_dec, partial], min_scored: 2}
          - kernel: bands
            id: band
            label: LABEL
            input: raw_any
            bands: [{id: zero, label: LABEL, min: 0}, {id: low, label: LABEL, above: 0},
                    {id: mid, label: LABEL, min: 5}, {id: high, label: LABEL, above: 9}]
          - kernel: bands
            id: band_dec
            label: LABEL
            input: m_dec
            bands: [{id: neg, label: LABEL, above: -3}, {id: pos, label: LABEL, above: 0}]
      - id: transforms
        version: "1"
        title: LABEL
        source: synthetic
        scales:
          - {kernel: recode_mean, id: pct, label: LABEL, items: [a1, a2], transform: {multiply: 20}}
          - {kernel: recode_mean, id: shifted, label: LABEL, items: [a1, d1], transform: {multiply: -1.5, add: 7}}
          - {kernel: recode_mean, id: added, label: LABEL, items: [n1], transform: {add: -2}}
          - {kernel: sum, id: rev, label: LABEL, items: [a1, a2], transform: {min: 10, max: 2}}
          - {kernel: sum, id: pro, label: LABEL, items: [a1, a2, n1], prorate: true, min_answered: 2,
             constant: 1, transform: {multiply: 2, add: 0.5}}
          - {kernel: sum, id: ticks, label: LABEL, items: [m1], min_answered: 1}
          - kernel: sum
            id: ticked
            label: LABEL
            items: [m1, a1]
            min_answered: 1
            recode:
              m1: {1: 0.5, 2: -1, 4: 2.25, 7: 10}
          - kernel: recode_mean
            id: cond_multi
            label: LABEL
            items: [m1, a2]
            recode:
              m1:
                - when: {item: m1, in: [7]}
                  values: {1: 1, 2: 1, 4: 1, 7: 5}
                - when: {item: na, answered: true}
                  values: {1: 2, 2: 3, 4: 4, 7: 6}
              a2:
                - when: {any: [{item: m1, in: [1, 2]}, {item: d1, answered: false}]}
                  values: {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}
""")

SYNTHETIC = [KERNELS, CONDITIONS, UNANSWERED_CONDITION, INDEX, NEWER]


# ---------------------------------------------------------------------------------------------
# Value sets: the engine picks one by method and country; the reference takes a callable


def _value_set_scale(instrument: Instrument, scoring_id: str) -> ValueSetIndex | None:
    chosen = instrument.scoring(scoring_id)
    return next((s for s in chosen.scales if isinstance(s, ValueSetIndex)), None)


def _value_sets(instrument: Instrument, scoring_id: str) -> list[tuple[str, str]]:
    """(method, country) of every value set that can score this scoring's answers."""
    scale = _value_set_scale(instrument, scoring_id)
    levels = max(max(instrument.codes_of(instrument.item(i))) for i in scale.items)
    return _value_sets_of(scale.version, levels)


@functools.cache
def _value_sets_of(version: str, levels: int) -> list[tuple[str, str]]:
    from scoring import valueset as valuesets

    found = {
        (ref.method, ref.country)
        for ref in valuesets.catalogue()
        if ref.version == version and valuesets.get(ref.version, ref.method, ref.country).levels == levels
    }
    return sorted(found)


def table_index(version: str, method: str, country: str):
    """The reference's `index` callable from the engine's value-set table (whose own
    correctness is checked against a per-state evaluator in test_eq5d_reference.py)."""
    from scoring import valueset as valuesets

    value_set = valuesets.get(version, method, country)
    base = value_set.levels + 1  # digit 0 is "missing" in the table's numbering

    def index(state: str) -> float | None:
        position = 0
        for digit in state:
            position = position * base + int(digit)
        value = float(value_set.table[position])
        return None if math.isnan(value) else value

    return index


@st.composite
def value_set_choice(draw, instrument: Instrument, scoring_id: str):
    """(method, country, index) for a value-set scoring; (None, None, None) otherwise."""
    scale = _value_set_scale(instrument, scoring_id)
    if scale is None:
        return None, None, None
    method, country = draw(st.sampled_from(_value_sets(instrument, scoring_id)))
    return method, country, table_index(scale.version, method, country)


# ---------------------------------------------------------------------------------------------
# Answers


@st.composite
def responses(draw, instrument: Instrument, max_rows: int = MAX_ROWS) -> list[dict[str, int | None]]:
    """Rows of answers to every item: each column is complete, sparse, half missing or empty,
    and some rows are blank throughout."""
    rows = draw(st.integers(1, max(5, min(max_rows, MAX_CELLS // len(instrument.items)))))
    columns: dict[str, list] = {}
    for item in instrument.items:
        how = draw(st.sampled_from(["complete", "half", "sparse", "empty"]))
        if how == "empty":
            columns[item.id] = [None] * rows
            continue
        columns[item.id] = draw(st.lists(_cells(instrument, item.id, how), min_size=rows, max_size=rows))
    blank = draw(st.sets(st.integers(0, rows - 1), max_size=max(1, rows // 5)))
    return [
        {i: (None if n in blank else column[n]) for i, column in columns.items()}
        for n in range(rows)
    ]


def _answers_to(instrument: Instrument, item_id: str) -> tuple:
    """The stored answers an item can have: its codes; numbers in its range, the bounds included
    (decimal); the ticked codes in form order, every combination (multi); text."""
    item = instrument.item(item_id)
    if item.kind == "decimal":
        return tuple(item.min + (item.max - item.min) * k / 16 for k in range(17))
    if item.kind == "text":
        return ("", "a", "fri tekst")
    codes = instrument.codes_of(item)
    if item.kind == "multi":
        return tuple([c for k, c in enumerate(codes) if mask >> k & 1] for mask in range(1, 2 ** len(codes)))
    return tuple(codes)


_CELLS: dict[tuple[str, str, str, str], st.SearchStrategy] = {}


def _cells(instrument: Instrument, item_id: str, how: str) -> st.SearchStrategy:
    """The strategy of one cell: one sampled_from, built once (drawing dominates the run time)."""
    key = (instrument.id, instrument.version, item_id, how)
    if key not in _CELLS:
        answers = list(_answers_to(instrument, item_id))
        missing = {"complete": 0, "half": len(answers), "sparse": 4 * len(answers)}[how]
        _CELLS[key] = st.sampled_from([None] * missing + answers)
    return _CELLS[key]


def as_columns(instrument: Instrument, rows: list[dict], form: str) -> dict:
    """The rows as the engine takes them: lists with None, or float arrays with NaN (lists
    for multi and text items, which have no numeric form)."""
    columns = {item.id: [row[item.id] for row in rows] for item in instrument.items}
    if form == "arrays":
        return {
            item.id: columns[item.id] if item.kind in ("multi", "text")
            else np.array([np.nan if v is None else v for v in columns[item.id]], dtype=float)
            for item in instrument.items
        }
    return columns


def agrees(got, want) -> bool:
    """Engine value vs reference value: floats within 1e-9, NaN ↔ None, bands "" ↔ None."""
    if isinstance(got, str) or isinstance(want, str):
        return got == ("" if want is None else want)
    got = float(got)
    if want is None:
        return math.isnan(got)
    return not math.isnan(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def _param(instrument: Instrument, scoring_id: str, marks=()):
    return pytest.param(instrument, scoring_id, id=f"{instrument.id}/{scoring_id}", marks=list(marks))


SHIPPED = [ins for _, ins in sorted(instruments.catalogue().items())]
ALL = SHIPPED + SYNTHETIC
EVERY_SCORING = [_param(ins, s.id) for ins in ALL for s in ins.scorings]


# ---------------------------------------------------------------------------------------------
# Properties


@pytest.mark.parametrize(("instrument", "scoring_id"), EVERY_SCORING)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engine_agrees_with_reference(instrument: Instrument, scoring_id: str, data):
    rows = data.draw(responses(instrument), label="rows")
    method, country, index = data.draw(value_set_choice(instrument, scoring_id), label="value set")
    form = data.draw(st.sampled_from(["lists", "arrays"]), label="column form")

    result = scoring.score(instrument, as_columns(instrument, rows, form), scoring=scoring_id,
                           method=method, country=country)

    chosen = instrument.scoring(scoring_id)
    assert list(result.scores) == [s.id for s in chosen.scales] + [s.id for s in chosen.summaries]
    for key, column in result.scores.items():
        assert np.shape(column) == (len(rows),), f"{key}: one score per row"
    for n, row in enumerate(rows):
        expected = reference_score(instrument, row, scoring_id, index)
        for key, want in expected.items():
            got = result.scores[key][n]
            assert agrees(got, want), f"row {n} {row}: {key}: engine {got!r}, reference {want!r}"


def same(one, engine) -> bool:
    """Bit for bit: the same float (NaN counts as equal to NaN), or the same band."""
    if isinstance(one, str) or isinstance(engine, str):
        return one == engine
    return (math.isnan(one) and math.isnan(engine)) or one == float(engine)


@pytest.mark.parametrize(("instrument", "scoring_id"), EVERY_SCORING)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_response_equals_the_engine(instrument: Instrument, scoring_id: str, data):
    """`scoring.score_one` (one response, plain Python) gives the engine's numbers exactly."""
    rows = data.draw(responses(instrument, max_rows=10), label="rows")
    method, country, _ = data.draw(value_set_choice(instrument, scoring_id), label="value set")
    result = scoring.score(instrument, as_columns(instrument, rows, "lists"), scoring=scoring_id,
                           method=method, country=country)
    for n, row in enumerate(rows):
        scores, provenance = scoring.score_one(instrument, row, scoring=scoring_id, method=method, country=country)
        assert provenance == result.provenance
        assert list(scores) == list(result.scores)
        for key, value in scores.items():
            assert same(value, result.scores[key][n]), f"row {n} {row}: {key}: one {value!r}, engine {result.scores[key][n]!r}"


def _rescaled(scale) -> bool:
    """A mean rescaled with `{min, max}` (a custom `{multiply, add}` may leave 0–100)."""
    return isinstance(scale, RecodeMean) and scale.transform is not None and scale.transform.min is not None


TRANSFORMED = [
    _param(ins, s.id)
    for ins in ALL
    for s in ins.scorings
    if any(_rescaled(scale) for scale in s.scales)
]


@pytest.mark.parametrize(("instrument", "scoring_id"), TRANSFORMED)
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_transformed_scales_stay_within_0_to_100(instrument: Instrument, scoring_id: str, data):
    rows = data.draw(responses(instrument), label="rows")
    method, country, _ = data.draw(value_set_choice(instrument, scoring_id), label="value set")
    result = scoring.score(instrument, as_columns(instrument, rows, "lists"), scoring=scoring_id,
                           method=method, country=country)
    for scale in instrument.scoring(scoring_id).scales:
        if _rescaled(scale):
            values = result.scores[scale.id]
            scored = values[~np.isnan(values)]
            assert ((scored >= -1e-9) & (scored <= 100 + 1e-9)).all(), f"{scale.id}: {scored.tolist()}"


INDEXED = [_param(ins, s.id) for ins in ALL for s in ins.scorings if _value_set_scale(ins, s.id)]


@pytest.mark.parametrize(("instrument", "scoring_id"), INDEXED)
@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_eq5d_index_is_at_most_1(instrument: Instrument, scoring_id: str, data):
    rows = data.draw(responses(instrument), label="rows")
    method, country, _ = data.draw(value_set_choice(instrument, scoring_id), label="value set")
    result = scoring.score(instrument, as_columns(instrument, rows, "lists"), scoring=scoring_id,
                           method=method, country=country)
    scale = _value_set_scale(instrument, scoring_id)
    values = result.scores[scale.id]
    assert (values[~np.isnan(values)] <= 1.0).all(), f"{method} {country}: {values.tolist()}"


# ---------------------------------------------------------------------------------------------
# The reference itself, against the definitions' own published examples


EXAMPLES_OF_DEFINITIONS = [
    pytest.param(ins, n, id=f"{ins.id}/example{n}")
    for ins in SHIPPED
    for n in range(len(ins.examples))
]


@pytest.mark.parametrize(("instrument", "n"), EXAMPLES_OF_DEFINITIONS)
def test_reference_gives_the_published_examples(instrument: Instrument, n: int):
    example = instrument.examples[n]
    scoring_id = example.scoring or instrument.scoring().id
    index = None
    scale = _value_set_scale(instrument, scoring_id)
    if scale is not None:
        index = table_index(scale.version, example.method or scale.default_method,
                            example.country or scale.default_country)
    got = reference_score(instrument, example.answers, scoring_id, index)
    for key, expected in example.expect.items():
        if expected is None or isinstance(expected, str):
            assert got[key] == expected, f"{key} ({example.source})"
        else:
            assert got[key] is not None, f"{key}: no score ({example.source})"
            assert abs(got[key] - expected) <= 0.5 * 10.0**-example.precision + 1e-9, f"{key} ({example.source})"


# ---------------------------------------------------------------------------------------------
# `answered` conditions do not count an `unanswered` option as an answer


def test_answered_condition_counts_unanswered_options_as_missing():
    # q1 = 9 is "not applicable" (`unanswered: true`): it counts as a missing answer in every
    # scoring, so `{item: q1, answered: false}` holds and q2 = 1 recodes to 10.
    row = {"q1": 9, "q2": 1}
    assert reference_score(UNANSWERED_CONDITION, row) == {"s": 10.0}
    result = scoring.score(UNANSWERED_CONDITION, {"q1": [9], "q2": [1]})
    assert result.scores["s"].tolist() == [10.0]
