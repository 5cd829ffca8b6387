"""Reading the audit trail (role admin)."""

from __future__ import annotations

from litestar import Controller


class AuditController(Controller):
    path = "/audit"
