"""Which cells may not be published: primary and complementary suppression.

Primary: a cell whose denominator is under the threshold (max(min_denominator, 5)).

Complementary: cells are tied by additive relations, `total = part + part + … (+ rest)`: a unit
and its children at the next published level in each period, and a pooled period and its
years for each unit. If a published total had exactly one hidden part, that part would be the
total minus the published parts; so in every relation whose total is published the hidden parts
number zero or at least two, and together they hold at least `threshold` episodes (otherwise
their sum would itself be a small number); and a hidden total does not have all its parts
published (it would be their sum). Where that fails, the published part with the smallest
non-zero denominator is hidden too; where no part is left, the total is. Empty cells (no
episodes) reveal no one and protect nothing. Hiding a
cell can break another relation, so the rules run until nothing changes (the usual heuristic
of statistical offices; tests/property/test_indicator_engine.py checks with linear algebra that
no hidden cell can be worked out from the published ones).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)  # a cell's key


def suppress(denominators: Mapping[K, int], relations: Sequence[tuple[K, Sequence[K]]],
             threshold: int, describe=str) -> dict[K, str]:
    """The hidden cells with the reason for each. `describe(key)` names a cell in a reason."""
    hidden: dict[K, str] = {
        key: f"denominator {den} < {threshold}" for key, den in denominators.items() if den < threshold
    }
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            before = len(hidden)
            if total in hidden:
                _protect_total(total, parts, denominators, hidden, describe)
            else:
                _protect_parts(total, parts, denominators, hidden, threshold, describe)
            changed = changed or len(hidden) > before
    return hidden


def _protect_parts(total, parts, denominators, hidden, threshold, describe) -> None:
    """A published total: its hidden parts are none, or two or more holding `threshold` episodes."""
    secret = [p for p in parts if p in hidden and denominators[p] > 0]  # an empty cell reveals no one
    while secret and (len(secret) < 2 or sum(denominators[p] for p in secret) < threshold):
        shown = [p for p in parts if p not in hidden and denominators[p] > 0]  # hiding an empty cell protects nothing
        if not shown:
            hidden[total] = f"complementary: would reveal {describe(secret[0])}"
            return
        pick = min(shown, key=denominators.__getitem__)
        hidden[pick] = f"complementary: would reveal {describe(secret[0])}"
        secret.append(pick)


def _protect_total(total, parts, denominators, hidden, describe) -> None:
    """A hidden total whose parts are all published would be their sum: hide one of them too."""
    if denominators[total] == 0 or any(p in hidden and denominators[p] > 0 for p in parts):
        return
    shown = [p for p in parts if denominators[p] > 0]
    if shown:
        hidden[min(shown, key=denominators.__getitem__)] = f"complementary: would reveal {describe(total)}"
