"""A publication's open data and portal file as bytes to serve, made by the indicator engine's
output functions (promsvc.indicators.outputs): the open data holds only published cells, with
its data dictionary (in the JSON, and as the CSV's W3C CSVW metadata sidecar); the portal file
is the national results portal's upload rows (a delivery to the portal for the registry's staff,
not open data)."""

from __future__ import annotations

import msgspec

from promsvc.indicators import outputs
from promsvc.indicators.schema import Indicator
from promsvc.reports.published import Publication

METADATA_SUFFIX = "-metadata.json"  # CSVW: the metadata of FILE.csv is FILE.csv-metadata.json


class _Definitions(msgspec.Struct, frozen=True):
    """What the output functions read of an indicator set: its definitions (here: those the
    publication was computed with, not the ones loaded now)."""

    indicators: list[Indicator]


def csv_bytes(pub: Publication) -> bytes:
    return outputs.open_csv(pub.results).encode("utf-8")


def csv_metadata_bytes(pub: Publication, csv_name: str) -> bytes:
    return msgspec.json.encode(outputs.open_metadata(pub.results, csv_name))


def json_bytes(pub: Publication) -> bytes:
    return outputs.open_json(pub.results, _Definitions(pub.definitions))


def portal_bytes(pub: Publication) -> bytes:
    text, _notes = outputs.portal_csv(pub.results, _Definitions(pub.definitions))
    return text.encode("utf-8")
