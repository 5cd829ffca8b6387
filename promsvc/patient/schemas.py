"""The JSON form API for apps (msgspec): the same flow as the patient pages.

    GET  /api/v1/forms/{token}?lang=nb   the form: instruments, items, options, the draft
    PUT  /api/v1/forms/{token}/draft     save the draft (replaces it)
    POST /api/v1/forms/{token}/submit    submit (the body's answers, or else the draft's)

Answers are ``{instrument id: {item id: code or null}}``. Answer values are read as any JSON
value so that a wrong one is reported per item (path, found, allowed) with status 422, not as
a type error of the whole body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from instruments.schema import Condition, ItemKind

Language = Literal["nb", "nn", "en"]
Respondent = Literal["patient", "proxy"]


class OptionOut(msgspec.Struct, frozen=True, kw_only=True):
    code: int
    label: str
    unanswered: bool = False  # e.g. "not applicable": stored, but no score uses it


class ItemOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item: `choice` takes one option's code, `multi` a list of codes, `integer` and `vas`
    a whole number and `decimal` any number from `min` to `max`, `text` a string of at most
    `max_length` characters."""

    id: str
    kind: ItemKind
    text: str
    options: list[OptionOut] | None = None
    min: int | float | None = None
    max: int | float | None = None
    max_length: int | None = None
    when: Condition | None = None  # asked only when this holds (docs/instruments.md, conditions)


class InstrumentOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    version: str
    title: str
    wording: Literal["overlay", "ours"]  # overlay: the licensed wording supplied by the registry
    instructions: str | None
    items: list[ItemOut]


class DraftOut(msgspec.Struct, frozen=True, kw_only=True):
    answers: dict[str, dict[str, Any]]  # {instrument: {item: answer}}
    language: Language
    respondent: Respondent
    updated_at: dt.datetime


class TimePointOut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str


class FormOut(msgspec.Struct, frozen=True, kw_only=True):
    status: Literal["open", "started"]
    language: Language
    languages: list[Language]
    respondents: list[Respondent]  # who may answer; "proxy" needs the proxy's declaration
    registry: str
    time_point: TimePointOut
    expires_at: dt.datetime
    instruments: list[InstrumentOut]
    draft: DraftOut | None


class DraftIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    answers: dict[str, dict[str, Any]] = {}
    language: Language | None = None
    respondent: Respondent | None = None


class SubmitIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`answers` absent: submit the saved draft."""

    answers: dict[str, dict[str, Any]] | None = None
    language: Language | None = None
    respondent: Respondent | None = None


class ReceiptOut(msgspec.Struct, frozen=True, kw_only=True):
    received_at: dt.datetime
    instruments: list[str]
