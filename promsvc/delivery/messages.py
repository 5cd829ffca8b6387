"""What patients receive: message texts per kind, channel and language, and the guard that keeps
health information out of them.

A message carries the link, the sender and the moment the link stops working, and nothing else
about the patient: no diagnosis, procedure, protocol, time point, instrument or unit. That
is enforced in three ways, from the strongest:

1. Templates can only use the placeholders in `PLACEHOLDERS`; none of them can carry health
   information (a template naming `$protocol` is refused at start-up).
2. The text of every template, and the registry's `sender`, is checked at start-up against
   the registry's own health vocabulary (protocol titles and events, time point titles,
   instrument ids) and a short list of generic health terms (`health_terms.txt`).
3. Every rendered message is checked again before it leaves (the same check, on the final
   text); a hit stops the message with a permanent failure whose cause names the term, never
   the patient.

Templates are UTF-8 text files named `{kind}.{channel}.{language}.txt` (`invitation.email.nb.txt`).
E-mail templates start with a `Subject:` line and a blank line. The shipped ones live in
`promsvc/delivery/templates/`; a registry overrides any of them with a file of the same name
in `{templates_dir}/{registry id}/` (setting `PROMSVC_TEMPLATES_DIR`).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from promsvc import timetext
from promsvc.registries.schema import Registry

KINDS = ("invitation", "reminder")
CHANNELS = ("email", "sms", "letter")
LANGUAGES = ("nb", "nn", "en")
DEFAULT_LANGUAGE = "nb"

PLACEHOLDERS = {
    "sender": "how the registry names itself to patients (`sender` in the registry file)",
    "link": "the patient's personal link",
    "expires": "the moment the link stops working: date and time in the message's language, with its time zone "
               "(`15. mars 2027 kl. 09:00 (norsk tid)`)",
}
REQUIRED = {"email": {"link"}, "sms": {"link"}, "letter": set()}  # letters print the link below the text

SHIPPED = Path(__file__).with_name("templates")
HEALTH_TERMS = Path(__file__).with_name("health_terms.txt")

class TemplateError(Exception):
    """A template that cannot be used; the message names the file, what is wrong and the fix."""


class HealthInformation(Exception):
    """A text that would reveal health information; names the term (never the patient)."""

    def __init__(self, term: str, where: str):
        super().__init__(f"{where}: contains {term!r}, which could reveal health information")
        self.term, self.where = term, where


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


def format_date(day: dt.date, language: str) -> str:
    """`15. mars 2027` (nb, nn), `15 March 2027` (en)."""
    return timetext.format_date(day, language)


def deadline(expires_at: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The moment a link stops working, in the service's time zone: what `$expires` states
    (with its time, so that the message matches the actual expiry to the minute)."""
    return expires_at.astimezone(tz)


# The name delivery's dispatch code imports (promsvc.delivery.jobs): it now gives the moment, not
# just the day. Kept while that code is changed in parallel; use `deadline`.
last_day = deadline


def _deadline_text(expires: dt.datetime, language: str) -> str:
    zone = getattr(expires.tzinfo, "key", None) or "UTC"
    return timetext.format_deadline(expires, zone, language)


class Guard:
    """Finds health terms in a text: whole words or word starts, case-insensitive."""

    def __init__(self, terms: Iterable[str]):
        cleaned = sorted({t.strip().lower() for t in terms if len(t.strip()) >= 3}, key=len, reverse=True)
        self.terms = tuple(cleaned)
        # A term matches at a word start; a term ending in `*` matches any word it begins.
        parts = []
        for term in cleaned:
            if term.endswith("*"):
                parts.append(r"(?<!\w)" + re.escape(term[:-1]))
            else:
                parts.append(r"(?<!\w)" + re.escape(term) + r"(?!\w)")
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None

    def find(self, text: str) -> str | None:
        if self._pattern is None:
            return None
        m = self._pattern.search(text)
        return m.group(0) if m else None

    def check(self, text: str, where: str) -> None:
        term = self.find(text)
        if term is not None:
            raise HealthInformation(term, where)


def generic_terms(path: Path = HEALTH_TERMS) -> list[str]:
    """The shipped list of generic health terms (one per line, `#` comments)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def registry_terms(registry: Registry) -> list[str]:
    """The registry's own words for health matters: protocol titles and events, time point titles,
    instrument ids. None of them may appear in a message."""
    terms: list[str] = []
    for protocol in registry.protocols:
        terms += [protocol.title.nb, protocol.title.nn, protocol.title.en, protocol.event, protocol.id]
        for tp in protocol.time_points:
            terms += [tp.title.nb, tp.title.nn, tp.title.en]
            terms += list(tp.instruments)
    return terms


def guard_for(registry: Registry) -> Guard:
    return Guard([*generic_terms(), *registry_terms(registry)])


@dataclass(frozen=True)
class Template:
    kind: str
    channel: str
    language: str
    text: string.Template
    source: str  # file path, for messages

    def render(self, values: Mapping[str, str]) -> Rendered:
        text = self.text.substitute(values)
        if self.channel == "email":
            head, _, body = text.partition("\n\n")
            return Rendered(subject=head.removeprefix("Subject:").strip(), body=body.strip() + "\n")
        if self.channel == "sms":
            return Rendered(subject=None, body=" ".join(text.split()))
        return Rendered(subject=None, body=text.strip() + "\n")


def _read(path: Path, kind: str, channel: str, language: str) -> Template:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TemplateError(f"{path}: not UTF-8 ({e.reason} at byte {e.start}); save the file as UTF-8") from None
    raw = raw.replace("\r\n", "\n")
    template = string.Template(raw)
    if not template.is_valid():
        raise TemplateError(f"{path}: a `$` that is not a placeholder; write `$$` for a dollar sign")
    used = set(template.get_identifiers())
    unknown = sorted(used - PLACEHOLDERS.keys())
    if unknown:
        known = ", ".join(f"${p}" for p in PLACEHOLDERS)
        raise TemplateError(
            f"{path}: unknown placeholder ${unknown[0]}; a message may use only {known} "
            "(nothing else about the patient or their care)"
        )
    missing = sorted(REQUIRED[channel] - used)
    if missing:
        raise TemplateError(f"{path}: ${missing[0]} is missing; every {channel} message carries the link")
    if channel == "email":
        first, _, rest = raw.partition("\n")
        if not first.startswith("Subject:") or not rest.startswith("\n"):
            raise TemplateError(f"{path}: an e-mail template starts with a `Subject: ...` line and a blank line")
    return Template(kind, channel, language, template, str(path))


class Templates:
    """All templates of all registries, read and checked once (at start-up)."""

    def __init__(self, by_registry: dict[str, dict[tuple[str, str, str], Template]], guards: dict[str, Guard],
                 senders: dict[str, str]):
        self._by_registry = by_registry
        self._guards = guards
        self._senders = senders
        self._checked: set[tuple] = set()  # texts already checked (see render)

    @classmethod
    def load(cls, registries: Mapping[str, Registry], templates_dir: str | Path | None = None) -> Templates:
        """Read the shipped templates and each registry's overrides; raise TemplateError on the
        first problem (unknown placeholder, missing link, health information)."""
        shipped = {
            (k, c, lang): _read(SHIPPED / f"{k}.{c}.{lang}.txt", k, c, lang)
            for k in KINDS for c in CHANNELS for lang in LANGUAGES
        }
        base = Path(templates_dir) if templates_dir else None
        if base is not None and not base.is_dir():
            raise TemplateError(f"PROMSVC_TEMPLATES_DIR: {base} is not a directory")
        if base is not None:
            for entry in sorted(base.iterdir()):
                if entry.is_dir() and entry.name not in registries:
                    raise TemplateError(
                        f"{entry}: no registry {entry.name!r}; name the directory after a registry id "
                        f"({', '.join(sorted(registries)) or 'none loaded'})"
                    )
        by_registry: dict[str, dict[tuple[str, str, str], Template]] = {}
        guards: dict[str, Guard] = {}
        senders: dict[str, str] = {}
        for rid, registry in registries.items():
            guard = guard_for(registry)
            guards[rid] = guard
            try:
                guard.check(registry.sender, f"registry {rid}: sender")
            except HealthInformation as e:
                raise TemplateError(str(e) + "; name the sender neutrally, e.g. after the organisation") from None
            own = dict(shipped)
            folder = base / rid if base is not None else None
            if folder is not None and folder.is_dir():
                for path in sorted(folder.iterdir()):
                    parts = path.name.split(".")
                    if len(parts) != 4 or parts[3] != "txt" or parts[0] not in KINDS or parts[1] not in CHANNELS \
                            or parts[2] not in LANGUAGES:
                        raise TemplateError(
                            f"{path}: not a template name; use KIND.CHANNEL.LANGUAGE.txt with KIND in "
                            f"{'/'.join(KINDS)}, CHANNEL in {'/'.join(CHANNELS)}, LANGUAGE in {'/'.join(LANGUAGES)}"
                        )
                    own[(parts[0], parts[1], parts[2])] = _read(path, parts[0], parts[1], parts[2])
            for template in own.values():
                try:
                    guard.check(template.text.template, template.source)
                except HealthInformation as e:
                    raise TemplateError(str(e) + "; remove it: messages carry only the link and the sender") from None
            by_registry[rid] = own
            senders[rid] = registry.sender
        return cls(by_registry, guards, senders)

    def render(
        self,
        registry_id: str,
        kind: str,
        channel: str,
        language: str,
        *,
        link: str,
        expires: dt.datetime,
    ) -> Rendered:
        """The message text; HealthInformation if the final text would carry any (see module doc).
        `expires`: the moment the link stops working, aware, in the service's time zone (`deadline`)."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        template = self._by_registry[registry_id][(kind, channel, language)]
        values = {"sender": self._senders[registry_id], "expires": _deadline_text(expires, language)}
        key = (registry_id, kind, channel, language, values["sender"], values["expires"])
        if key not in self._checked:
            # The text apart from the link is the same for every message with these values: check
            # it once. The link is random and not words; it is left out so that it cannot match.
            blank = template.render({**values, "link": " "})
            guard = self._guards[registry_id]
            guard.check(blank.subject or "", f"{template.source} (subject)")
            guard.check(blank.body, template.source)
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked.add(key)
        return template.render({**values, "link": link})

    def sender(self, registry_id: str) -> str:
        return self._senders[registry_id]
