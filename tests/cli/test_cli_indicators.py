"""`promsvc indicators check` and `promsvc indicators compute` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from cli_support import no_traceback, rows

from promsvc.indicators.outputs import PORTAL_COLUMNS
from promsvc.indicators.results import CSV_COLUMNS

DATA = Path(__file__).resolve().parents[1] / "data" / "indicators"
AS_OF = "2025-12-31"


def test_check_the_service_files(promsvc):
    ran = promsvc("indicators", "check")
    assert ran.status == 0, ran.out + ran.err
    assert "ok promsvc/registries/demo.indicators.yaml: registry demo" in ran.out


def test_check_a_file_beside_its_registry(promsvc, tmp_path):
    for name in ("ind.yaml", "ind.indicators.yaml", "ind.coverage.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    ran = promsvc("indicators", "check", tmp_path / "ind.indicators.yaml")
    assert ran.status == 0 and "registry ind, 9 indicator(s)" in ran.out
    doc = yaml.safe_load((tmp_path / "ind.indicators.yaml").read_text())
    doc["indicators"][0]["numerator"] = "post - pree >= 0.074"
    doc["indicators"][1]["target"] = {"direction": "lower", "green": 30, "yellow": 10}
    (tmp_path / "ind.indicators.yaml").write_text(yaml.safe_dump(doc))
    ran = promsvc("indicators", "check", tmp_path / "ind.indicators.yaml")
    assert ran.status == 2
    lines = ran.out.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{tmp_path / 'ind.indicators.yaml'}: indicator ") for line in lines)
    assert "unknown variable 'pree'; did you mean 'pre'?" in lines[0]
    assert "with direction lower, green must be ≤ yellow" in lines[1]


@pytest.mark.parametrize("args, message", [
    (["nope"], "no registry 'nope'; known: demo"),
    (["demo", "--period", "2025-2024"], "period '2025-2024': give a year (2025) or a range of years (2024-2025)"),
    (["demo", "--indicator", "nope", "--data", "x.csv"], "no indicator nope in registry demo"),
    (["demo", "--data", "missing.csv"], "missing.csv"),
])
def test_compute_user_errors_are_one_line(promsvc, args, message):
    ran = promsvc("indicators", "compute", *args)
    assert ran.status == 2 and no_traceback(ran)
    assert len(ran.err.strip().splitlines()) == 1 and message in ran.err


@pytest.mark.parametrize("command", [
    ["indicators", "compute", "demo"], ["results", "publish", "demo"], ["retention", "run"], ["scores", "recompute"],
], ids=lambda c: " ".join(c[:2]))
def test_a_broken_registry_is_one_line_in_every_command(promsvc, tmp_path, monkeypatch, command):
    """Every command that loads the registries says the same of one that cannot be used: its
    file and first problem, how many more, and where to see them all."""
    other = (Path(__file__).resolve().parents[1] / "integration" / "registries" / "other.yaml").read_text()
    (tmp_path / "other.yaml").write_text(other.replace("instruments: [eq5d-5l]", "instruments: [nope-1, nope-2]"))
    monkeypatch.setenv("PROMSVC_REGISTRIES_DIR", str(tmp_path))
    ran = promsvc(*command)
    assert ran.status == 2 and no_traceback(ran)
    assert len(ran.err.strip().splitlines()) == 1
    assert f"{tmp_path / 'other.yaml'}: at $.protocols[0].time_points[0].instruments[0]: unknown instrument 'nope-1'" in ran.err
    assert "(1 more; `promsvc registries check` lists them)" in ran.err


def test_the_real_command_exits_2_with_one_line(promsvc_process):
    ran = promsvc_process("indicators", "compute", "demo", "--data", "missing.csv")
    assert ran.status == 2 and no_traceback(ran) and len(ran.err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    from promsvc.commands import main

    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    assert main(["cohort", "demo", "--episodes", "1500", "--seed", "3", "--today", AS_OF, "-o", str(path)]) == 0
    return path


def test_compute_from_a_csv_with_no_rows_gives_no_cells(promsvc, cohort, tmp_path):
    # Was a TypeError traceback (the largest count of versions per episode of no episodes is None).
    empty = tmp_path / "empty.csv"
    empty.write_text(cohort.read_text().splitlines()[0] + "\n")
    ran = promsvc("indicators", "compute", "demo", "--data", empty, "--as-of", AS_OF, "-o", tmp_path / "ind.csv")
    assert ran.status == 0 and no_traceback(ran), ran.err
    assert rows((tmp_path / "ind.csv").read_text()) == [list(CSV_COLUMNS)]


def test_compute_from_a_csv_in_every_format(promsvc, cohort, tmp_path):
    out = tmp_path / "ind.csv"
    ran = promsvc("indicators", "compute", "demo", "--data", cohort, "--as-of", AS_OF, "-o", out)
    assert ran.status == 0, ran.err
    table = rows(out.read_text())
    assert tuple(table[0]) == CSV_COLUMNS and len(table) > 100
    meta = json.loads((tmp_path / "ind.csv-metadata.json").read_text())
    assert meta["url"] == "ind.csv" and meta["promsvc:stamp"]["source"] == "cohort.csv"
    assert meta["promsvc:stamp"]["data_until"] == AS_OF
    assert {d["indicator"] for d in meta["promsvc:stamp"]["definitions"]} >= {"eq5d-improved-m12", "response-m3"}

    again = promsvc("indicators", "compute", "demo", "--data", cohort, "--as-of", AS_OF)
    assert again.out == out.read_text()  # the same data date gives the same numbers

    ran = promsvc("indicators", "compute", "demo", "--data", cohort, "--as-of", AS_OF, "--format", "json",
                  "--indicator", "response-m3", "--period", "2024")
    body = json.loads(ran.out)
    assert {r["indicator"] for r in body["results"]} == {"response-m3"}
    assert {r["period"] for r in body["results"]} == {"2024"}
    national = next(r for r in body["results"] if r["level"] == "national")
    assert national["value"] == pytest.approx(national["numerator"] / national["denominator"])
    assert set(national["counts"]) == {"withdrawn", "deceased"}
    for chosen in (["--indicator", "response-m3", "eq5d-improved-m12"],
                   ["--indicator", "response-m3", "--indicator", "eq5d-improved-m12"]):  # the option once per id adds up
        ran = promsvc("indicators", "compute", "demo", "--data", cohort, "--as-of", AS_OF, "--format", "json",
                      "--period", "2024", *chosen)
        assert {r["indicator"] for r in json.loads(ran.out)["results"]} == {"response-m3", "eq5d-improved-m12"}, chosen

    portal = tmp_path / "portal.csv"
    ran = promsvc("indicators", "compute", "demo", "--data", cohort, "--as-of", AS_OF, "--format", "portal", "-o", portal)
    assert ran.status == 0 and "median cannot be summed" in ran.err
    table = rows(portal.read_text())
    assert tuple(table[0]) == PORTAL_COLUMNS and all(r[0] == "caregiver" and r[3].startswith("demo_") for r in table[1:])
