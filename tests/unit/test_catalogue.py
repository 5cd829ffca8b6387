"""One catalogue of instruments: the shipped ones and a registry's own (PROMSVC_INSTRUMENTS_DIR).

Checked at start-up exactly as `promsvc instruments check` checks a file (examples run); an id
may repeat a shipped one only with a version of its own; a registry file may ask them.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

import instruments
import scoring
from instruments import DefinitionError
from instruments.loader import version_key
from promsvc.registries import loader
from promsvc.settings import Settings

HERE = Path(__file__).parent.parent / "integration"
OWN_INSTRUMENTS = HERE / "own_instruments"
OWN_REGISTRIES = HERE / "own_registries"
SHIPPED_NRS = Path(str(resources.files("instruments") / "definitions" / "nrs-pain.yaml"))


def _settings(**changes) -> Settings:
    return Settings(**{"demo_registry": False, **changes})


def test_a_registry_file_may_ask_an_instrument_of_the_directory():
    registries = loader.load_all(_settings(registries_dir=str(OWN_REGISTRIES), instruments_dir=str(OWN_INSTRUMENTS)))
    protocol = registries["own"].protocol("followup")
    assert registries.instrument(protocol, "local-followup").version == "2"  # the newest
    assert registries.instrument(registries["own"].protocol("pinned"), "local-followup").version == "1"
    assert registries.instruments.versions("local-followup") == ["1", "2"]
    assert registries.instruments["eq5d-5l"] is instruments.get("eq5d-5l")  # shipped ones beside them


def test_without_the_directory_the_registry_file_is_refused_naming_what_is_known():
    with pytest.raises(loader.RegistryError) as caught:
        loader.load_all(_settings(registries_dir=str(OWN_REGISTRIES)))
    assert "at $.protocols[0].time_points[0].instruments[0]: unknown instrument 'local-followup'; known: eq5d-3l" in str(caught.value)


def test_a_file_may_not_shadow_a_shipped_instrument_version(tmp_path):
    shutil.copy(SHIPPED_NRS, tmp_path / "pain.yaml")
    with pytest.raises(DefinitionError) as caught:
        loader.load_all(_settings(instruments_dir=str(tmp_path)))
    assert caught.value.file == str(tmp_path / "pain.yaml")
    assert "at $.version: nrs-pain version 1.0 is already defined in instruments/definitions/nrs-pain.yaml" in str(caught.value)


def test_a_new_version_of_a_shipped_instrument_is_a_new_file(tmp_path):
    (tmp_path / "pain-2.yaml").write_text(SHIPPED_NRS.read_text().replace('version: "1.0"', 'version: "2.0"', 1))
    found = loader.instrument_catalogue(_settings(instruments_dir=str(tmp_path)))
    assert found.versions("nrs-pain") == ["1.0", "2.0"] and found["nrs-pain"].version == "2.0"
    assert found.find("nrs-pain", "1.0") is instruments.get("nrs-pain")
    with pytest.raises(KeyError, match="nrs-pain has no version '3'; versions: 1.0, 2.0"):
        found.find("nrs-pain", "3")


def test_a_definition_whose_examples_fail_stops_the_start(tmp_path):
    text = (OWN_INSTRUMENTS / "local-followup-1.yaml").read_text().replace("expect: {improved: 1}", "expect: {improved: 0}")
    (tmp_path / "wrong.yaml").write_text(text)
    with pytest.raises(DefinitionError) as caught:
        loader.load_all(_settings(instruments_dir=str(tmp_path)))
    assert caught.value.file == str(tmp_path / "wrong.yaml")
    assert caught.value.problems == ["at $.examples[0].expect.improved: expected 0.0, got 1.0 (synthetic)"]


def test_a_setting_that_names_no_directory_is_refused(tmp_path):
    with pytest.raises(DefinitionError, match="PROMSVC_INSTRUMENTS_DIR names no directory"):
        loader.load_all(_settings(instruments_dir=str(tmp_path / "nowhere")))


def test_a_protocol_that_pins_a_version_not_loaded_is_refused(tmp_path):
    text = (OWN_REGISTRIES / "own.yaml").read_text().replace('version: "1"', 'version: "0.9"')
    (tmp_path / "own.yaml").write_text(text)
    with pytest.raises(loader.RegistryError) as caught:
        loader.load_all(_settings(registries_dir=str(tmp_path), instruments_dir=str(OWN_INSTRUMENTS)))
    assert "at $.protocols[1].instruments[0].version: local-followup has no version '0.9'; versions: 1, 2" in str(caught.value)


def test_versions_compare_as_numbers_part_by_part():
    assert sorted(["10", "2.1a", "2.1", "9", "2.10", "1.0"], key=version_key) == ["1.0", "2.1", "2.1a", "2.10", "9", "10"]


def test_the_python_api_scores_a_definition_file_by_its_path():
    path = OWN_INSTRUMENTS / "local-followup-2.yaml"
    for ref in (path, str(path)):
        result = scoring.score(ref, {"change": [1, 9], "help": [[1, 2], "3"], "weight": [80, None]})
        assert result.provenance.instrument_version == "2"
        assert result.scores["kinds_of_help"].tolist() == [2.0, 1.0]
        assert scoring.score_one(ref, {"change": 3, "help": None, "weight": 81})[0]["weight_band"] == "above_80"
