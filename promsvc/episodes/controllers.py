"""HTTP endpoints of episodes (filled in by the enrolment work)."""

from __future__ import annotations

from litestar import Controller


class EpisodeController(Controller):
    path = "/registries/{registry:str}/episodes"


class ExportController(Controller):
    path = "/registries/{registry:str}"
