"""Row ids (promsvc.models.new_id): UUID version 7, so that rows made in order land in order."""

from __future__ import annotations

import time
import uuid

from promsvc.models import new_id


def test_ids_are_uuid7_with_the_time_first_and_never_repeat():
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        value = uuid.UUID(text)
        assert len(text) == 32 and value.version == 7 and value.variant == uuid.RFC_4122
        assert before <= int(text[:12], 16) <= after  # milliseconds since 1970, RFC 9562 5.7


def test_ids_made_later_sort_later():
    first = new_id()
    time.sleep(0.002)
    assert new_id() > first
