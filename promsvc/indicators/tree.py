"""The registry's unit tree as the indicator engine walks it: every unit's level, organisation
number and ancestors, and the units of each publication level."""

from __future__ import annotations

import msgspec

from promsvc.indicators.results import NATIONAL
from promsvc.indicators.schema import Level
from promsvc.registries.schema import Registry


class Node(msgspec.Struct, frozen=True):
    id: str
    level: Level
    orgnr: str
    ancestors: tuple[str, ...]  # from the top down, the national root (NATIONAL) first


class UnitTree(msgspec.Struct, frozen=True):
    nodes: dict[str, Node]  # by unit id; NATIONAL is the root

    @classmethod
    def of(cls, registry: Registry) -> UnitTree:
        nodes = {NATIONAL: Node(NATIONAL, "national", "", ())}

        def walk(units, above: tuple[str, ...]) -> None:
            for unit in units:
                nodes[unit.id] = Node(unit.id, unit.level, unit.org_number or "", above)
                walk(unit.children, (*above, unit.id))

        walk(registry.units, (NATIONAL,))
        return cls(nodes)

    def codes(self) -> dict[str, int]:
        """A small integer per unit id (the engine groups by these: much faster than by text)."""
        return {unit: i for i, unit in enumerate(self.nodes)}

    def levels(self) -> set[str]:
        return {n.level for n in self.nodes.values()}

    def at_level(self, level: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.level == level]

    def subtree(self, unit: str) -> list[str]:
        """The unit and every unit below it."""
        return [n.id for n in self.nodes.values() if n.id == unit or unit in n.ancestors]

    def published_parent(self, unit: str, levels) -> str | None:
        """The nearest unit above `unit` whose level is published (None: none is)."""
        for above in reversed(self.nodes[unit].ancestors):
            if self.nodes[above].level in levels:
                return above
        return None
