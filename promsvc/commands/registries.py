"""`promsvc registries check [FILE…]`."""

from __future__ import annotations

import os
import sys

from promsvc.registries import loader
from promsvc.settings import Settings


def check(files: list[str], env=None, out=None) -> int:
    out = out or sys.stdout
    if not files:
        settings = Settings.from_mapping(os.environ if env is None else env)
        try:
            registries = loader.load_all(settings)
        except loader.RegistryError as e:
            for p in e.problems:
                print(f"{e.file}: {p}", file=out)
            return 2
        for registry in registries.values():
            print(f"ok {registry.id}: {len(registry.unit_ids())} units, {len(registry.protocols)} protocol(s)", file=out)
        return 0
    bad = False
    for path in files:
        try:
            registry = loader.load(path)
        except loader.RegistryError as e:
            bad = True
            for p in e.problems:
                print(f"{e.file}: {p}", file=out)
            continue
        print(f"ok {path}: registry {registry.id}, {len(registry.unit_ids())} units, {len(registry.protocols)} protocol(s)", file=out)
    return 2 if bad else 0
