"""The examples in docstrings and the README's Python example run as written."""

import doctest
import re
from pathlib import Path

import numpy as np

import scoring

ROOT = Path(__file__).resolve().parents[2]


def test_scoring_docstring_example():
    failures, tried = doctest.testmod(scoring, report=False)
    assert tried > 0 and failures == 0


def test_readme_python_example_gives_the_printed_index():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    first = block.splitlines()[2]  # result = scoring.score("eq5d-5l", …)
    namespace = {"scoring": scoring}
    exec(first, namespace)
    assert np.round(namespace["result"].scores["index"], 3).tolist() == [1.0, -0.453]


def test_the_worked_example_of_the_instruments_guide_decodes_and_its_examples_pass():
    import instruments
    from scoring.examples import failures

    guide = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- worked-example -->\n```yaml\n(.*?)```", guide, re.S).group(1)
    ins = instruments.decode(block.encode(), "docs/instruments.md (worked example)")
    assert [i.kind for i in ins.items] == ["choice", "choice", "choice", "integer", "multi", "decimal", "text"]
    assert failures(ins) == []
