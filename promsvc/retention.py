"""Data retention: delete what is kept only to reach a patient or to resume answering, once it is no
longer needed. Answers, scores, invitations, messages (which hold no address) and the audit trail
are the registry's data and are kept.

- **Contact details** (`contact`) of an episode none of whose invitations is still to come
  (planned, open or started: `promsvc.invitations.states.PENDING`), once the last of them closed
  (answered, expired, withdrawn, failed) more than the contact period ago. A withdrawal deletes
  them at once (promsvc.episodes.withdrawal.withdraw).
- **Drafts** (`draft`: answers saved but not submitted) of an invitation that closed more than the
  draft period ago; submitting deletes a draft at once.

The periods are the registry's (`retention:` in its file, docs/registries.md) or else the settings'
(`PROMSVC_RETENTION_CONTACT_DAYS`, `PROMSVC_RETENTION_DRAFT_DAYS`). `promsvc retention run` applies
them (docs/deploy.md: nightly); each deletion is one audit row per episode (actor `retention`,
actions `contacts.delete` and `draft.delete`), in the same transaction; the log and the command's
output say counts only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col

from promsvc import audit, db
from promsvc.invitations.states import PENDING
from promsvc.models import AuditEntry, Contact, Draft, Episode, Invitation, table
from promsvc.registries.schema import Registry
from promsvc.settings import Settings

log = logging.getLogger("promsvc.retention")

ACTOR = "retention"  # the audit trail's actor for what this module deletes


class Deleted(msgspec.Struct, frozen=True, kw_only=True):
    """What one run deleted (or, dry, would delete) in one registry."""

    registry: str
    contact_days: int
    draft_days: int
    episodes: int  # episodes whose contact details went
    contacts: int  # their addresses
    drafts: int


def periods(settings: Settings, registry: Registry) -> tuple[int, int]:
    """Days a registry keeps contact details and drafts after the last invitation closed."""
    own = registry.retention
    contact_days = own.contact_days if own and own.contact_days is not None else settings.retention_contact_days
    draft_days = own.draft_days if own and own.draft_days is not None else settings.retention_draft_days
    return contact_days, draft_days


def run(engine: Engine, settings: Settings, registries: dict[str, Registry], *, now: dt.datetime,
        dry_run: bool = False) -> list[Deleted]:
    """Apply the periods of every registry, one transaction per registry; returns what went."""
    out = []
    for registry_id in sorted(registries):
        contact_days, draft_days = periods(settings, registries[registry_id])
        contacts = _contacts_done(registry_id, now - dt.timedelta(days=contact_days))
        drafts = _drafts_done(registry_id, now - dt.timedelta(days=draft_days))
        with db.session(engine) as session:
            draft_episodes: dict[str, str] = dict(session.execute(
                sa.select(col(Draft.invitation_id), _INV.c.episode_id).join(_INV, _INV.c.id == Draft.invitation_id)
                .where(drafts)).all())
            gone_drafts: Sequence[str]
            if dry_run:
                gone_contacts = session.execute(sa.select(col(Contact.id), col(Contact.episode_id)).where(contacts)).all()
                gone_drafts = list(draft_episodes)
            else:
                # The conditions are the deletes' own, so that what changed since is not touched.
                gone_contacts = session.execute(
                    sa.delete(Contact).where(contacts).returning(col(Contact.id), col(Contact.episode_id))).all()
                gone_drafts = session.execute(sa.delete(Draft).where(drafts).returning(col(Draft.invitation_id))).scalars().all()
                rows = [audit.row(ACTOR, "system", action, registry_id, episode_id, "ok", now)
                        for action, episodes in (("contacts.delete", {e for _, e in gone_contacts}),
                                                 ("draft.delete", [draft_episodes.get(i) for i in gone_drafts]))
                        for episode_id in sorted(episodes, key=str)]
                if rows:
                    session.execute(sa.insert(table(AuditEntry)), rows)
                session.commit()
        done = Deleted(registry=registry_id, contact_days=contact_days, draft_days=draft_days,
                       episodes=len({e for _, e in gone_contacts}), contacts=len(gone_contacts), drafts=len(gone_drafts))
        if not dry_run:  # also when nothing went: a trace that the nightly run ran
            log.info("retention: registry %s: contact details of %d episode(s) (%d address(es)), %d draft(s) deleted",
                     registry_id, done.episodes, done.contacts, done.drafts)
        out.append(done)
    return out


_INV = table(Invitation)


def _contacts_done(registry_id: str, closed_before: dt.datetime):
    """The registry's contacts whose episode has invitations, none still to come and none closed since then."""
    of_episode = _INV.c.episode_id == Contact.episode_id
    return sa.and_(
        col(Contact.episode_id).in_(sa.select(col(Episode.id)).where(col(Episode.registry_id) == registry_id)),
        sa.exists().where(of_episode),  # an episode without invitations is left alone
        ~sa.exists().where(of_episode, sa.or_(_INV.c.status.in_(PENDING), _INV.c.status_at >= closed_before)),
    )


def _drafts_done(registry_id: str, closed_before: dt.datetime):
    """The registry's drafts whose invitation closed before then."""
    return col(Draft.invitation_id).in_(
        sa.select(_INV.c.id).where(_INV.c.registry_id == registry_id, _INV.c.status.not_in(PENDING),
                                   _INV.c.status_at < closed_before))
