"""`promsvc instruments …`, `promsvc valuesets list`, `promsvc demo` and bare `promsvc`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_support import no_traceback, rows

from promsvc.commands import listings

NRS_PAIN = (Path(__file__).parents[2] / "instruments" / "definitions" / "nrs-pain.yaml").read_text(encoding="utf-8")


def test_bare_promsvc_prints_help(promsvc):
    ran = promsvc()

    assert ran.status == 0
    assert "usage: promsvc" in ran.out
    for command in ("score", "instruments", "valuesets"):
        assert command in ran.out


def test_score_help_explains_rows_columns_and_errors(promsvc):
    ran = promsvc("score", "--help")

    assert ran.status == 0
    for words in ("INSTRUMENT", "--country", "--method", "--scoring", "--round", "--sep", "-o", "data row", "exit status 2"):
        assert words in ran.out


# ---------------------------------------------------------------------------------------------
# instruments list / show


def test_instruments_list(promsvc):
    ran = promsvc("instruments", "list")

    assert ran.status == 0
    table = {line.split()[0]: line for line in ran.out.splitlines()[1:]}
    assert ran.out.splitlines()[0].split()[:4] == ["id", "version", "kind", "title"]
    assert {"eq5d-5l", "rand36", "nrs-pain"} <= set(table)
    assert "rand* sf36v1" in table["rand36"] and table["rand36"].rstrip().endswith("ours")
    assert "overlay (licensed)" in table["eq5d-5l"]


def test_instruments_show_items_codes_scorings_licence_and_citation(promsvc):
    ran = promsvc("instruments", "show", "eq5d-5l")

    assert ran.status == 0
    assert ran.out.startswith("eq5d-5l 1.0 (PROM): EQ-5D-5L")
    assert "citation: Herdman M" in ran.out
    assert "licence: EuroQol Research Foundation" in ran.out
    assert "  MO: Walking about: how is it for you today?\n      1 = No difficulty walking about\n" in ran.out
    assert "  VAS: Your health today: 0 is the worst you can imagine, 100 the best\n      a whole number from 0 to 100" in ran.out
    assert "scoring index 1.0, the default" in ran.out
    assert "value-set index of the state MO SC UA PD AD (EQ-5D-5L); default method VT, default country Norway" in ran.out


def test_instruments_show_recodes_and_summary_scores(promsvc):
    ran = promsvc("instruments", "show", "rand36")

    assert "        q21: 1→6, 2→5.4, 3→4.2, 4→3.1, 5→2.2, 6→1" in ran.out
    assert "q22 when q21 not answered: 1→6, 2→4.75, 3→3.5, 4→2.25, 5→1" in ran.out
    assert "50 + 10 × (0.42402·(pf − 84.52404)/22.8949 + 0.35119·(rp" in ran.out


def test_instruments_show_in_norwegian_and_the_score_column_of_a_one_item_scale(promsvc):
    ran = promsvc("instruments", "show", "nrs-pain", "--lang", "nb")

    assert ran.out.startswith("nrs-pain 1.0 (PROM): Smerte (numerisk skala 0–10)")
    assert "Hvor sterke smerter har du nå?" in ran.out
    assert "  pain (column pain_score): Smerte 0–10" in ran.out


def test_instruments_show_unknown(any_promsvc):
    ran = any_promsvc("instruments", "show", "sf36")

    assert ran.status == 2 and no_traceback(ran)
    assert "unknown instrument 'sf36'; instruments:" in ran.err and "rand36" in ran.err


# ---------------------------------------------------------------------------------------------
# instruments check


def test_check_every_shipped_definition(any_promsvc):
    ran = any_promsvc("instruments", "check")

    assert ran.status == 0, ran.out
    lines = ran.out.splitlines()
    assert len(lines) == len(listings.shipped_files())
    assert all(": ok (" in line for line in lines)
    assert any(line.startswith("instruments/definitions/eq5d-5l.yaml: ok (eq5d-5l 1.0, ") for line in lines)


def test_check_a_good_file(promsvc, tmp_path):
    path = tmp_path / "pain.yaml"
    path.write_text(NRS_PAIN, encoding="utf-8")

    ran = promsvc("instruments", "check", path)

    assert ran.status == 0
    assert ran.out == f"{path}: ok (nrs-pain 1.0, 2 example(s) pass)\n"


def test_check_reports_every_problem_with_file_and_path(any_promsvc, tmp_path):
    broken = NRS_PAIN.replace("items: [pain]", "items: [pain, ache]").replace("expect: {pain: 7}", "expect: {pain: 8}")
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    failing = tmp_path / "failing.yaml"
    failing.write_text(NRS_PAIN.replace("expect: {pain: 7}", "expect: {pain: 8}"), encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(NRS_PAIN.replace("id: nrs-pain", "id: nrs-pain-copy"), encoding="utf-8")

    ran = any_promsvc("instruments", "check", path, failing, good)

    assert ran.status == 2 and no_traceback(ran)
    assert ran.out.splitlines() == [
        f"{path}: at $.scorings[0].scales[0].items: no item 'ache'",
        f"{failing}: at $.examples[0].expect.pain: expected 8.0, got 7.0 (identity (the score is the answer))",
        f"{good}: ok (nrs-pain-copy 1.0, 2 example(s) pass)",
    ]


def test_check_a_file_that_is_not_a_definition(promsvc, tmp_path):
    unknown_key = tmp_path / "x.yaml"
    unknown_key.write_text(NRS_PAIN + "colour: blue\n", encoding="utf-8")

    ran = promsvc("instruments", "check", unknown_key, tmp_path / "missing.yaml")

    assert ran.status == 2
    first, second = ran.out.splitlines()
    assert first.startswith(f"{unknown_key}: ") and "colour" in first
    assert second.startswith(f"{tmp_path / 'missing.yaml'}: cannot read the file")


def test_check_two_files_with_the_same_instrument_id_and_version(promsvc, tmp_path):
    (tmp_path / "a.yaml").write_text(NRS_PAIN, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(NRS_PAIN, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(NRS_PAIN.replace('version: "1.0"', 'version: "1.1"', 1), encoding="utf-8")

    ran = promsvc("instruments", "check", tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "c.yaml")

    assert ran.status == 2
    assert f"{tmp_path / 'b.yaml'}: at $.version: nrs-pain version 1.0 is also defined in {tmp_path / 'a.yaml'}" in ran.out
    # a new version is a new file
    assert f"{tmp_path / 'c.yaml'}: ok (nrs-pain 1.1, 2 example(s) pass)" in ran.out


def overlay(languages: dict[str, str], item: str = "pain") -> str:
    """A wording overlay for nrs-pain (placeholder wording written for the tests)."""
    text = 'instrument: nrs-pain\nversion: "1.0"\nsource: test placeholder wording\nlanguages:\n'
    for lang, wording in languages.items():
        text += f"  {lang}:\n    items:\n      {item}:\n        text: {wording}\n"
    return text


def test_check_a_complete_overlay(promsvc, tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text(overlay({"nb": "Smerte?", "nn": "Smerte?", "en": "Pain?"}), encoding="utf-8")

    ran = promsvc("instruments", "check", "--overlay", path)

    assert ran.status == 0
    assert ran.out == f"{path}: ok (complete wording for nrs-pain 1.0)\n"


def test_check_an_overlay_that_lacks_languages_lists_them_but_passes(promsvc, tmp_path):
    path = tmp_path / "overlay.yaml"
    path.write_text(overlay({"nb": "Smerte?"}), encoding="utf-8")

    ran = promsvc("instruments", "check", "--overlay", path)

    assert ran.status == 0
    assert ran.out.splitlines() == [
        f"{path}: ok for nrs-pain 1.0, but 2 wording(s) missing:",
        f"{path}: missing nn: no wording for this language",
        f"{path}: missing en: no wording for this language",
    ]


def test_check_an_overlay_that_does_not_fit_its_instrument(any_promsvc, tmp_path):
    wrong_item = tmp_path / "wrong.yaml"
    wrong_item.write_text(overlay({"nb": "x", "nn": "x", "en": "x"}, item="ache"), encoding="utf-8")
    no_instrument = tmp_path / "nothing.yaml"
    no_instrument.write_text(overlay({"nb": "x"}).replace("nrs-pain", "sf36"), encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(overlay({"nb": "x", "nn": "x", "en": "x"}), encoding="utf-8")

    ran = any_promsvc("instruments", "check", "--overlay", wrong_item, "--overlay", no_instrument, "--overlay", good)

    assert ran.status == 2 and no_traceback(ran)
    out = ran.out.splitlines()
    assert f"{wrong_item}: at $.languages.nb.items.ache: nrs-pain has no item 'ache'" in out
    assert any(line.startswith(f"{no_instrument}: at $.instrument: no instrument 'sf36'; instruments: ") for line in out)
    assert out[-1] == f"{good}: ok (complete wording for nrs-pain 1.0)"


def test_check_an_overlay_of_a_definition_given_on_the_command_line(promsvc, tmp_path):
    definition = tmp_path / "pain2.yaml"
    definition.write_text(NRS_PAIN.replace("id: nrs-pain", "id: pain-two"), encoding="utf-8")
    path = tmp_path / "overlay.yaml"
    path.write_text(overlay({"nb": "x", "nn": "x", "en": "x"}).replace("nrs-pain", "pain-two"), encoding="utf-8")

    ran = promsvc("instruments", "check", definition, "--overlay", path)

    assert ran.status == 0, ran.out
    assert ran.out.splitlines()[-1] == f"{path}: ok (complete wording for pain-two 1.0)"


# ---------------------------------------------------------------------------------------------
# valuesets list


def test_valuesets_list(promsvc):
    ran = promsvc("valuesets", "list")

    assert ran.status == 0
    lines = [line.split() for line in ran.out.splitlines()]
    assert lines[0] == ["version", "method", "country", "model", "DOI"]
    assert ["EQ-5D-5L", "VT", "Norway", "additive", "10.1007/s11136-024-03837-3"] in lines
    assert {line[0] for line in lines[1:]} == {"EQ-5D-3L", "EQ-5D-5L", "EQ-5D-Y-3L"}


def test_valuesets_list_filtered_by_version_and_method(promsvc):
    ran = promsvc("valuesets", "list", "--version", "eq-5d-5l", "--method", "cw")

    assert ran.status == 0
    lines = [line.split() for line in ran.out.splitlines()[1:]]
    assert lines and all(line[:2] == ["EQ-5D-5L", "CW"] for line in lines)
    assert any(line[2] == "UK" for line in lines)


def test_valuesets_list_unknown_version_or_method(any_promsvc):
    version = any_promsvc("valuesets", "list", "--version", "5L")
    method = any_promsvc("valuesets", "list", "--version", "EQ-5D-5L", "--method", "TTO")

    assert version.status == 2 and no_traceback(version)
    assert "no value sets with version '5L'; versions: EQ-5D-3L, EQ-5D-5L, EQ-5D-Y-3L" in version.err
    assert method.status == 2
    assert "no value sets with method 'TTO'; methods of EQ-5D-5L: CW, VT" in method.err


# ---------------------------------------------------------------------------------------------
# The bundled example file


EXAMPLE = Path(__file__).parents[2] / "promsvc" / "examples" / "eq5d-5l.csv"


def test_the_bundled_example_scores_with_the_norwegian_value_set(promsvc):
    ran = promsvc("score", "eq5d-5l", EXAMPLE, "--round", "3")

    assert ran.status == 0, ran.err
    table = rows(ran.out)
    assert table[0] == ["pseudonym", "MO", "SC", "UA", "PD", "AD", "VAS", "index"]
    assert 10 <= len(table) - 1 <= 15
    index = {r[0]: r[-1] for r in table[1:]}
    assert index["P0001"] == "1.000" and index["P0011"] == "-0.453"
    assert sum(1 for r in table[1:] if "" in r[1:6]) == 1 and index["P0006"] == ""  # one missing dimension
    assert "EQ-5D-5L · VT · Norway (doi:10.1007/s11136-024-03837-3)" in ran.err


def test_the_console_script_scores_the_bundled_example(tmp_path):
    script = Path(sys.executable).with_name("promsvc")
    done = subprocess.run([script, "score", "eq5d-5l", EXAMPLE], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pseudonym,MO,SC,UA,PD,AD,VAS,index\n")
