"""SF-12 v1 / RAND-12 summary scores, as the papers and the published cases state them.

The 12 items (gh1 pf02 pf04 rp2 rp3 re2 re3 bp2 mh3 vt2 mh4 sf2, coded as printed on the form,
1 = first option) give two scores, PCS and MCS: a constant plus one published coefficient per item
and answer (0 for the best answer). No score when any item is missing.

* ``ware1995`` (default) — Ware, Kosinski & Keller 1995/1996, US 1990 norms (orthogonal).
* ``farivar2007`` — Farivar, Cunningham & Hays 2007, correlated (oblique) weights; the Norwegian
  registry standard for RAND-12 (PROM-senteret SPSS syntax).

Published cases are copied as printed into tests/spec/data and compared at the printed precision.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import scoring

DATA = Path(__file__).parent / "data"
ITEMS = ["gh1", "pf02", "pf04", "rp2", "rp3", "re2", "re3", "bp2", "mh3", "vt2", "mh4", "sf2"]
BEST = {"gh1": 1, "pf02": 3, "pf04": 3, "rp2": 2, "rp3": 2, "re2": 2, "re3": 2, "bp2": 1, "mh3": 1, "vt2": 1, "mh4": 6, "sf2": 5}


def table(name: str) -> list[dict[str, str]]:
    """The rows of a CSV in tests/spec/data; lines starting with '#' say where the numbers come from."""
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def score(rows: list[dict], scoring_id: str | None = None) -> dict[str, np.ndarray]:
    """Score rows (item → code, '' or None = not answered) through the public API, all at once."""
    columns = {item: [None if r.get(item) in ("", None) else int(r[item]) for r in rows] for item in ITEMS}
    return scoring.score("sf12", columns, scoring=scoring_id).scores


def printed_tolerance(printed: str) -> float:
    """Half a unit of the last printed digit (the published values carry 4-5 decimals)."""
    return 0.5 * 10.0 ** -len(printed.partition(".")[2]) + 1e-9


def check(rows: list[dict[str, str]], scores: dict[str, np.ndarray]) -> None:
    for n, row in enumerate(rows):
        for key in ("pcs", "mcs"):
            got = scores[key][n]
            if row[key] == "":
                assert math.isnan(got), f"case {row['case']} {key}: expected no score, got {got}"
            else:
                assert abs(got - float(row[key])) <= printed_tolerance(row[key]), (
                    f"case {row['case']} {key}: expected {row[key]}, got {got}"
                )


def test_ware1995_is_the_default_scoring():
    assert scoring.score("sf12", {i: [BEST[i]] for i in ITEMS}).provenance.scoring == "ware1995"


# ---------------------------------------------------------------------------------------------
# Published cases


LBSCORER = table("sf12v1_lbscorer.csv")
RAPWHALE = table("rand12_rapwhale.csv")


def test_ware1995_lbscorer_50_published_cases():
    # lbraglia/lbscorer: the 50-case sample of the Italian SF-12 manual and PCS-12/MCS-12 as printed.
    assert len(LBSCORER) == 50
    check(LBSCORER, score(LBSCORER))
    check(LBSCORER, score(LBSCORER, "ware1995"))


def test_ware1995_lbscorer_sample_summary_statistics():
    # The same output prints the sample's mean, SD and range to 3 significant digits
    # ("SF12 Manual checks"): PCS 43.9 / 11.0 / 18.4-57.8, MCS 48.8 / 10.7 / 18.7-65.2.
    got = score(LBSCORER)
    for key, mean, sd, low, high in [("pcs", 43.9, 11.0, 18.4, 57.8), ("mcs", 48.8, 10.7, 18.7, 65.2)]:
        values = got[key]
        assert round(values.mean(), 1) == mean
        assert round(values.std(ddof=1), 1) == sd
        assert (round(values.min(), 1), round(values.max(), 1)) == (low, high)


def test_farivar2007_rapwhale_16_published_cases():
    # Rapporteket/rapwhale: 16 RAND-12 cases scored with the PROM-senteret SPSS syntax, incl. one
    # with a missing item (no score).
    assert len(RAPWHALE) == 16
    check(RAPWHALE, score(RAPWHALE, "farivar2007"))


# ---------------------------------------------------------------------------------------------
# The rules behind the numbers


@pytest.mark.parametrize(
    "scoring_id,pcs,mcs",
    [
        ("ware1995", 56.57706, 60.75781),  # Ware 1995 constants
        ("farivar2007", 62.37966, 65.38813),  # Farivar 2007 constants
    ],
)
def test_best_answer_to_every_item_gives_the_constants(scoring_id, pcs, mcs):
    # The best answer of each item is the reference category (coefficient 0).
    got = score([BEST], scoring_id)
    assert got["pcs"][0] == pytest.approx(pcs, abs=1e-9)
    assert got["mcs"][0] == pytest.approx(mcs, abs=1e-9)


@pytest.mark.parametrize("scoring_id", ["ware1995", "farivar2007"])
@pytest.mark.parametrize("missing", ITEMS)
def test_no_score_when_any_item_is_missing(scoring_id, missing):
    got = score([{**BEST, missing: None}], scoring_id)
    assert math.isnan(got["pcs"][0]) and math.isnan(got["mcs"][0])


@pytest.mark.parametrize("scoring_id", ["ware1995", "farivar2007"])
def test_no_score_when_nothing_is_answered(scoring_id):
    got = score([{}, BEST], scoring_id)
    assert math.isnan(got["pcs"][0]) and math.isnan(got["mcs"][0])
    assert not math.isnan(got["pcs"][1])  # other rows are unaffected


def test_the_two_algorithms_differ():
    # Same answers, different weights: the rapwhale "lowest PCS" pattern.
    worst_pcs = {"gh1": 5, "pf02": 1, "pf04": 1, "rp2": 1, "rp3": 1, "re2": 1, "re3": 1, "bp2": 5, "mh3": 6, "vt2": 6, "mh4": 1, "sf2": 2}
    ware, farivar = score([worst_pcs], "ware1995"), score([worst_pcs], "farivar2007")
    assert farivar["pcs"][0] == pytest.approx(17.67266, abs=0.5e-5)  # rapwhale case 2
    assert abs(ware["pcs"][0] - farivar["pcs"][0]) > 1
