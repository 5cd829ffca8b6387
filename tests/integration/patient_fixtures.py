"""Helpers of the patient-page and submission tests: an invitation with a working link, made
directly in the database (as the link-issuing endpoint leaves it), and a form reader that
pulls the CSRF token and fields out of a page without a browser."""

from __future__ import annotations

import datetime as dt
import html.parser
import re

from sqlmodel import Session

from promsvc.models import Episode, Invitation, InvitationEvent, InvitationLink, Status
from promsvc.security import hash_token, new_token


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_link(
    engine,
    *,
    registry: str = "demo",
    protocol: str = "hip_primary",
    time_point: str = "m12",  # EQ-5D-5L and RAND-36 (m3 also asks GS-PEQ)
    language: str = "nb",
    external_id: str | None = None,
    expires_in: dt.timedelta = dt.timedelta(days=30),
    status: Status = Status.open,
    proxy: bool | None = None,
    unit: str | None = None,
) -> tuple[str, str]:
    """A new episode with one open invitation and its link token: (token, invitation id).
    `proxy` (default: when the registry is `demo`, whose protocol allows proxies) is the
    episode's enrolment flag "a proxy may answer"."""
    token = new_token()
    with Session(engine, expire_on_commit=False) as s:
        episode = Episode(
            registry_id=registry,
            external_id=external_id or f"ext-{token[:10]}",
            pseudonym=f"pseudo-{token[:10]}",
            unit_id=unit or ("fjord-sentral" if registry == "demo" else "other-hospital"),
            protocol_id=protocol,
            event_date=dt.date.today(),
            language=language,
            proxy_allowed=(registry == "demo") if proxy is None else proxy,
            payload_hash="0" * 64,
        )
        s.add(episode)
        s.flush()
        invitation = Invitation(
            episode_id=episode.id,
            registry_id=registry,
            time_point=time_point,
            due_at=now() - dt.timedelta(days=1),
            expires_at=now() + expires_in,
            status=status,
            channel="clinic",
        )
        s.add(invitation)
        s.flush()
        s.add(InvitationEvent(invitation_id=invitation.id, status=status))
        s.add(InvitationLink(invitation_id=invitation.id, token_hash=hash_token(token), kind="token", channel="clinic"))
        s.commit()
        return token, invitation.id


class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hidden: dict[str, str] = {}
        self.ids: set[str] = set()
        self.labels_for: set[str] = set()
        self.inputs: list[dict[str, str]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "input":
            self.inputs.append(a)
            if a.get("type") == "hidden":
                self.hidden[a["name"]] = a.get("value", "")
        if tag == "label" and "for" in a:
            self.labels_for.add(a["for"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])


def parse(page: str) -> _FormParser:
    p = _FormParser()
    p.feed(page)
    return p


def csrf(page: str) -> str:
    return parse(page).hidden["csrf_token"]


def text(page: str) -> str:
    """The visible text of a page, whitespace collapsed (for `in` checks)."""
    body = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(body)).strip()



def fetch(engine, read):
    """`read(session)` in a short transaction of its own.

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE), so a test must not keep
    one open while the app handles a request; returned rows stay readable (expire_on_commit off).
    """
    with Session(engine, expire_on_commit=False) as s:
        try:
            return read(s)
        finally:
            s.commit()


def submit_direct(engine, settings, token, answers):
    """Submit through the service's full path (no HTTP, no writer): (receipt, created)."""
    from promsvc.patient.submission import submit_now
    from promsvc.registries import loader

    return submit_now(engine, loader.load_all(settings), token, answers, language="nb", respondent="patient", now=now())
