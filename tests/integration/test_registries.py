"""Registry configuration: strict decoding and cross-field checks, each problem with its path
and a hint; the shipped demo registry; `promsvc registries check`; the app refuses bad files."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path

import pytest
import yaml

from promsvc.app import create_app
from promsvc.commands import registries as registries_command
from promsvc.registries import loader
from promsvc.settings import Settings

DEMO = yaml.safe_load(resources.files("promsvc.registries").joinpath("demo.yaml").read_text(encoding="utf-8"))


def decode(data: dict) -> None:
    loader.decode(yaml.safe_dump(data, allow_unicode=True).encode(), "test.yaml")


def test_the_demo_registry_loads():
    demo = loader.demo()
    assert demo.id == "demo"
    assert [u.level for u in demo.units] == ["rhf", "rhf"]
    health_trusts = [c for u in demo.units for c in u.children if c.level == "hf"]
    hospitals = [h for hf in health_trusts for h in hf.children if h.level == "hospital"]
    assert len(health_trusts) == 2 and len(hospitals) >= 4
    protocol = demo.protocol("hip_primary")
    assert [tp.id for tp in protocol.time_points] == ["baseline", "m3", "m12"]
    assert protocol.time_points[0].offset.days < 0  # the baseline is asked before the event
    assert protocol.instrument_use("rand36").scorings == ["rand", "sf36v1"]
    assert (protocol.instrument_use("eq5d-5l").method, protocol.instrument_use("eq5d-5l").country) == ("VT", "Norway")
    assert set(protocol.respondents) == {"patient", "proxy"}


def _mutated(change) -> dict:
    data = copy.deepcopy(DEMO)
    change(data)
    return data


def _tp(data, n=0):
    return data["protocols"][0]["time_points"][n]


def _protocol(data):
    return data["protocols"][0]


# (what is wrong, how to break the demo, the path and words the message must contain)
CASES = [
    ("unknown key", lambda d: d.update(colour="red"), ["at $", "unknown field `colour`", "remove it"]),
    ("unknown key deep", lambda d: _tp(d).update(windw="P1D"), ["at $.protocols[0].time_points[0]", "unknown field `windw`"]),
    ("wrong type", lambda d: _tp(d).update(instruments="eq5d-5l"), ["at $.protocols[0].time_points[0].instruments", "Expected `array`"]),
    ("bad duration", lambda d: _tp(d).update(offset="3 months"), ["at $.protocols[0].time_points[0].offset", "ISO 8601"]),
    ("bad org number", lambda d: d["units"][0].update(org_number="12345"), ["at $.units[0].org_number", "9 digits"]),
    ("bad unit id", lambda d: d["units"][0]["children"][0].update(id="Helse Vest"),
     ["at $.units[0].children[0].id", "'Helse Vest' is not an id", "lower-case letters"]),
    ("no privacy", lambda d: (d.update(demo=False), d.pop("privacy")), ["at $.privacy: a registry must tell its patients", "legal basis"]),
    ("no contact", lambda d: (d.update(demo=False), d.pop("contact")), ["at $.contact: a registry must tell its patients", "phone"]),
    ("bad e-mail", lambda d: d["contact"].update(email="secretariat"), ["at $.contact.email"]),
    ("privacy in one language", lambda d: d["privacy"]["statement"].pop("en"), ["at $.privacy.statement", "`en`"]),
    ("language twice", lambda d: d.update(languages=["nb", "nn", "nb"]), ["at $.languages[2]: 'nb' is listed twice"]),
    ("unknown language", lambda d: d.update(languages=["nb", "se"]), ["at $.languages[1]"]),
    ("missing name", lambda d: d.pop("name"), ["missing required field `name`"]),
    ("duplicate unit", lambda d: d["units"][1]["children"][0]["children"][0].update(id="fjord-kyst"),
     ["at $.units[1].children[0].children[0].id", "'fjord-kyst' is used twice", "$.units[0].children[0].children[1].id"]),
    ("duplicate org number", lambda d: d["units"][1].update(org_number=d["units"][0]["org_number"]),
     ["at $.units[1].org_number", "also given at $.units[0].org_number"]),
    ("level order", lambda d: d["units"][0]["children"][0].update(level="rhf"), ["at $.units[0].children[0].level", "cannot sit under"]),
    ("duplicate protocol", lambda d: d["protocols"].append(copy.deepcopy(d["protocols"][0])), ["at $.protocols[1].id", "used twice"]),
    ("duplicate time point", lambda d: _tp(d, 1).update(id="baseline"), ["at $.protocols[0].time_points[1].id", "'baseline' is used twice"]),
    ("zero window", lambda d: _tp(d).update(window="P0D"), ["at $.protocols[0].time_points[0].window", "longer than zero"]),
    ("unknown instrument", lambda d: _tp(d)["instruments"].append("eq5d-9l"),
     ["at $.protocols[0].time_points[0].instruments[2]", "unknown instrument 'eq5d-9l'", "known:", "rand36"]),
    ("instrument twice", lambda d: _tp(d)["instruments"].append("rand36"), ["at $.protocols[0].time_points[0].instruments[2]", "asked twice"]),
    ("unknown scoring", lambda d: _protocol(d)["instruments"][1].update(scorings=["rand", "sf36v2"]),
     ["at $.protocols[0].instruments[1].scorings[1]", "no scoring 'sf36v2'", "rand, sf36v1"]),
    ("unknown value set country", lambda d: _protocol(d)["instruments"][0].update(country="Atlantis"),
     ["at $.protocols[0].instruments[0].country", "Atlantis"]),
    ("unknown value set method", lambda d: _protocol(d)["instruments"][0].update(method="TTO"),
     ["at $.protocols[0].instruments[0].method", "'TTO'", "VT"]),
    ("value set on rand36", lambda d: _protocol(d)["instruments"][1].update(country="Norway"),
     ["at $.protocols[0].instruments[1].country", "uses no value set"]),
    ("configured but never asked", lambda d: _protocol(d)["instruments"].append({"instrument": "sf12"}),
     ["at $.protocols[0].instruments[2].instrument", "not asked at any time point"]),
    ("configured twice", lambda d: _protocol(d)["instruments"].append({"instrument": "rand36"}),
     ["at $.protocols[0].instruments[2].instrument", "configured twice"]),
    ("repeated channel", lambda d: _protocol(d)["channels"].append("sms"), ["at $.protocols[0].channels[4]", "listed twice"]),
    ("unknown channel", lambda d: _protocol(d)["channels"].append("pigeon"), ["at $.protocols[0].channels[4]", "Invalid enum value 'pigeon'"]),
    ("repeated respondent", lambda d: _protocol(d)["respondents"].append("patient"), ["at $.protocols[0].respondents[2]", "listed twice"]),
    ("reminder after expiry", lambda d: _protocol(d)["reminders"].update(after="P10D", max=2),
     ["at $.protocols[0].reminders", "after time point 'baseline' expires", "14 days window"]),
    ("reminder not after", lambda d: _protocol(d)["reminders"].update(after="P0D"), ["at $.protocols[0].reminders.after", "after the invitation"]),
    ("too many reminders", lambda d: _protocol(d)["reminders"].update(max=9), ["at $.protocols[0].reminders.max"]),
    ("clinic only with reminders", lambda d: _protocol(d).update(channels=["clinic"]), ["at $.protocols[0].reminders", "cannot carry reminders"]),
]


@pytest.mark.parametrize(("what", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_registry_is_refused_with_path_and_hint(what, change, expected):
    with pytest.raises(loader.RegistryError) as info:
        decode(_mutated(change))
    text = str(info.value)
    assert text.startswith("test.yaml: ")
    for fragment in expected:
        assert fragment in text, f"{what}: {fragment!r} not in {text!r}"


def test_every_problem_is_reported_not_just_the_first():
    def two(d):
        _tp(d)["instruments"].append("nope")
        _protocol(d)["channels"].append("sms")

    with pytest.raises(loader.RegistryError) as info:
        decode(_mutated(two))
    assert len(info.value.problems) == 2


def test_not_yaml():
    with pytest.raises(loader.RegistryError, match="not valid YAML"):
        loader.decode(b"id: [unclosed", "broken.yaml")


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'x.sqlite3'}", registries_dir=str(tmp_path / "registries"), **kw)


def test_extra_registries_come_from_the_settings_directory(tmp_path):
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "other.yaml").write_text(yaml.safe_dump(_mutated(lambda d: d.update(id="other"))), encoding="utf-8")
    assert sorted(loader.load_all(_settings(tmp_path))) == ["demo", "other"]
    assert sorted(loader.load_all(_settings(tmp_path, demo_registry=False))) == ["other"]


def test_a_registry_id_declared_twice_is_refused(tmp_path):
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "again.yaml").write_text(yaml.safe_dump(DEMO), encoding="utf-8")
    with pytest.raises(loader.RegistryError, match="already declared in promsvc/registries/demo.yaml"):
        loader.load_all(_settings(tmp_path))


def test_a_missing_registries_directory_is_refused(tmp_path):
    with pytest.raises(loader.RegistryError, match="PROMSVC_REGISTRIES_DIR names no directory"):
        loader.load_all(_settings(tmp_path))


def test_the_app_does_not_start_with_a_bad_registry_file(tmp_path):
    folder = tmp_path / "registries"
    folder.mkdir()
    (folder / "bad.yaml").write_text(yaml.safe_dump(_mutated(lambda d: d.update(id="bad", colour=1))), encoding="utf-8")
    with pytest.raises(loader.RegistryError, match="bad.yaml: at \\$: Object contains unknown field `colour`"):
        create_app(_settings(tmp_path))


def test_registries_check_command(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_mutated(lambda d: d.update(id="good"))), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_mutated(lambda d: _tp(d)["instruments"].append("nope"))), encoding="utf-8")
    assert registries_command.check([str(good)]) == 0
    assert registries_command.check([str(good), str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"ok {good}: registry good" in out
    assert f"{bad}: at $.protocols[0].time_points[0].instruments[2]: unknown instrument 'nope'" in out
    assert registries_command.check([], env={}) == 0
    assert "ok demo:" in capsys.readouterr().out


# ------------------------------------------------------------------ licensed wording (docs/patient.md)


def _real(registry_id: str, **changes) -> dict:
    """The demo registry as a real one (not `demo: true`): it must bring the licensed wording.
    GS-PEQ (licensed too) is left out, so that only EQ-5D-5L needs an overlay."""

    def change(data: dict) -> None:
        data.update(id=registry_id, demo=False, **changes)
        for tp in data["protocols"][0]["time_points"]:
            tp["instruments"] = [i for i in tp["instruments"] if i != "gs-peq"]

    return _mutated(change)


def _eq5d_overlay(folder: Path, registry_id: str, languages: list[str]) -> None:
    items = "".join(
        f"      {i}:\n        text: Offisiell tekst {i}\n        options: {{{', '.join(f'{c}: Alternativ {c}' for c in range(1, 6))}}}\n"
        for i in ("MO", "SC", "UA", "PD", "AD")
    ) + "      VAS:\n        text: Offisiell VAS\n"
    body = "".join(f"  {lang}:\n    items:\n{items}" for lang in languages)
    (folder / registry_id).mkdir(parents=True, exist_ok=True)
    (folder / registry_id / "eq5d-5l.yaml").write_text(
        f'instrument: eq5d-5l\nversion: "1.0"\nsource: the registry\'s EuroQol licence\nlanguages:\n{body}', encoding="utf-8")


def test_a_licensed_instrument_needs_a_complete_overlay_in_each_of_the_registrys_languages(tmp_path, capsys):
    registries, overlays = tmp_path / "registries", tmp_path / "overlays"
    registries.mkdir()
    overlays.mkdir()
    (registries / "hofte.yaml").write_text(yaml.safe_dump(_real("hofte", languages=["nb", "nn"])), encoding="utf-8")
    settings = _settings(tmp_path, overlays_dir=str(overlays))
    with pytest.raises(loader.RegistryError) as info:
        loader.load_all(settings)
    problems = info.value.problems
    assert info.value.file.endswith("hofte.yaml") and len(problems) == 2  # eq5d-5l in nb and in nn; rand36's wording is ours
    assert problems[0].startswith("at $.protocols[0].time_points[0].instruments[0]: registry 'hofte' asks eq5d-5l of patients in language 'nb'")
    assert "there is no overlay with its wording" in problems[0] and "EuroQol Research Foundation" in problems[0]
    assert "hofte/eq5d-5l.yaml" in problems[0] and "demo: true" in problems[0]
    with pytest.raises(loader.RegistryError):
        create_app(settings)  # the service refuses to start

    _eq5d_overlay(overlays, "hofte", ["nb"])  # complete in bokmål only
    with pytest.raises(loader.RegistryError) as info:
        loader.load_all(_settings(tmp_path, overlays_dir=str(overlays)))
    assert [p.split(": registry ")[1][:55] for p in info.value.problems] == ["'hofte' asks eq5d-5l of patients in language 'nn', but "]
    env = {"PROMSVC_REGISTRIES_DIR": str(registries), "PROMSVC_OVERLAYS_DIR": str(overlays)}
    assert registries_command.check([], env=env) == 2
    assert registries_command.check([str(registries / "hofte.yaml")], env=env) == 2
    out = capsys.readouterr().out
    assert out.count("asks eq5d-5l of patients in language 'nn'") == 2

    _eq5d_overlay(overlays, "hofte", ["nb", "nn"])
    assert "hofte" in loader.load_all(_settings(tmp_path, overlays_dir=str(overlays)))
    assert registries_command.check([str(registries / "hofte.yaml")], env=env) == 0


def test_an_incomplete_overlay_names_what_it_lacks(tmp_path):
    overlays = tmp_path / "overlays"
    _eq5d_overlay(overlays, "hofte", ["nb"])
    path = overlays / "hofte" / "eq5d-5l.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("      VAS:\n        text: Offisiell VAS\n", ""), encoding="utf-8")
    problems = loader.check_files([_write(tmp_path, _real("hofte", languages=["nb"]))], str(overlays))
    assert len(problems) == 1 and "its overlay is not complete (item VAS has no wording)" in problems[0]


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
