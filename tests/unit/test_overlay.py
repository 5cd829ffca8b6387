"""Wording overlays: the licensed wording of an instrument, supplied by a registry.

The fixtures in tests/data hold placeholder wording written for these tests ("Test wording for
MO in bokmål"), never an instrument's real text.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

import instruments
from instruments import DefinitionError, load_overlay

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def eq5d_5l():
    return instruments.get("eq5d-5l")


def _problems(name: str, instrument) -> tuple[str, list[str]]:
    path = DATA / name
    with pytest.raises(DefinitionError) as caught:
        load_overlay(path, instrument)
    assert caught.value.file == str(path)
    return str(path), caught.value.problems


def test_a_complete_overlay_loads_and_lacks_nothing(eq5d_5l):
    overlay, missing = load_overlay(DATA / "overlay-eq5d-5l-complete.yaml", eq5d_5l)
    assert missing == []
    assert (overlay.instrument, overlay.version) == ("eq5d-5l", "1.0")
    assert set(overlay.languages) == {"nb", "nn", "en"}
    nb = overlay.languages["nb"]
    assert nb.items["MO"].text == "Test wording for MO in bokmål"
    assert nb.items["AD"].options[5] == "Test wording for AD level 5 in bokmål"
    assert overlay.languages["nn"].items["VAS"].options == {}


def test_an_overlay_accepts_a_path_given_as_text(eq5d_5l):
    _, missing = load_overlay(str(DATA / "overlay-eq5d-5l-complete.yaml"), eq5d_5l)
    assert missing == []


def test_what_a_partial_overlay_lacks_is_listed(eq5d_5l):
    overlay, missing = load_overlay(DATA / "overlay-eq5d-5l-partial.yaml", eq5d_5l)
    assert set(overlay.languages) == {"nb", "en"}
    assert sorted(missing) == sorted(
        [
            "nn: no wording for this language",
            "en: item MO has no wording for option(s) 5",
            "en: item AD has no wording",
        ]
    )


def test_an_overlay_with_only_some_items_lists_every_item_it_lacks(eq5d_5l):
    # A tiny overlay (one item, no options, one language): the "other version" fixture, read
    # against a copy of the definition with that version.
    _, missing = load_overlay(DATA / "overlay-eq5d-5l-other-version.yaml", msgspec.structs.replace(eq5d_5l, version="2.0"))
    assert "nn: no wording for this language" in missing
    assert "en: no wording for this language" in missing
    assert "nb: item MO has no wording for option(s) 1, 2, 3, 4, 5" in missing
    assert {f"nb: item {i} has no wording" for i in ("SC", "UA", "PD", "AD", "VAS")} <= set(missing)


def test_an_overlay_for_another_instrument_is_refused(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-other-instrument.yaml", eq5d_5l)
    assert problems == ["at $.instrument: the overlay is for eq5d-3l 1.0, not eq5d-5l 1.0"]


def test_an_overlay_for_another_version_is_refused(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-other-version.yaml", eq5d_5l)
    assert problems == ["at $.instrument: the overlay is for eq5d-5l 2.0, not eq5d-5l 1.0"]


def test_an_unknown_item_is_refused_with_its_path(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-unknown-item.yaml", eq5d_5l)
    assert problems == ["at $.languages.nb.items.XX: eq5d-5l has no item 'XX'"]


def test_an_unknown_option_code_is_refused_with_its_path(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-unknown-option.yaml", eq5d_5l)
    assert problems == [
        "at $.languages.nn.items.MO.options.6: item MO has no option 6",
        "at $.languages.nn.items.VAS.options.50: item VAS has no option 50",
    ]


def test_the_message_names_the_file_and_the_path(eq5d_5l):
    path = DATA / "overlay-eq5d-5l-unknown-option.yaml"
    with pytest.raises(DefinitionError) as caught:
        load_overlay(path, eq5d_5l)
    assert str(caught.value).splitlines()[0] == f"{path}: at $.languages.nn.items.MO.options.6: item MO has no option 6"


def test_an_unknown_key_is_refused_with_its_path(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-unknown-key.yaml", eq5d_5l)
    # msgspec does not name dict keys in its paths: `[...]` stands for `en` and `SC`
    assert problems == ["at $.languages[...].items[...]: Object contains unknown field `help`"]


def test_a_wrong_type_is_refused_with_its_path(eq5d_5l):
    _, problems = _problems("overlay-eq5d-5l-wrong-type.yaml", eq5d_5l)
    assert problems == ["at $.languages[...].items[...].text: Expected `str`, got `array`"]


def test_a_missing_file_is_refused_with_its_name(eq5d_5l):
    _, problems = _problems("no-such-overlay.yaml", eq5d_5l)
    assert problems == ["cannot read the file: No such file or directory"]


def test_an_unknown_language_is_refused(eq5d_5l, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text(
        'instrument: eq5d-5l\nversion: "1.0"\nsource: test\n'
        "languages:\n  sv:\n    items:\n      MO: {text: Test wording for MO in Swedish}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as caught:
        load_overlay(path, eq5d_5l)
    (problem,) = caught.value.problems
    assert "Invalid enum value 'sv'" in problem and "$.languages" in problem


def test_an_unknown_language_is_refused_with_a_clean_path(eq5d_5l, tmp_path):
    path = tmp_path / "sv.yaml"
    path.write_text('instrument: eq5d-5l\nversion: "1.0"\nsource: test\nlanguages:\n  sv: {items: {}}\n', encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_overlay(path, eq5d_5l)
    assert caught.value.problems[0].startswith("at $.languages")
