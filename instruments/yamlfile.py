"""The one strict-YAML loader: instrument definitions, wording overlays, registry files and
indicator files are all read by `read` (or `decode`, for bytes already in hand).

Strict means: msgspec decodes the file straight into the file's schema (frozen structs that
forbid unknown keys), so a misspelt key or a wrong type stops the load. Every problem comes
out in one format, whatever the file: `at <JSON path>: <what>[; <how to fix>]`, raised as the
caller's own error class with the file's name, e.g. `demo.yaml: at $.units[0]: Object
contains unknown field `colur`; remove it …`. A file that is not YAML at all gets
`not valid YAML: …` with the line and column where the parser stopped.

The schemas keep one rule because of a msgspec bug (issue #717, 0.19–0.22 on CPython 3.11): a
struct that contains itself (a condition's `any`/`all`, a unit's `children`) must not carry a
`Meta(pattern=…)` constraint anywhere inside it, or the interpreter can crash (SIGSEGV) while it
exits. Such fields are checked by the file's own checks instead;
`recursive_pattern_fields` finds any that slip back in (a unit test runs it on every schema).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

T = TypeVar("T")

# The caller's error class: called with the file's name and its problems.
ErrorType = Callable[[str, list[str]], Exception]


def read(path: str | os.PathLike, type: type[T], error: ErrorType, explain: Callable[[str], str] | None = None) -> T:
    """Read and decode one file as `type`; `error(file, problems)` for a file that cannot be
    read or decoded."""
    return decode(read_bytes(path, error), type, str(path), error, explain)


def read_bytes(path: str | os.PathLike, error: ErrorType) -> bytes:
    """A file's bytes; `error(file, ["cannot read the file: …"])` when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise error(str(path), [f"cannot read the file: {e.strerror or e}"]) from None


def decode(data: bytes, type: type[T], file: str, error: ErrorType, explain: Callable[[str], str] | None = None) -> T:
    """Decode YAML `data` (from `file`) as `type`. `explain` turns the located problem into
    the one shown (to add how to fix it); the default shows it as it is."""
    try:
        return msgspec.yaml.decode(data, type=type)
    except msgspec.ValidationError as e:
        problem = located(str(e))
        raise error(file, [explain(problem) if explain else problem]) from None
    except msgspec.DecodeError as e:
        raise error(file, [f"not valid YAML: {e}"]) from None


def located(message: str) -> str:
    """A msgspec validation message with its path first: 'at $.items[3].min: Expected …'."""
    # msgspec says "Expected `int`, got `str` - at `$.items[3].min`", or "- at `key` in `$.x`"
    # for a bad mapping key, and nothing for the top level; lead with the path.
    text, sep, where = message.rpartition(" - at ")
    if not sep:
        return f"at $: {message}"
    if where.startswith("`key` in "):
        return f"at {where.removeprefix('`key` in ').strip('`')} (a key): {text}"
    return f"at {where.strip('`')}: {text}"


def recursive_pattern_fields(root: type) -> list[str]:
    """`Struct.field` for every field with a pattern constraint inside a struct that contains
    itself, in the schema `root` (see the module's docstring); empty when there is none."""
    from msgspec import inspect

    def inner(t) -> list:
        """The types directly inside `t` (a struct's fields, a list's items, a union's members)."""
        if isinstance(t, inspect.StructType):
            return [f.type for f in t.fields]
        out = [getattr(t, a) for a in ("item_type", "key_type", "value_type") if hasattr(t, a)]
        return out + [u for a in ("types", "item_types") for u in getattr(t, a, ())]

    def structs_in(t) -> dict[type, inspect.StructType]:
        """Every struct reachable from `t`, `t` itself only when it is reached again."""
        found: dict[type, inspect.StructType] = {}
        stack = inner(t)
        while stack:
            u = stack.pop()
            if isinstance(u, inspect.StructType):
                if u.cls in found:
                    continue
                found[u.cls] = u
            stack += inner(u)
        return found

    bad = set()
    for cls, struct in structs_in(inspect.type_info(root)).items():
        inside = structs_in(struct)
        if cls not in inside:
            continue  # not recursive
        for s in inside.values():
            for f in s.fields:
                if any(isinstance(u, inspect.StrType) and u.pattern for u in [f.type, *inner(f.type)]):
                    bad.add(f"{s.cls.__name__}.{f.name}")
    return sorted(bad)
