"""Load instrument definitions and wording overlays, and check them; the catalogue of instruments.

Decoding catches unknown keys and wrong types; `instruments.checks.problems` then checks the
rules that span fields and reports all of them at once, each with its path inside the file.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

from instruments import yamlfile
from instruments.checks import problems
from instruments.schema import SCALE_KERNELS, SUMMARY_KERNELS, Instrument, Languages, Overlay

DEFINITIONS = "definitions"
SUFFIXES = (".yaml", ".yml")


class DefinitionError(Exception):
    """A definition or overlay file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: list[str]):
        self.file, self.problems = file, problems
        super().__init__("\n".join(f"{file}: {p}" for p in problems))


def decode(data: bytes, file: str) -> Instrument:
    """Decode and check one definition; raise DefinitionError naming the file and paths."""
    return _checked(yamlfile.decode(data, Instrument, file, DefinitionError, _kernel_hint), file)


def _kernel_hint(problem: str) -> str:
    """An unknown kernel, said with the kernels there are (msgspec says only "Invalid value")."""
    match = re.fullmatch(r"at (\S+\.(scales|summaries)\[\d+\]\.kernel): Invalid value (.*)", problem)
    if match is None:
        return problem
    at, where, value = match.groups()
    kernels = SCALE_KERNELS if where == "scales" else SUMMARY_KERNELS
    return f"at {at}: unknown kernel {value}; the kernels of {where} are {', '.join(kernels)}"


def load(path: str | os.PathLike) -> Instrument:
    """Read and check one definition file; raise DefinitionError naming the file and paths."""
    return _checked(yamlfile.read(path, Instrument, DefinitionError, _kernel_hint), str(path))


def _checked(instrument: Instrument, file: str) -> Instrument:
    found = problems(instrument)
    if found:
        raise DefinitionError(file, found)
    return instrument


def is_file_name(ref: str | os.PathLike) -> bool:
    """Whether an instrument is named by the path of its file rather than by its id (ids have
    no dots or slashes; a file name ends in .yaml or .yml)."""
    text = os.fspath(ref)
    return text.endswith(SUFFIXES) or "/" in text or os.sep in text


def find(ref: Instrument | str | os.PathLike) -> Instrument:
    """An instrument given as a definition, the path of its file, or a shipped id."""
    if isinstance(ref, Instrument):
        return ref
    if isinstance(ref, os.PathLike) or is_file_name(ref):
        return load(ref)
    return get(ref)


# ---------------------------------------------------------------------------------------------
# The catalogue: shipped definitions, and a registry's own


class Catalogue(Mapping[str, Instrument]):
    """Instruments by id and version.

    As a mapping, an id gives the newest version of that instrument (versions compare as
    numbers part by part: 2.1a is newer than 2.1, and 10 than 9); `version(id, v)` gives any
    loaded version, `find(id, v)` the newest or a named one. One (id, version) is defined
    once: a registry's file may reuse a shipped id only with a version of its own.
    """

    def __init__(self) -> None:
        self._versions: dict[str, dict[str, Instrument]] = {}
        self._files: dict[tuple[str, str], str] = {}

    # one catalogue is one set of loaded files: compared by identity, so that it can be a key
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def add(self, ins: Instrument, file: str) -> None:
        """Add a definition read from `file`; DefinitionError if its id and version are taken."""
        key = (ins.id, ins.version)
        if key in self._files:
            raise DefinitionError(file, [
                f"at $.version: {ins.id} version {ins.version} is already defined in {self._files[key]}; "
                "a changed definition is a new version: give it its own `version` (and keep the old file "
                "while stored answers were given to it)"
            ])
        self._files[key] = file
        versions = self._versions.setdefault(ins.id, {})
        versions[ins.version] = ins
        self._versions[ins.id] = dict(sorted(versions.items(), key=lambda kv: version_key(kv[0])))

    def add_directory(self, directory: str | os.PathLike, setting: str = "the directory") -> None:
        """Add every definition file (*.yaml, *.yml) of a directory, checked as shipped ones are."""
        root = Path(directory)
        if not root.is_dir():
            raise DefinitionError(str(root), [f"{setting} names no directory; create it or correct the setting"])
        for path in sorted(p for p in root.iterdir() if p.name.endswith(SUFFIXES)):
            self.add(load(path), str(path))

    def __getitem__(self, instrument_id: str) -> Instrument:
        versions = self._versions[instrument_id]
        return versions[next(reversed(versions))]

    def __iter__(self) -> Iterator[str]:
        return iter(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def version(self, instrument_id: str, version: str) -> Instrument | None:
        return self._versions.get(instrument_id, {}).get(version)

    def versions(self, instrument_id: str) -> list[str]:
        """The loaded versions of an instrument, oldest first."""
        return list(self._versions.get(instrument_id, {}))

    def find(self, instrument_id: str, version: str | None = None) -> Instrument:
        """The newest (or the named) version; KeyError saying what is known."""
        if instrument_id not in self._versions:
            raise KeyError(f"unknown instrument {instrument_id!r}; known: {', '.join(sorted(self))}")
        if version is None:
            return self[instrument_id]
        found = self.version(instrument_id, version)
        if found is None:
            raise KeyError(f"{instrument_id} has no version {version!r}; versions: {', '.join(self.versions(instrument_id))}")
        return found

    def file_of(self, ins: Instrument) -> str:
        return self._files[(ins.id, ins.version)]

    def with_directory(self, directory: str | os.PathLike, setting: str = "the directory") -> Catalogue:
        """A new catalogue: this one's definitions and those of `directory`."""
        out = Catalogue()
        for versions in self._versions.values():
            for ins in versions.values():
                out.add(ins, self.file_of(ins))
        out.add_directory(directory, setting)
        return out


def version_key(version: str) -> tuple:
    """Sort key of a version string: numbers as numbers, other text as text ("2.1a" → 2, 1, a)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"[0-9]+|[^0-9.]+", version))


@functools.cache
def catalogue() -> Catalogue:
    """The instruments shipped with promsvc (read once per process)."""
    found = Catalogue()
    for entry in sorted(resources.files(__package__).joinpath(DEFINITIONS).iterdir(), key=str):
        if entry.name.endswith(".yaml"):
            name = f"instruments/{DEFINITIONS}/{entry.name}"
            ins = decode(entry.read_bytes(), name)
            if ins.id in found:
                raise DefinitionError(name, [f"instrument id {ins.id!r} is defined twice"])
            found.add(ins, name)
    return found


def get(instrument_id: str) -> Instrument:
    """A shipped instrument by id; KeyError with the known ids if there is none."""
    known = catalogue()
    if instrument_id not in known:
        raise KeyError(f"unknown instrument {instrument_id!r}; known: {', '.join(sorted(known))}")
    return known[instrument_id]


# ---------------------------------------------------------------------------------------------
# Wording overlays


def read_overlay(path: str | os.PathLike) -> Overlay:
    """Read a wording overlay file (not yet checked against its instrument: `fit_overlay`)."""
    return yamlfile.read(path, Overlay, DefinitionError, _overlay_hint)


def _overlay_hint(problem: str) -> str:
    if "missing required field" in problem:
        return problem + "; is this an overlay? One names its `instrument` and `version`, then `languages` (docs/instruments.md)"
    return problem


def load_overlay(path: str | os.PathLike, instrument: Instrument) -> tuple[Overlay, list[str]]:
    """Read an overlay with the licensed wording of `instrument`, and check it (`fit_overlay`)."""
    return fit_overlay(read_overlay(path), instrument, str(path))


def fit_overlay(overlay: Overlay, instrument: Instrument, file: str) -> tuple[Overlay, list[str]]:
    """Check an overlay read from `file` against the definition of `instrument`.

    Returns the overlay and what it lacks (items or options without wording, per language).
    Raises DefinitionError when it does not fit the definition: another instrument or version,
    or items and option codes that the definition does not have.
    """
    wrong: list[str] = []
    if (overlay.instrument, overlay.version) != (instrument.id, instrument.version):
        wrong.append(
            f"at $.instrument: the overlay is for {overlay.instrument} {overlay.version}, "
            f"not {instrument.id} {instrument.version}"
        )
    missing: list[str] = []
    for lang in Languages:
        if lang not in overlay.languages:
            missing.append(f"{lang}: no wording for this language")
            continue
        given = overlay.languages[lang].items
        for item_id, wording in given.items():
            at = f"$.languages.{lang}.items.{item_id}"
            item = instrument.items_by_id.get(item_id)
            if item is None:
                wrong.append(f"at {at}: {instrument.id} has no item {item_id!r}")
                continue
            codes = instrument.codes_of(item) if item.kind in ("choice", "multi") else []
            wrong += [f"at {at}.options.{c}: item {item_id} has no option {c}" for c in wording.options if c not in codes]
            lacking = [str(c) for c in codes if c not in wording.options]
            if lacking:
                missing.append(f"{lang}: item {item_id} has no wording for option(s) {', '.join(lacking)}")
        missing += [f"{lang}: item {i.id} has no wording" for i in instrument.items if i.id not in given]
    if wrong:
        raise DefinitionError(file, wrong)
    return overlay, missing
