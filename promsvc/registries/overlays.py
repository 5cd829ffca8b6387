"""Registries' licensed wording: ``{overlays_dir}/{registry id}/*.yaml``, one overlay per
instrument version (docs/instruments.md), and the rule that a registry may not ask a licensed
instrument of patients without it.

Each file is checked against its instrument version's definition in the service's catalogue
(default: the shipped instruments) when the directory is read: once, at start-up, by
`promsvc.registries.loader.load_all` (`Registries.overlays`). An overlay for another version, or
with items or codes the definition does not have, stops that with a `DefinitionError` naming
the file, so that the service does not start. What an overlay lacks (an item or option without wording
in a language) is kept, so that `missing` can say whether it is complete.
"""

from __future__ import annotations

from pathlib import Path

import instruments
from instruments import Catalogue, Instrument
from instruments.schema import Overlay
from promsvc.registries.schema import Registry


class Overlays:
    """The overlays found under one directory, by (registry id, instrument id, version)."""

    def __init__(self, directory: str | Path | None, catalogue: Catalogue | None = None):
        self._found: dict[tuple[str, str, str], Overlay] = {}
        self._missing: dict[tuple[str, str, str], list[str]] = {}
        if not directory:
            return
        root = Path(directory)
        if not root.is_dir():
            raise instruments.DefinitionError(str(root), ["PROMSVC_OVERLAYS_DIR names no directory; create it or correct the setting"])
        catalogue = catalogue or instruments.catalogue()
        for registry_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(registry_dir.glob("*.y*ml")):
                overlay = instruments.read_overlay(path)
                instrument = catalogue.version(overlay.instrument, overlay.version) or catalogue.get(overlay.instrument)
                if instrument is None:
                    raise instruments.DefinitionError(str(path), [f"at $.instrument: no instrument {overlay.instrument!r}"])
                checked, missing = instruments.fit_overlay(overlay, instrument, str(path))
                key = (registry_dir.name, checked.instrument, checked.version)
                if key in self._found:
                    raise instruments.DefinitionError(str(path), [f"a second overlay for {checked.instrument} {checked.version} in {registry_dir}"])
                self._found[key] = checked
                self._missing[key] = missing

    def get(self, registry_id: str, instrument: Instrument) -> Overlay | None:
        return self._found.get((registry_id, instrument.id, instrument.version))

    def missing(self, registry_id: str, instrument: Instrument, lang: str) -> list[str] | None:
        """What the registry's overlay of `instrument` lacks in `lang` (empty: complete);
        None when the registry has no overlay for it at all."""
        key = (registry_id, instrument.id, instrument.version)
        if key not in self._found:
            return None
        return [m.removeprefix(f"{lang}: ") for m in self._missing[key] if m.startswith(f"{lang}: ")]

    def __len__(self) -> int:
        return len(self._found)




def licence_problems(registry: Registry, overlays: Overlays, catalogue: Catalogue | None = None) -> list[str]:
    """Every instrument whose licence requires the official wording (`licence.wording: overlay`)
    that a protocol of `registry` asks of patients without a complete overlay in each of the
    registry's languages. A demo registry (`demo: true`: synthetic patients) may show our
    short labels instead."""
    if registry.demo:
        return []
    out: list[str] = []
    catalogue = catalogue or instruments.catalogue()
    seen: set[tuple[str, str]] = set()
    for p, protocol in enumerate(registry.protocols):
        for t, time_point in enumerate(protocol.time_points):
            for i, instrument_id in enumerate(time_point.instruments):
                version = protocol.instrument_use(instrument_id).version
                instrument = catalogue.version(instrument_id, version) if version else catalogue.get(instrument_id)
                if instrument is None or instrument.licence.wording != "overlay" or (instrument.id, instrument.version) in seen:
                    continue
                seen.add((instrument.id, instrument.version))
                at = f"$.protocols[{p}].time_points[{t}].instruments[{i}]"
                for lang in registry.languages:
                    lacking = overlays.missing(registry.id, instrument, lang)
                    if lacking is None:
                        what = "there is no overlay with its wording"
                    elif lacking:
                        shown = "; ".join(lacking[:3]) + (f"; and {len(lacking) - 3} more" if len(lacking) > 3 else "")
                        what = f"its overlay is not complete ({shown})"
                    else:
                        continue
                    out.append(
                        f"at {at}: registry {registry.id!r} asks {instrument_id} of patients in language {lang!r}, "
                        f"but {what}; its licence ({instrument.licence.holder}) requires the official wording: put the "
                        f"licensed {lang} wording in {{PROMSVC_OVERLAYS_DIR}}/{registry.id}/{instrument_id}.yaml "
                        "(docs/instruments.md, overlays), remove the language from `languages`, or set `demo: true` "
                        "if the registry's patients are synthetic"
                    )
    return out
