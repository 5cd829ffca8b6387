"""Helpers for the service's integration tests (import them: `from service_helpers import bearer`)."""

from __future__ import annotations

from pathlib import Path

TEST_REGISTRIES = Path(__file__).parent / "registries"  # the test registry `other`


def bearer(key: str) -> dict[str, str]:
    """Request headers that present an API key."""
    return {"Authorization": f"Bearer {key}"}
