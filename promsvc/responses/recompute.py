"""Re-score stored answers after a change of scoring or value set, and report the differences.

Stored answers never change; scores may. `recompute` scores stored responses again (in
batches, vectorised per instrument and scoring) and, for each response and scoring, compares
the new scores and their provenance with the current Score row:

- the same values (within 1e-9) and the same provenance: nothing is written;
- anything different: a new Score row is added and the old one gets `current = false`, so
  both stay visible;
- no current row yet for that scoring: one is added.

The report counts responses and changes per instrument, scoring and score, with the largest
absolute change; it names no patient, episode or response.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from instruments import Instrument
from promsvc import audit
from promsvc.models import Episode, Response, Score
from promsvc.registries.loader import Registries
from promsvc.registries.schema import InstrumentUse, Registry
from promsvc.responses.scores import Scored, score_batch, scorings_of, uses_value_set
from scoring import engine as scoring_engine
from scoring.errors import ScoringError

BATCH = 2000
TOLERANCE = 1e-9


class RecomputeError(Exception):
    """A registry, instrument, scoring or value set on the command line that cannot be used."""


@dataclass
class ScoreChange:
    compared: int = 0
    changed: int = 0
    largest: float = 0.0
    now_empty: int = 0
    now_scored: int = 0


@dataclass
class ScoringCount:
    responses: int = 0
    unchanged: int = 0
    rescored: int = 0
    first: int = 0


@dataclass
class Report:
    dry_run: bool
    examined: int = 0
    skipped: Counter = field(default_factory=Counter)  # (instrument, stored version, why) → responses
    scorings: dict[tuple[str, str], ScoringCount] = field(default_factory=dict)
    scores: dict[tuple[str, str, str], ScoreChange] = field(default_factory=dict)
    provenance: Counter = field(default_factory=Counter)  # (instrument, scoring, old, new) → responses

    @property
    def written(self) -> int:
        return sum(c.rescored + c.first for c in self.scorings.values())

    def lines(self) -> list[str]:
        """The report as text lines (no patient identifiers)."""
        what = "dry run: nothing written" if self.dry_run else f"{self.written} score row(s) added"
        out = [f"{self.examined} stored response(s) examined; {what}"]
        for (ins, version, why), n in sorted(self.skipped.items()):
            out.append(f"  skipped {n} response(s) of {ins} {version}: {why}")
        if self.scorings:
            out += ["", *_table(
                ["instrument", "scoring", "responses", "unchanged", "re-scored", "first score"],
                [[i, s, c.responses, c.unchanged, c.rescored, c.first] for (i, s), c in sorted(self.scorings.items())],
            )]
        if self.provenance:
            out += ["", "provenance changes:"]
            for (ins, scoring, old, new), n in sorted(self.provenance.items()):
                out.append(f"  {ins} {scoring}: {_prov(old)} → {_prov(new)} ({n} response(s))")
        changed = [(k, c) for k, c in sorted(self.scores.items()) if c.changed]
        out += ["", "score differences:" if changed else "score differences: none"]
        if changed:
            out += _table(
                ["instrument", "scoring", "score", "compared", "changed", "largest |change|", "now empty", "now scored"],
                [[i, s, sc, c.compared, c.changed, f"{c.largest:.6g}", c.now_empty, c.now_scored] for (i, s, sc), c in changed],
            )
        return out


def _prov(p: tuple) -> str:
    version, scoring_version, value_set = p
    return f"instrument {version}, scoring {scoring_version}" + (f", {value_set}" if value_set else "")


def _table(header: list[str], rows: list[list]) -> list[str]:
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


def check_arguments(
    registries: Registries,
    *,
    registry: str | None,
    instrument: str | None,
    scoring: str | None,
    method: str | None,
    country: str | None,
) -> None:
    """Refuse names that do not exist, before reading anything."""
    if registry is not None and registry not in registries:
        raise RecomputeError(f"--registry: no registry {registry!r}; registries: {', '.join(sorted(registries))}")
    if (scoring or method or country) and instrument is None:
        raise RecomputeError("--scoring, --method and --country need --instrument (they belong to one instrument)")
    if instrument is None:
        return
    known = registries.instruments
    if instrument not in known:
        raise RecomputeError(f"--instrument: no instrument {instrument!r}; instruments: {', '.join(sorted(known))}")
    ins = known[instrument]
    try:
        chosen = scoring_engine.choose_scoring(ins, scoring)
        if method or country:
            if not uses_value_set(ins, chosen.id) and scoring is not None:
                raise RecomputeError(f"{instrument} scoring {chosen.id!r} uses no value set; leave out --method and --country")
            vs_scorings = [s for s in ins.scorings if uses_value_set(ins, s.id)]
            if not vs_scorings:
                raise RecomputeError(f"{instrument} uses no value set; leave out --method and --country")
            scoring_engine.choose_value_set(ins, vs_scorings[0] if scoring is None else chosen, method, country)
    except ScoringError as e:
        raise RecomputeError(str(e)) from None


def recompute(
    session: Session,
    registries: Registries,
    *,
    registry: str | None = None,
    instrument: str | None = None,
    scoring: str | None = None,
    method: str | None = None,
    country: str | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    batch: int = BATCH,
) -> Report:
    """Re-score stored responses (filtered by registry and instrument) and write the differences.

    Scorings: `scoring` if given, else the protocol's (InstrumentUse), else the instrument's
    default. Value set: `method`/`country` if given, else the protocol's, else the
    instrument's default. Commits once per batch; with `dry_run` writes nothing.
    """
    check_arguments(registries, registry=registry, instrument=instrument, scoring=scoring, method=method, country=country)
    now = now or dt.datetime.now(dt.UTC)
    report = Report(dry_run=dry_run)
    catalogue = registries.instruments
    touched: set[str] = set()
    last_id = ""
    while True:
        query = select(Response, Episode.protocol_id).join(Episode, col(Episode.id) == Response.episode_id).where(col(Response.id) > last_id)
        if registry is not None:
            query = query.where(Response.registry_id == registry)
        if instrument is not None:
            query = query.where(Response.instrument_id == instrument)
        rows = session.exec(query.order_by(Response.id).limit(batch)).all()
        if not rows:
            break
        last_id = rows[-1][0].id
        # each response is scored with the definition of the version it was answered in
        groups: dict[tuple[str, str, str, str], list[Response]] = {}
        for response, protocol_id in rows:
            report.examined += 1
            ins = catalogue.version(response.instrument_id, response.instrument_version)
            if response.instrument_id not in catalogue:
                report.skipped[(response.instrument_id, response.instrument_version, "the instrument is not loaded")] += 1
            elif ins is None:
                loaded = ", ".join(catalogue.versions(response.instrument_id))
                report.skipped[(response.instrument_id, response.instrument_version, f"the loaded definition is version {loaded}")] += 1
            else:
                groups.setdefault((response.registry_id, protocol_id, ins.id, ins.version), []).append(response)
        current = _current_scores(session, [r.id for group in groups.values() for r in group])
        for (registry_id, protocol_id, ins_id, version), group in groups.items():
            ins = catalogue.version(ins_id, version)
            assert ins is not None  # grouped above only when the catalogue has this version
            use = _use(registries, registry_id, protocol_id, ins)
            for scoring_id in scorings_of(ins, use, scoring):
                scored = score_batch(
                    ins, [r.answers for r in group], scoring_id,
                    method=method or use.method, country=country or use.country,
                )
                _compare(session, report, ins, group, scored, current, now, dry_run)
            touched.add(registry_id)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    if not dry_run:
        for registry_id in sorted(touched):
            audit.record(session, "cli", "admin", "scores.recompute", registry_id, None, "ok")
        session.commit()
    return report


def _use(registries: Mapping[str, Registry], registry_id: str, protocol_id: str, ins: Instrument) -> InstrumentUse:
    reg = registries.get(registry_id)
    protocol = reg.protocol(protocol_id) if reg is not None else None
    return protocol.instrument_use(ins.id) if protocol is not None else InstrumentUse(instrument=ins.id)


def _current_scores(session: Session, response_ids: list[str]) -> dict[tuple[str, str], Score]:
    found: dict[tuple[str, str], Score] = {}
    for start in range(0, len(response_ids), 500):
        chunk = response_ids[start:start + 500]
        query = select(Score).where(col(Score.response_id).in_(chunk), col(Score.current) == True).order_by(col(Score.id))  # noqa: E712
        for row in session.exec(query):
            found[(row.response_id, row.scoring)] = row  # the newest wins if there were two
    return found


def _compare(session, report, ins, group, scored: Scored, current, now, dry_run) -> None:
    counts = report.scorings.setdefault((ins.id, scored.scoring), ScoringCount())
    new_prov = scored.provenance()
    for response, values in zip(group, scored.values, strict=True):
        counts.responses += 1
        old = current.get((response.id, scored.scoring))
        if old is None:
            counts.first += 1
        else:
            old_prov = (old.instrument_version, old.scoring_version, old.value_set)
            differs = _diff(report, ins.id, scored.scoring, dict(old.values), values)
            if old_prov != new_prov:
                report.provenance[(ins.id, scored.scoring, old_prov, new_prov)] += 1
                differs = True
            if not differs:
                counts.unchanged += 1
                continue
            counts.rescored += 1
            if not dry_run:
                old.current = False
                session.add(old)
        if not dry_run:
            session.add(Score(
                response_id=response.id, instrument_id=ins.id, instrument_version=scored.instrument_version,
                scoring=scored.scoring, scoring_version=scored.scoring_version, value_set=scored.value_set,
                values=values, current=True, computed_at=now,
            ))


def _diff(report: Report, ins_id: str, scoring_id: str, old: dict, new: dict) -> bool:
    differs = set(old) != set(new)
    for name in new:
        change = report.scores.setdefault((ins_id, scoring_id, name), ScoreChange())
        change.compared += 1
        a, b = old.get(name), new[name]
        if a is None and b is None:
            continue
        if a is None or b is None:
            change.changed += 1
            change.now_empty += b is None
            change.now_scored += a is None
            differs = True
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            delta = abs(float(b) - float(a))
            if delta > TOLERANCE * max(1.0, abs(float(a))) or math.isnan(delta):
                change.changed += 1
                change.largest = max(change.largest, delta)
                differs = True
        elif a != b:
            change.changed += 1
            differs = True
    return differs
