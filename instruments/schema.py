"""The instrument file format: strict msgspec structs, one YAML file per instrument and version.

Decoding rejects unknown keys and wrong types with the exact path (``at $.items[3].options``).
Rules that span several fields (references between items, scales and tables) are checked by
`instruments.checks.problems`, which reports every problem with its path, not just the first.

The words used here are those of GLOSSARY.md: instrument, item, option, scale, summary score,
scoring, value set, example.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

Languages = ("nb", "nn", "en")
Language = Literal["nb", "nn", "en"]

# The spelling of ids is checked by `instruments.checks.problems`, not with Meta(pattern=…):
# msgspec (0.19–0.22 on CPython 3.11) can crash at interpreter exit when a pattern constraint
# sits in these recursive types (msgspec issue #717).
INSTRUMENT_ID = r"[a-z][a-z0-9-]*"
NAME = r"[A-Za-z][A-Za-z0-9_]*"
InstrumentId = Annotated[str, Meta(min_length=1, max_length=40)]
Name = Annotated[str, Meta(min_length=1, max_length=40)]
Code = Annotated[int, Meta(ge=-99, le=999)]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class Text(_Strict, frozen=True, kw_only=True):
    """A short text in each of the three patient languages."""

    nb: str
    nn: str
    en: str


class Option(_Strict, frozen=True, kw_only=True):
    """One response option of a single-choice item.

    `code` is what is stored and scored (for forms, as printed: 1 = first option unless the
    form prints other numbers). `unanswered` marks options such as "not applicable" that are
    stored as given but count as a missing answer in every scoring.
    """

    code: Code
    label: Text
    unanswered: bool = False


class Condition(_Strict, frozen=True, kw_only=True):
    """When an item is asked, or when a conditional recode applies.

    Exactly one form: ``{item: q21, in: [1]}``, ``{item: q21, answered: false}``,
    ``{any: [...]}`` or ``{all: [...]}``.
    """

    item: Name | None = None
    in_: list[Code] | None = msgspec.field(name="in", default=None)
    answered: bool | None = None
    any: list[Condition] | None = None
    all: list[Condition] | None = None


ItemKind = Literal["choice", "multi", "integer", "decimal", "vas", "text"]
KINDS: tuple[str, ...] = get_args(ItemKind)
# Kinds whose answers are codes: a finite list of whole numbers (`Instrument.codes_of`).
CODED = frozenset({"choice", "multi", "integer", "vas"})


class Item(_Strict, frozen=True, kw_only=True):
    """A question.

    `choice` takes one of `options` (inline, or the name of an option set); `multi` takes one
    or more of them (tick all that apply; stored as a list of codes, and no option of a multi
    item may be `unanswered`); `integer` and `vas` take a whole number from `min` to `max`;
    `decimal` takes any number from `min` to `max`; `text` takes free text of at most
    `max_length` characters, which is stored but never scored, and never written to a log.
    """

    id: Name
    kind: ItemKind
    label: Text
    options: list[Option] | Name | None = None
    min: int | float | None = None
    max: int | float | None = None
    max_length: Annotated[int, Meta(ge=1, le=10_000)] | None = None
    when: Condition | None = None


class ConditionalRecode(_Strict, frozen=True, kw_only=True):
    """A recode table that applies only when `when` holds (the first that holds wins)."""

    when: Condition
    values: dict[Code, float | None]


# A recode: a table name, an inline table {code: value}, or conditional tables.
# A value of null means "counts as missing".
Recode = Name | dict[Code, float | None] | list[ConditionalRecode]


class Linear(_Strict, frozen=True, kw_only=True):
    """A linear transform of a scale's value, in one of two forms.

    ``{min, max}``: rescale so that `min` becomes 0 and `max` becomes 100, as
    ``(x - min) / (max - min) * 100``; with `min` above `max` the scale is reversed (KOOS:
    ``{min: 4, max: 0}`` gives ``100 - mean * 100 / 4``). ``{multiply, add}``: ``x * multiply
    + add`` (NDI as a percentage: ``{multiply: 2}``).
    """

    min: float | None = None
    max: float | None = None
    multiply: float | None = None
    add: float | None = None

    def apply(self, x):
        """The transformed value (a float or a numpy array: the same arithmetic for both)."""
        if self.multiply is None and self.add is None:
            return (x - self.min) / (self.max - self.min) * 100.0
        return x * (1.0 if self.multiply is None else self.multiply) + (0.0 if self.add is None else self.add)


class RecodeMean(_Strict, frozen=True, kw_only=True, tag="recode_mean", tag_field="kernel"):
    """Recode each answered item, then average the answered items.

    Scored when at least `min_answered` items are answered (averaging the answered items is
    the same as imputing the person's mean for the missing ones), then rescaled by `transform`.
    """

    id: Name
    label: Text
    items: list[Name]
    recode: Name | dict[Name, Recode] | None = None
    min_answered: Annotated[int, Meta(ge=1)] = 1
    transform: Linear | None = None


class Sum(_Strict, frozen=True, kw_only=True, tag="sum", tag_field="kernel"):
    """`constant` plus the sum of the recoded items (codes as they are when no recode).

    Scored when at least `min_answered` items are answered (default: all). With `prorate`,
    a sum with missing items is scaled up to the full number of items. `transform`, if
    given, applies last, to the sum with its constant.
    """

    id: Name
    label: Text
    items: list[Name]
    recode: Name | dict[Name, Recode] | None = None
    constant: float = 0.0
    min_answered: Annotated[int, Meta(ge=1)] | None = None
    prorate: bool = False
    transform: Linear | None = None


class ValueSetIndex(_Strict, frozen=True, kw_only=True, tag="valueset_index", tag_field="kernel"):
    """The index of an EQ-5D health state under a value set chosen at scoring time.

    `items` are the five dimensions in the order of the state's digits; `version` names the
    descriptive system of the answers (EQ-5D-3L, EQ-5D-5L, EQ-5D-Y-3L).
    """

    id: Name
    label: Text
    items: Annotated[list[Name], Meta(min_length=5, max_length=5)]
    version: str
    default_method: str
    default_country: str | None = None


class PatternLookup(_Strict, frozen=True, kw_only=True, tag="lookup", tag_field="kernel"):
    """The value of a response pattern in a table: the codes of `items`, in that order and
    separated by single spaces, are the key (``"2 1 3": 0.81``). No score when an item has
    no answer or the pattern is not in the table."""

    id: Name
    label: Text
    items: Annotated[list[Name], Meta(min_length=1)]
    table: dict[str, float]


Scale = RecodeMean | Sum | ValueSetIndex | PatternLookup
SCALE_KERNELS = ("recode_mean", "sum", "valueset_index", "lookup")


class Input(_Strict, frozen=True, kw_only=True):
    """One scale in a weighted sum: contributes ``weight * (scale - mean) / sd``."""

    scale: Name
    weight: float
    mean: float = 0.0
    sd: Annotated[float, Meta(gt=0)] = 1.0


class WeightedSum(_Strict, frozen=True, kw_only=True, tag="weighted_sum", tag_field="kernel"):
    """``constant + multiplier * sum(inputs)``; needs every input scale."""

    id: Name
    label: Text
    inputs: list[Input]
    constant: float = 0.0
    multiplier: float = 1.0


class Band(_Strict, frozen=True, kw_only=True):
    """A band and its lower bound: closed with `min` (the score is ≥ min) or open with
    `above` (the score is > above). Its upper bound is the next band's lower bound."""

    id: Name
    label: Text
    min: float | None = None
    above: float | None = None

    @property
    def bound(self) -> tuple[float, bool]:
        """(value, open): bands are ordered by this, a closed bound before an open one."""
        if self.above is not None:
            return (self.above, True)
        assert self.min is not None  # the loader checked: exactly one of min, above
        return (self.min, False)


class Bands(_Strict, frozen=True, kw_only=True, tag="bands", tag_field="kernel"):
    """The band (category) a score falls in: the last band whose lower bound admits the score
    (``score >= min`` or ``score > above``); none when the score is below every band."""

    id: Name
    label: Text
    input: Name
    bands: list[Band]


class MeanOf(_Strict, frozen=True, kw_only=True, tag="mean", tag_field="kernel"):
    """The mean of the `inputs` that have a score, when at least `min_scored` of them have
    one (default: all). KOOS4: the mean of four subscales."""

    id: Name
    label: Text
    inputs: Annotated[list[Name], Meta(min_length=1)]
    min_scored: Annotated[int, Meta(ge=1)] | None = None


class ScoreLookup(_Strict, frozen=True, kw_only=True, tag="lookup", tag_field="kernel"):
    """A score looked up in a table by the value of `input` (a raw sum → its interval score,
    T-score or standard error). No score when the input has none or its value is not a key."""

    id: Name
    label: Text
    input: Name
    table: dict[float, float]


Summary = WeightedSum | Bands | MeanOf | ScoreLookup
SUMMARY_KERNELS = ("weighted_sum", "bands", "mean", "lookup")


class Scoring(_Strict, frozen=True, kw_only=True):
    """One way of turning the items into scores. Scales come from items; summary scores come
    from scales (or earlier summary scores), in the order listed."""

    id: Name
    version: str
    title: Text
    source: str
    default: bool = False
    recode_tables: dict[Name, dict[Code, float | None]] = {}
    scales: list[Scale]
    summaries: list[Summary] = []


class Licence(_Strict, frozen=True, kw_only=True):
    """Who holds the instrument and on what terms. `wording: overlay` means the official item
    wording is licensed: the repository ships only our own short labels, and a registry that
    holds the licence supplies the wording in an overlay file."""

    holder: str
    terms: str
    wording: Literal["ours", "overlay"]


class Example(_Strict, frozen=True, kw_only=True):
    """An answer pattern with the scores it must give; `instruments check` runs every one.

    Expected values are compared within half a unit of the last of `precision` decimals.
    An expected null means "no score" (for example too few items answered).
    """

    source: str
    scoring: Name | None = None
    method: str | None = None
    country: str | None = None
    answers: dict[Name, int | float | list[int] | str | None]
    expect: dict[Name, float | str | None]
    precision: Annotated[int, Meta(ge=0, le=12)] = 3


class Instrument(_Strict, frozen=True, kw_only=True, dict=True):
    """One instrument in one version. Lookups derived from the definition (items by id, codes,
    compiled conditions) are built on first use and kept with the object (`dict=True` gives
    the frozen struct a place for them)."""

    id: InstrumentId
    version: str
    kind: Literal["prom", "prem"]
    title: Text
    citation: str
    licence: Licence
    option_sets: dict[Name, list[Option]] = {}
    items: list[Item]
    scorings: list[Scoring]
    examples: list[Example] = []

    def item(self, item_id: str) -> Item:
        return self.items_by_id[item_id]

    @functools.cached_property
    def derived(self) -> dict[tuple, Any]:
        """Tables other packages derive from this definition, by their key (scoring.coding.per_definition)."""
        return {}

    @functools.cached_property
    def items_by_id(self) -> dict[str, Item]:
        return {i.id: i for i in self.items}

    def options_of(self, item: Item) -> list[Option]:
        """The options of a choice or multi item, with option-set names resolved."""
        if isinstance(item.options, str):
            return self.option_sets.get(item.options, [])  # an unknown set is a reported problem
        return item.options or []

    def codes_of(self, item: Item) -> list[int]:
        """Every code an item accepts, in form order; none for `decimal` and `text` items."""
        if item.kind in ("choice", "multi"):
            return [o.code for o in self.options_of(item)]
        if item.kind in ("integer", "vas"):
            assert item.min is not None and item.max is not None  # the loader checked: whole-number items have both
            return list(range(int(item.min), int(item.max) + 1))
        return []

    def code_set(self, item: Item) -> frozenset[int]:
        """`codes_of` as a set, built once per item."""
        return self._code_sets[item.id]

    @functools.cached_property
    def _code_sets(self) -> dict[str, frozenset[int]]:
        return {i.id: frozenset(self.codes_of(i)) for i in self.items}

    @functools.cached_property
    def whole_codes(self) -> dict[str, frozenset[int]]:
        """Item id → its codes, for the items whose answer is one code (choice, integer, vas)."""
        return {i.id: self._code_sets[i.id] for i in self.items if i.kind in ("choice", "integer", "vas")}

    def unanswered_codes(self, item: Item) -> frozenset[int]:
        """Codes of the item's options marked `unanswered`: stored, but no answer."""
        return self._unanswered[item.id]

    @functools.cached_property
    def _unanswered(self) -> dict[str, frozenset[int]]:
        return {
            i.id: frozenset(o.code for o in self.options_of(i) if o.unanswered) if i.kind == "choice" else frozenset()
            for i in self.items
        }

    @functools.cached_property
    def asked_when(self) -> dict:
        """Item id → the compiled `when` (instruments.answers.Test) of each conditional item."""
        from instruments.answers import compile_condition

        return {i.id: compile_condition(self, i.when) for i in self.items if i.when is not None}

    def scoring(self, scoring_id: str | None = None) -> Scoring:
        if scoring_id is None:
            return next(s for s in self.scorings if s.default)
        return next(s for s in self.scorings if s.id == scoring_id)

    def score_column(self, score_id: str) -> str:
        """The name of a score's column beside the answers: its id, or `<id>_score` when an
        item has that id (nrs-pain's `pain`, GS-PEQ's item values), so the answer keeps its column."""
        return f"{score_id}_score" if any(item.id == score_id for item in self.items) else score_id


# Overlay: the licensed wording of one instrument, supplied by a registry.


class OverlayItem(_Strict, frozen=True, kw_only=True):
    text: str
    options: dict[Code, str] = {}


class OverlayLanguage(_Strict, frozen=True, kw_only=True):
    instructions: str | None = None
    items: dict[Name, OverlayItem]


class Overlay(_Strict, frozen=True, kw_only=True):
    """Official wording for an instrument version, per language, from the licence holder."""

    instrument: InstrumentId
    version: str
    source: str
    languages: dict[Language, OverlayLanguage]
