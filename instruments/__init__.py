"""Questionnaires declared as data: the strict file format, the shipped definitions and the loader."""

from instruments.loader import DefinitionError, catalogue, decode, get, load, load_overlay, problems
from instruments.schema import Instrument, Item, Overlay, Scoring

__all__ = [
    "DefinitionError", "Instrument", "Item", "Overlay", "Scoring",
    "catalogue", "decode", "get", "load", "load_overlay", "problems",
]
