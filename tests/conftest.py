"""Hypothesis profiles for every test directory.

- `ci` (chosen when $CI is set, as in `.ci/run`): derandomized, so that a failure in CI is the same
  failure on a developer's machine with `HYPOTHESIS_PROFILE=ci`; no example database (a clean
  checkout has none to reuse); the failing example printed as a reproduction blob.
- `dev` (otherwise): random examples each run, remembered in `.hypothesis/` so that a failure found
  once is tried first next time.

No deadline in either: the machines that run the suite are shared, and speed is measured by
`bench/`, not by tests. A test's own `@settings(max_examples=…)` still sets how many examples it needs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
