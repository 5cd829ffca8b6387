"""The one strict-YAML loader (instruments/yamlfile.py): one error format for every kind of file,
and the msgspec crash workaround kept on every recursive struct."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from instruments import yamlfile
from instruments.schema import Instrument, Overlay
from promsvc.indicators.schema import IndicatorFile
from promsvc.registries.schema import Registry


class Problem(Exception):
    def __init__(self, file: str, problems: list[str]):
        self.file, self.problems = file, problems


class Leaf(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    n: int = 0


@pytest.mark.parametrize("schema", [Instrument, Overlay, Registry, IndicatorFile])
def test_no_pattern_constraint_inside_a_recursive_struct(schema):
    # msgspec issue #717: such a constraint can crash the interpreter at exit
    assert yamlfile.recursive_pattern_fields(schema) == []


class Node(msgspec.Struct):  # never decoded with: only looked at
    name: Annotated[str, msgspec.Meta(pattern="^[a-z]+$")]
    children: list[Node] = []


class Top(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(pattern="^[0-9]+$")]  # not recursive: allowed
    nodes: list[Node]


def test_a_pattern_inside_a_recursive_struct_is_found():
    assert yamlfile.recursive_pattern_fields(Top) == ["Node.name"]


def test_problems_name_the_path_and_the_fix(tmp_path):
    path = tmp_path / "leaf.yaml"
    path.write_text("id: a\nn: two\n")
    with pytest.raises(Problem) as caught:
        yamlfile.read(path, Leaf, Problem, explain=lambda p: p + "; give a whole number")
    assert caught.value.file == str(path)
    assert caught.value.problems == ["at $.n: Expected `int`, got `str`; give a whole number"]


def test_unknown_key_unreadable_file_and_bad_yaml(tmp_path):
    with pytest.raises(Problem) as caught:
        yamlfile.decode(b"id: a\ncolour: red\n", Leaf, "x.yaml", Problem)
    assert caught.value.problems == ["at $: Object contains unknown field `colour`"]
    with pytest.raises(Problem) as caught:
        yamlfile.read(tmp_path / "missing.yaml", Leaf, Problem)
    assert caught.value.problems == ["cannot read the file: No such file or directory"]
    with pytest.raises(Problem) as caught:
        yamlfile.decode(b"id: [a\n", Leaf, "x.yaml", Problem)
    assert caught.value.problems[0].startswith("not valid YAML:") and "line" in caught.value.problems[0]
