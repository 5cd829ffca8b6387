"""Helpers for the `promsvc` command-line tests.

Two ways to run the command, with the same result object:

- `promsvc(*args)`      in-process through `promsvc.commands.main(argv)` (quick; stdout/stderr captured);
- `promsvc_process(*args)` the real command in a subprocess (`python -m promsvc`), which also
                         proves there is no traceback and that the exit status is the process's.

`csv_file(text, name=…, encoding=…)` writes a file into the test's temporary directory.
Plain helpers (not fixtures) are in cli_support.py.
"""

from __future__ import annotations

import atexit
import gc
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Ran

from promsvc.commands import main

# msgspec 0.22 can crash the interpreter in its final garbage collection once the instrument
# schema's decoder exists (msgspec issue #717), turning a green run into exit status 139.
atexit.register(gc.freeze)


@pytest.fixture
def promsvc(capsys):
    def run(*args: str) -> Ran:
        capsys.readouterr()  # start clean
        try:
            status = main([str(a) for a in args])
        except SystemExit as e:  # argparse's usage errors
            status = e.code
        captured = capsys.readouterr()
        return Ran(status, captured.out, captured.err)

    return run


@pytest.fixture
def promsvc_process(tmp_path):
    def run(*args: str, cwd: Path | None = None) -> Ran:
        done = subprocess.run(
            [sys.executable, "-m", "promsvc", *map(str, args)],
            capture_output=True,
            cwd=cwd or tmp_path,
            timeout=120,
        )
        return Ran(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))

    return run


@pytest.fixture(params=["in-process", "subprocess"])
def any_promsvc(request, promsvc, promsvc_process):
    """The command run both ways: every error path must behave the same in both."""
    return promsvc if request.param == "in-process" else promsvc_process


@pytest.fixture
def csv_file(tmp_path):
    def write(text: str | bytes, name: str = "in.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    return write
