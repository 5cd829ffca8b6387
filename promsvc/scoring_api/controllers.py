"""POST /api/v1/score: score a JSON batch without storing anything."""

from __future__ import annotations

from litestar import post


@post("/score", sync_to_thread=False)
def score() -> dict:
    return {}


def bench_routes() -> list:
    return []
