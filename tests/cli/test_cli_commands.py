"""promsvc/commands/: every verb a module that registers itself the same way, and cheap to load."""

from __future__ import annotations

import importlib
import subprocess
import sys

from promsvc import commands


def test_every_command_module_registers_with_add_parser_in_help_order():
    parser = commands.build_parser()
    shown = list(parser._subparsers._group_actions[0].choices)  # the subcommands, in --help order
    names = []
    for verb in commands.VERBS:
        module = importlib.import_module(f"promsvc.commands.{verb}")
        assert callable(module.add_parser), verb
        names.append(verb if verb != "database" else "db")
    # a module may add more than one verb (outbox.py: outbox, dispatch, smtp-sink)
    assert [v for v in shown if v in names] == names
    assert set(shown) >= {"dispatch", "smtp-sink"}


def test_building_the_parser_loads_no_heavy_library():
    # `promsvc instruments list` and `promsvc --help` must not pay for polars, numpy or SQLAlchemy
    code = ("import sys; from promsvc.commands import build_parser; build_parser(); "
            "print(sorted(m for m in ('polars', 'numpy', 'sqlalchemy', 'sqlmodel', 'litestar') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
