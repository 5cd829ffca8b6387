"""A synthetic cohort of one protocol of a registry, for demos, tests and benchmarks
(`promsvc cohort`): plausible episodes, statuses, answers, and the scores the scoring engine
gives those answers. Every number is made up; nothing here is anyone's data.

Deterministic: the same registry, options and `today` give the same cohort, whatever it is
written to. It is made `CHUNK` episodes at a time (each chunk from its own seeded random
stream), so that memory does not grow with the cohort.

The model, in brief (each effect is drawn once per cohort from the seed):

- units: episodes at every hospital and department, in very different numbers (weights fall
  geometrically in a random order, so some units are small enough to be suppressed); each unit
  has its own effect on improvement, on response and on experience, and a coverage (the share of
  its eligible patients in the registry; a few units under 60 %);
- events spread evenly over `years` years ending a week after `today`; enrolment some days before
  the first time point; about 3 % of episodes withdrawn and 1.5 % of patients deceased later on;
- attributes as the protocol declares them (a few percent unknown), each value with its own
  effect on health before the event and on improvement;
- health on a 0–1 scale: before the event about 0.60; after it improved by a gain (about 0.35,
  varying by unit and attributes) reached to the power 0.3 of the years since the event (two
  thirds at 3 months, all at 12); each answer follows it with noise, 2 % of items unanswered and
  3 % of questionnaires left empty (demo: mean EQ-5D-5L index about 0.34 before, 0.71 at 12
  months; RAND-36 PF about 45 and 75).
  Which answer is better comes from the instrument's scoring: its recode tables where it has them,
  a VAS's higher number, and otherwise the lower code (EQ-5D levels, symptom counts);
- PREMs (instrument kind `prem`) follow the experience of care instead, about 0.72 by unit;
- an invitation is answered with a probability falling by time point (0.85, 0.75, 0.68 …) and by
  unit, some days after it falls due and within its window; one not answered is open while its
  window is, then expired; time points after a withdrawal are withdrawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import polars as pl

import instruments
import scoring
from instruments import Instrument, Item
from promsvc.episodes.services import due_times
from promsvc.models import Status
from promsvc.registries.schema import Attribute, Protocol, Registry
from promsvc.responses.scores import scorings_of, uses_value_set
from promsvc.settings import Settings

CHUNK = 50_000
TIME = pl.Datetime("us", "UTC")
RESPONSE_BASE = (0.85, 0.75, 0.68, 0.62, 0.58)  # by time point, in order; the last repeats
LANGUAGES = (("nb", 0.85), ("nn", 0.10), ("en", 0.05))
UNKNOWN_ATTRIBUTE = 0.03
MISSING_ITEM = 0.02
NOT_APPLICABLE = 0.04  # of items with a "not applicable" option
WITHDRAWN, DECEASED = 0.03, 0.015


class Options(msgspec.Struct, frozen=True, kw_only=True):
    episodes: int
    years: int = 5
    seed: int = 1
    today: dt.date
    protocol: str | None = None  # default: the registry's first protocol

    @property
    def now(self) -> dt.datetime:
        """The cohort's present: midnight UTC at the start of `today`; nothing happens later."""
        return dt.datetime.combine(self.today, dt.time(), dt.UTC)


class Chunk(msgspec.Struct, frozen=True):
    """Episodes `start` … `start + len(episodes) - 1` of a cohort, as polars frames.

    episodes     one row per episode: the `episode` table's columns (dates and times typed,
                 attributes as `attr.{id}`)
    invitations  one row per episode × time point: `e` (the episode's row in `episodes`),
                 `time_point`, `due_at`, `expires_at`, `status`, `status_at`, `channel`,
                 `started_at`, `submitted_at`, `respondent`
    answers      instrument id → one row per answered invitation asking it: `i` (the
                 invitation's row) and one column per item (codes, null: no answer)
    scores       (instrument id, scoring id) → the scores of those rows, in the same order
                 (floats; text for bands; null: no score), and what produced them
    """

    start: int
    episodes: pl.DataFrame
    invitations: pl.DataFrame
    answers: dict[str, pl.DataFrame]
    scores: dict[tuple[str, str], tuple[pl.DataFrame, scoring.Provenance]]


def protocol_of(registry: Registry, protocol_id: str | None) -> Protocol:
    protocol = registry.protocol(protocol_id) if protocol_id else registry.protocols[0]
    if protocol is None:
        raise ValueError(f"registry {registry.id} has no protocol {protocol_id!r}; "
                         f"its protocols: {', '.join(p.id for p in registry.protocols)}")
    return protocol


def external_id(options: Options, n: int) -> str:
    """The external id of the cohort's episode number `n` (from 0)."""
    return f"SYN{options.seed}-{n:07d}"


def treating_units(registry: Registry) -> list[str]:
    """The units episodes are enrolled at: every hospital and department."""
    out: list[str] = []
    stack = list(registry.units)
    while stack:
        unit = stack.pop(0)
        if unit.level in ("hospital", "department"):
            out.append(unit.id)
        stack[:0] = unit.children
    return out


class Model:
    """What is drawn once per cohort from the seed: unit sizes and effects, attribute marginals
    and effects."""

    def __init__(self, registry: Registry, protocol: Protocol, seed: int):
        rng = np.random.default_rng([seed, 0])
        self.units = treating_units(registry) or registry.unit_ids()
        k = len(self.units)
        weights = 0.55 ** rng.permutation(k)
        self.unit_weights = weights / weights.sum()
        self.unit_gain = rng.normal(0.0, 0.06, k)
        self.unit_response = rng.normal(0.0, 0.07, k)
        self.unit_experience = rng.normal(0.0, 0.08, k)
        coverage = rng.uniform(0.80, 0.98, k)
        low = rng.choice(k, size=max(1, k // 4), replace=False)
        coverage[low] = rng.uniform(0.42, 0.58, len(low))
        self.coverage = coverage
        self.attributes: dict[str, tuple] = {}
        for attribute in protocol.attributes:
            self.attributes[attribute.id] = _attribute_model(attribute, rng)


def _attribute_model(attribute: Attribute, rng: np.random.Generator) -> tuple:
    """(how values are drawn, effect of each on health before, effect on the gain)."""
    if attribute.kind == "category":
        n = len(attribute.values)
        return rng.dirichlet(np.full(n, 3.0)), rng.normal(0, 0.05, n), rng.normal(0, 0.04, n)
    if attribute.kind == "integer":
        low = attribute.min if attribute.min is not None else 0
        high = attribute.max if attribute.max is not None else low + 4
        return (low, high), -0.04, -0.012
    if attribute.kind == "boolean":
        return rng.uniform(0.1, 0.3), -0.05, -0.05
    return None, 0.0, 0.0


def chunks(registry: Registry, options: Options, settings: Settings) -> Iterator[Chunk]:
    protocol = protocol_of(registry, options.protocol)
    model = Model(registry, protocol, options.seed)
    dues: dict[dt.date, dict[str, tuple[dt.datetime, dt.datetime]]] = {}
    for start in range(0, options.episodes, CHUNK):
        n = min(CHUNK, options.episodes - start)
        rng = np.random.default_rng([options.seed, 1, start // CHUNK])
        episodes, latent = _episodes(registry, protocol, model, options, start, n, rng)
        invitations = _invitations(protocol, model, options, episodes, latent, rng, dues, settings)
        answers, scores = _answers_and_scores(protocol, invitations, latent, rng)
        yield Chunk(start, episodes, invitations.drop("health", "experience"), answers, scores)


def episode_counts(chunk: Chunk) -> pl.DataFrame:
    """A chunk's episodes by unit and event year (`unit`, `year`, `n`)."""
    return chunk.episodes.group_by("unit", pl.col("event_date").dt.year().cast(pl.Int64).alias("year")).agg(pl.len().alias("n"))


def reference_counts(registry: Registry, options: Options, counts: list[pl.DataFrame]) -> pl.DataFrame:
    """Coverage reference counts (`unit`, `year`, `count`) that match a cohort: the eligible
    patients of each unit and event year, from the cohort's own counts (`episode_counts` of
    each chunk) and each unit's coverage (Model), so that coverage = episodes / count."""
    model = Model(registry, protocol_of(registry, options.protocol), options.seed)
    coverage = pl.DataFrame({"unit": model.units, "coverage": model.coverage})
    total = pl.concat(counts).group_by("unit", "year").agg(pl.col("n").sum())
    return (total.join(coverage, on="unit")
            .select("unit", "year", (pl.col("n") / pl.col("coverage")).ceil().cast(pl.Int64).alias("count"))
            .sort("unit", "year"))


def _episodes(registry: Registry, protocol: Protocol, model: Model, options: Options, start: int, n: int,
              rng: np.random.Generator) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    unit = rng.choice(len(model.units), size=n, p=model.unit_weights)
    first_day = options.today - dt.timedelta(days=round(options.years * 365.25))
    span = (options.today - first_day).days + 7
    event = np.datetime64(first_day) + rng.integers(0, span, n).astype("timedelta64[D]")
    languages = np.array([code for code, _ in LANGUAGES])
    language = languages[rng.choice(len(LANGUAGES), size=n, p=[p for _, p in LANGUAGES])]
    proxy = ("proxy" in protocol.respondents) & (rng.random(n) < 0.05)
    h0 = rng.normal(0.60, 0.12, n)
    gain = rng.normal(0.35, 0.10, n) + model.unit_gain[unit]
    columns: dict[str, Any] = {}  # each attribute's values, as _draw_attribute draws them
    for attribute in protocol.attributes:
        values, before, after = _draw_attribute(attribute, model.attributes[attribute.id], event, rng)
        h0 += before
        gain += after
        columns[f"attr.{attribute.id}"] = values
    ids = np.arange(start, start + n)
    # enrolled 1–14 days before the first time point falls due, in office hours
    first_due = event.astype("datetime64[s]") + np.timedelta64(int(min(tp.offset for tp in protocol.time_points).total_seconds()), "s")
    now = np.datetime64(options.now.replace(tzinfo=None), "s")
    created = np.minimum(first_due - _seconds(rng.integers(1, 15, n) * 86400) + _seconds(rng.integers(7 * 3600, 15 * 3600, n)),
                         now - np.timedelta64(60, "s"))
    withdrawn = np.where(rng.random(n) < WITHDRAWN, created + _seconds(rng.integers(3600, 500 * 86400, n)), np.datetime64("NaT"))
    deceased = np.where(rng.random(n) < DECEASED, first_due + _seconds(rng.integers(86400, 600 * 86400, n)), np.datetime64("NaT"))
    withdrawn = np.where(withdrawn <= now, withdrawn, np.datetime64("NaT"))
    deceased = np.where(deceased <= now, deceased, np.datetime64("NaT"))
    frame = pl.DataFrame({
        "n": ids,
        "external_id": [external_id(options, i) for i in ids.tolist()],
        "pseudonym": [f"SYN-PSN-{options.seed}-{i}" for i in ids.tolist()],
        "unit": np.array(model.units)[unit],
        "protocol": protocol.id,
        "event_date": event,
        "language": language,
        "proxy": proxy,
        "created_at": created.astype("datetime64[us]"),
        "withdrawn_at": withdrawn.astype("datetime64[us]"),
        "deceased_at": deceased.astype("datetime64[us]"),
    }).with_columns(pl.col("created_at", "withdrawn_at", "deceased_at").dt.replace_time_zone("UTC"))
    frame = frame.with_columns(pl.Series(name, values) for name, values in columns.items())
    latent = {"unit": unit, "h0": np.clip(h0, 0.02, 0.98), "gain": gain,
              "experience": 0.72 + model.unit_experience[unit] + rng.normal(0, 0.12, n),
              "response": model.unit_response[unit]}
    return frame, latent


def _seconds(values: np.ndarray) -> np.ndarray:
    return values.astype("timedelta64[s]")


def _masked(values, known: np.ndarray, dtype: pl.DataType) -> pl.Series:
    """`values` where `known`, else null."""
    return pl.select(pl.when(pl.lit(pl.Series(known))).then(pl.lit(pl.Series(values, dtype=dtype)))).to_series()


def _draw_attribute(attribute: Attribute, drawn: tuple, event: np.ndarray, rng: np.random.Generator):
    n = len(event)
    how, before, after = drawn
    known = rng.random(n) >= UNKNOWN_ATTRIBUTE
    if attribute.kind == "category":
        index = rng.choice(len(how), size=n, p=how)
        values = _masked(np.array(attribute.values)[index], known, pl.String())
        return values, np.where(known, before[index], 0.0), np.where(known, after[index], 0.0)
    if attribute.kind == "integer":
        low, high = how
        value = low + rng.binomial(high - low, 0.35, n)
        return _masked(value, known, pl.Int64()), np.where(known, before * (value - low), 0.0), np.where(known, after * (value - low), 0.0)
    if attribute.kind == "boolean":
        value = rng.random(n) < how
        return _masked(value, known, pl.Boolean()), np.where(known & value, before, 0.0), np.where(known & value, after, 0.0)
    days = event - rng.integers(0, 5 * 365, n).astype("timedelta64[D]")
    return _masked(days, known, pl.Date()), 0.0, 0.0


def _invitations(protocol: Protocol, model: Model, options: Options, episodes: pl.DataFrame, latent: dict,
                 rng: np.random.Generator, dues: dict, settings: Settings) -> pl.DataFrame:
    """One row per episode × time point, with what happened to it by `options.now`."""
    n = episodes.height
    now = options.now
    for day in set(episodes["event_date"].unique().to_list()) - set(dues):
        dues[day] = due_times(protocol, day, settings)
    times = pl.DataFrame(
        [(day, tp, due, expires) for day, by_tp in dues.items() for tp, (due, expires) in by_tp.items()],
        schema={"event_date": pl.Date(), "time_point": pl.String(), "due_at": TIME, "expires_at": TIME}, orient="row")
    parts = []
    channels = [c for c in protocol.channels]
    channel_weights = np.linspace(2, 1, len(channels))
    channel_weights /= channel_weights.sum()
    for k, tp in enumerate(protocol.time_points):
        base = RESPONSE_BASE[min(k, len(RESPONSE_BASE) - 1)]
        answers = rng.random(n) < np.clip(base + latent["response"], 0.05, 0.98)
        delay = np.minimum(rng.exponential(6 * 86400, n), tp.window.total_seconds() * rng.uniform(0.5, 0.98, n))
        years = max(tp.offset.days, 0) / 365.25
        health = latent["h0"] + min(years, 1.0) ** 0.3 * latent["gain"] + rng.normal(0, 0.05, n)
        parts.append(pl.DataFrame({
            "e": np.arange(n), "time_point": tp.id, "k": k, "event_date": episodes["event_date"],
            "answers": answers, "delay": delay.astype(np.int64), "writing": rng.integers(120, 1500, n),
            "channel": np.array(channels, dtype=object)[rng.choice(len(channels), size=n, p=channel_weights)],
            "proxy_answers": rng.random(n) < 0.6,
            "health": np.clip(health, 0.0, 1.0), "experience": np.clip(latent["experience"], 0.0, 1.0),
        }))
    rows = pl.concat(parts).join(
        episodes.select(pl.int_range(pl.len()).alias("e"), "created_at", "withdrawn_at", "deceased_at", "proxy"),
        on="e", how="left", maintain_order="left",
    ).join(times, on=["event_date", "time_point"], how="left").sort("e", "k")
    submitted = pl.col("due_at") + pl.duration(seconds=pl.col("delay"))
    answered = (pl.col("answers") & (submitted <= now)
                & (pl.col("withdrawn_at").is_null() | (submitted < pl.col("withdrawn_at")))
                & (pl.col("deceased_at").is_null() | (submitted < pl.col("deceased_at"))))
    withdrawn_first = pl.col("withdrawn_at").is_not_null() & (pl.col("withdrawn_at") < pl.min_horizontal("expires_at", pl.lit(now)))
    status = (pl.when(answered).then(pl.lit(Status.completed.value))
              .when(withdrawn_first).then(pl.lit(Status.withdrawn.value))
              .when(pl.col("due_at") > now).then(pl.lit(Status.planned.value))
              .when(pl.col("expires_at") <= now).then(pl.lit(Status.expired.value))
              .otherwise(pl.lit(Status.open.value)))
    rows = rows.with_columns(status.alias("status"), pl.when(answered).then(submitted).alias("submitted_at"))
    return rows.with_columns(
        pl.when(pl.col("status") == "completed").then(pl.col("submitted_at"))
        .when(pl.col("status") == "withdrawn").then(pl.col("withdrawn_at"))
        .when(pl.col("status") == "expired").then(pl.col("expires_at"))
        .when(pl.col("status") == "open").then(pl.col("due_at"))
        .otherwise(pl.col("created_at")).alias("status_at"),
        (pl.col("submitted_at") - pl.duration(seconds=pl.col("writing"))).alias("started_at"),
        pl.when(pl.col("status") == "planned").then(None).otherwise(pl.col("channel")).alias("channel"),
        pl.when(pl.col("submitted_at").is_null()).then(None)
        .when(pl.col("proxy") & pl.col("proxy_answers")).then(pl.lit("proxy")).otherwise(pl.lit("patient")).alias("respondent"),
    ).select("e", "time_point", "due_at", "expires_at", "status", "status_at", "channel", "started_at", "submitted_at",
             "respondent", "health", "experience")


# ------------------------------------------------------------------ answers and scores


def _answers_and_scores(protocol: Protocol, invitations: pl.DataFrame, latent: dict, rng: np.random.Generator):
    answers: dict[str, pl.DataFrame] = {}
    scores: dict[tuple[str, str], tuple[pl.DataFrame, scoring.Provenance]] = {}
    completed = invitations.with_row_index("i").filter(pl.col("status") == Status.completed.value)
    asked_at: dict[str, list[str]] = {}
    for tp in protocol.time_points:
        for instrument_id in tp.instruments:
            asked_at.setdefault(instrument_id, []).append(tp.id)
    for instrument_id, tps in asked_at.items():
        ins = instruments.get(instrument_id)
        rows = completed.filter(pl.col("time_point").is_in(tps))
        level = rows["experience" if ins.kind == "prem" else "health"].to_numpy()
        skipped = rng.random(rows.height) < 0.03  # the whole questionnaire left unanswered
        columns = {item.id: _item_answers(ins, item, level, skipped, rng) for item in ins.items}
        answers[instrument_id] = pl.DataFrame({"i": rows["i"], **columns}).with_columns(
            pl.col(item.id).fill_nan(None).cast(pl.Int64) for item in ins.items)
        use = protocol.instrument_use(instrument_id)
        for scoring_id in scorings_of(ins, use):
            value_set = uses_value_set(ins, scoring_id)
            result = scoring.score(ins, columns, scoring=scoring_id,
                                   method=use.method if value_set else None, country=use.country if value_set else None)
            scores[(instrument_id, scoring_id)] = (
                pl.DataFrame([_stored(name, values) for name, values in result.scores.items()]), result.provenance)
    return answers, scores


def _stored(name: str, values: np.ndarray) -> pl.Series:
    """A score column as stored: null for no score (NaN, or an empty band)."""
    if values.dtype.kind == "f":
        return pl.Series(name, values).fill_nan(None)
    text = pl.Series(name, values.astype(str))
    return pl.select(pl.when(text != "").then(text)).to_series().alias(name)


def _item_answers(ins: Instrument, item: Item, level: np.ndarray, skipped: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Codes (floats, NaN: no answer) that follow `level` (0 worst, 1 best) with noise."""
    n = len(level)
    if item.when is not None:  # asked only under a condition: left unanswered
        return np.full(n, np.nan)
    worst_first = np.array(ranked_codes(ins, item), dtype=float)
    q = np.clip(level + rng.normal(0, 0.08, n), 0.0, 0.9999)
    codes = worst_first[(q * len(worst_first)).astype(int)]
    unanswered = [o.code for o in ins.options_of(item) if o.unanswered] if item.kind == "choice" else []
    if unanswered:
        codes = np.where(rng.random(n) < NOT_APPLICABLE, float(unanswered[0]), codes)
    return np.where(skipped | (rng.random(n) < MISSING_ITEM), np.nan, codes)


def ranked_codes(ins: Instrument, item: Item) -> list[int]:
    """An item's answers from the worst to the best (those that count as no answer left out).

    The scoring says which is better where it recodes the item (RAND-36: 0–100, higher better;
    GS-PEQ: the favourable answers); a VAS's higher number is better; otherwise the lower code
    is (EQ-5D levels, PHQ-9 and GAD-7 symptom frequencies, pain).
    """
    skip = {o.code for o in ins.options_of(item) if o.unanswered} if item.kind == "choice" else set()
    codes = [c for c in ins.codes_of(item) if c not in skip]
    table = _recode_of(ins, item)
    if table:
        pairs = [(c, table[c]) for c in codes if table.get(c) is not None]
        xs, ys = np.array([p[0] for p in pairs], float), np.array([p[1] for p in pairs], float)
        if len(pairs) > 1 and ((xs - xs.mean()) * (ys - ys.mean())).sum() != 0:
            return sorted(codes) if ((xs - xs.mean()) * (ys - ys.mean())).sum() > 0 else sorted(codes, reverse=True)
    return sorted(codes) if item.kind == "vas" else sorted(codes, reverse=True)


def _recode_of(ins: Instrument, item: Item) -> dict[int, float | None] | None:
    for s in ins.scorings:
        for scale in s.scales:
            recode = getattr(scale, "recode", None)
            if recode is None or item.id not in getattr(scale, "items", []):
                continue
            if isinstance(recode, dict):
                recode = recode.get(item.id)
            if isinstance(recode, list):  # conditional tables: the first
                recode = recode[0].values if recode else None
            if isinstance(recode, str):
                recode = s.recode_tables.get(recode)
            if recode:
                return recode
    return None
