"""The e-mail address rule, shared by enrolment (an address is refused when it is given) and the
e-mail channel (which sends by it), so that an accepted address never fails its invitation later.

Deliberately strict: an address with anything unusual is refused rather than quoted.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+\Z")


def valid_address(address: str) -> bool:
    """Exactly one plain address (`\\Z`, not `$`, which would let a final line break through)."""
    return len(address) <= 254 and _ADDRESS.match(address) is not None
