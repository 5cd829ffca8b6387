"""Questionnaires declared as data: the strict file format, the shipped definitions, the loader,
and what an answer is (`instruments.answers`: accepted values, conditions)."""

from instruments.checks import problems
from instruments.loader import (
    Catalogue,
    DefinitionError,
    catalogue,
    decode,
    find,
    fit_overlay,
    get,
    is_file_name,
    load,
    load_overlay,
    read_overlay,
)
from instruments.schema import Instrument, Item, Overlay, Scoring

__all__ = [
    "Catalogue", "DefinitionError", "Instrument", "Item", "Overlay", "Scoring",
    "catalogue", "decode", "find", "fit_overlay", "get", "is_file_name", "load", "load_overlay", "problems",
    "read_overlay",
]
