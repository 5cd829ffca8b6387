"""Reading the audit trail (role admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, cast

import msgspec
from litestar import Controller, get
from litestar.params import QueryParameter
from sqlmodel import col, select

from promsvc import audit
from promsvc.deps import CallerDep, DbSession
from promsvc.models import AuditEntry
from promsvc.security import require


class AuditEntryOut(msgspec.Struct, kw_only=True):
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    registry_id: str | None
    episode_id: str | None
    outcome: str


class AuditPage(msgspec.Struct, kw_only=True):
    entries: list[AuditEntryOut]
    next_before: int | None  # pass as `before` for the next (older) page; null on the last page


class AuditController(Controller):
    path = "/audit"
    tags = ["admin"]

    @get("/", sync_to_thread=True, summary="Read the audit trail",
         description="Newest first. Role admin. Reading the audit is itself audited.")
    def read(
        self,
        db_session: DbSession,
        caller: CallerDep,
        registry: Annotated[str | None, QueryParameter(description="Only this registry.")] = None,
        episode: Annotated[str | None, QueryParameter(description="Only this episode (its internal id).")] = None,
        action: Annotated[str | None, QueryParameter(description="Only this action, e.g. episode.read.")] = None,
        actor: Annotated[str | None, QueryParameter(description="Only this API key id.")] = None,
        outcome: Annotated[str | None, QueryParameter(description="Only this outcome, e.g. denied.")] = None,
        before: Annotated[int | None, QueryParameter(description="Entries older than this id (paging).")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> AuditPage:
        require(db_session, caller, "audit.read", (), None)
        query = select(AuditEntry)
        for column, value in ((AuditEntry.registry_id, registry), (AuditEntry.episode_id, episode),
                              (AuditEntry.action, action), (AuditEntry.actor, actor), (AuditEntry.outcome, outcome)):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            query = query.where(col(AuditEntry.id) < before)
        rows = db_session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        page = AuditPage(
            # cast: a stored row has its id (None only before the insert)
            entries=[AuditEntryOut(id=cast(int, r.id), at=r.at, actor=r.actor, role=r.role, action=r.action,
                                   registry_id=r.registry_id, episode_id=r.episode_id, outcome=r.outcome) for r in rows],
            next_before=rows[-1].id if more and rows else None,
        )
        audit.record(db_session, caller.key_id, caller.role, "audit.read", registry, episode, "ok")
        db_session.commit()
        return page
