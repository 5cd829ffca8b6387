"""Message texts per kind, channel and language, registry overrides, and the guard that keeps
health information out of every message."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import msgspec
import pytest

from promsvc.delivery.messages import (
    CHANNELS,
    KINDS,
    LANGUAGES,
    Guard,
    HealthInformation,
    TemplateError,
    Templates,
    deadline,
    format_date,
    guard_for,
)
from promsvc.registries import loader
from promsvc.settings import Settings

LINK = "https://prom.example/q/Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
EXPIRES = dt.datetime(2027, 3, 15, 9, 0, tzinfo=ZoneInfo("Europe/Oslo"))  # as `deadline` gives it


@pytest.fixture(scope="module")
def registries():
    return loader.load_all(Settings(registries_dir=""))


@pytest.fixture(scope="module")
def templates(registries):
    return Templates.load(registries)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_message_carries_sender_link_and_date_and_no_health_information(templates, registries, kind,
                                                                               channel, language):
    rendered = templates.render("demo", kind, channel, language, link=LINK, expires=EXPIRES)
    text = (rendered.subject or "") + "\n" + rendered.body
    if channel != "letter":  # a letter prints the link beside its text (see letters.py)
        assert LINK in text
    assert "Nasjonalt demoregister" in text
    assert format_date(EXPIRES.date(), language) in text and "09:00" in text  # the moment, to the minute
    assert {"nb": "(norsk tid)", "nn": "(norsk tid)", "en": "(Norwegian time)"}[language] in text
    assert "$" not in text
    # Nothing of the registry's health vocabulary: protocol, event, time points, instruments.
    demo = registries["demo"]
    for word in ("hofte", "hip", "protese", "operasjon", "surgery", "rand36", "eq5d", "måneder", "months"):
        assert word not in text.lower().replace(LINK.lower(), ""), word
    assert guard_for(demo).find(text.replace(LINK, "")) is None
    if channel == "email":
        assert rendered.subject
    if channel == "sms":
        assert "\n" not in rendered.body and len(rendered.body) < 200


def test_languages_differ_and_unknown_language_falls_back_to_bokmal(templates):
    nb = templates.render("demo", "invitation", "sms", "nb", link=LINK, expires=EXPIRES).body
    nn = templates.render("demo", "invitation", "sms", "nn", link=LINK, expires=EXPIRES).body
    en = templates.render("demo", "invitation", "sms", "en", link=LINK, expires=EXPIRES).body
    assert len({nb, nn, en}) == 3
    assert "15. mars 2027 kl. 09:00 (norsk tid)" in nb and "15 March 2027 at 09:00 (Norwegian time)" in en
    assert templates.render("demo", "invitation", "sms", "se", link=LINK, expires=EXPIRES).body == nb


def test_the_deadline_is_the_moment_the_link_stops_working():
    oslo = ZoneInfo("Europe/Oslo")
    when = deadline(dt.datetime(2027, 3, 15, 8, 0, tzinfo=dt.UTC), oslo)
    assert when == dt.datetime(2027, 3, 15, 9, 0, tzinfo=oslo) and when.tzinfo.key == "Europe/Oslo"
    templates = Templates.load(loader.load_all(Settings(registries_dir="")))
    sms = templates.render("demo", "invitation", "sms", "nb", link=LINK, expires=when).body
    assert "før 15. mars 2027 kl. 09:00 (norsk tid)" in sms
    # Expiry at local midnight: the link works until the last minute of the day before.
    midnight = deadline(dt.datetime(2027, 3, 14, 23, 0, tzinfo=dt.UTC), oslo)
    email = templates.render("demo", "invitation", "email", "en", link=LINK, expires=midnight).body
    assert "works until 14 March 2027 at 23:59 (Norwegian time)" in email


def test_guard_matches_words_and_word_starts_only():
    guard = Guard(["hip", "kreft*", "Primær hofteprotese"])
    assert guard.find("a relationship on a ship") is None
    assert guard.find("your hip") == "hip"
    assert guard.find("Kreftbehandling") == "Kreftbehandling"[:5]
    assert guard.find("etter PRIMÆR HOFTEPROTESE i fjor") is not None
    assert guard.find("") is None


def _override(tmp_path, name, text, registry="demo"):
    folder = tmp_path / registry
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_registry_overrides_a_template(tmp_path, registries):
    base = _override(tmp_path, "invitation.sms.nb.txt", "Hei fra $sender. Svar her: $link\n")
    templates = Templates.load(registries, base)
    assert templates.render("demo", "invitation", "sms", "nb", link=LINK, expires=EXPIRES).body == \
        f"Hei fra Nasjonalt demoregister. Svar her: {LINK}"
    # Other templates stay the shipped ones.
    assert "spørjeskjema" in templates.render("demo", "invitation", "sms", "nn", link=LINK, expires=EXPIRES).body


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("invitation.sms.nb.txt", "Om $protocol: $link", "unknown placeholder $protocol"),
        ("invitation.sms.nb.txt", "Svar på skjemaet", "$link is missing"),
        ("invitation.sms.nb.txt", "Etter hofteoperasjonen: $link", "could reveal health information"),
        ("invitation.email.nb.txt", "Spørsmål: $link", "starts with a `Subject: ...` line"),
        ("invitation.email.nb.txt", "Subject: Før operasjonen\n\n$link", "'Før operasjonen'"),
        ("invitation.sms.nb.txt", "Pris 5 $ per $link", "`$$` for a dollar sign"),
        ("invitation.fax.nb.txt", "$link", "not a template name"),
        ("invitation.sms.se.txt", "$link", "not a template name"),
    ],
)
def test_bad_overrides_are_refused_at_start_with_the_file_named(tmp_path, registries, name, text, message):
    base = _override(tmp_path, name, text)
    with pytest.raises(TemplateError) as e:
        Templates.load(registries, base)
    assert message in str(e.value)
    assert name in str(e.value)


def test_a_directory_for_an_unknown_registry_is_refused(tmp_path, registries):
    base = _override(tmp_path, "invitation.sms.nb.txt", "$link", registry="nosuch")
    with pytest.raises(TemplateError, match="no registry 'nosuch'"):
        Templates.load(registries, base)


def test_a_sender_that_names_a_health_matter_is_refused(registries):
    demo = registries["demo"]
    bad = {"demo": msgspec.structs.replace(demo, sender="Hofteproteseregisteret")}
    with pytest.raises(TemplateError, match="sender"):
        Templates.load(bad)


def test_the_final_text_is_checked_too(registries, monkeypatch):
    # Templates and sender are checked at start; the rendered text is checked again before it
    # leaves, in case anything substituted into it carries health information.
    templates = Templates.load(registries)
    monkeypatch.setitem(templates._senders, "demo", "Hofteregisteret")
    with pytest.raises(HealthInformation, match="Hofte"):
        templates.render("demo", "invitation", "sms", "nb", link=LINK, expires=EXPIRES)


def test_random_link_text_never_trips_the_guard(templates):
    # Tokens are random URL-safe text; the guard leaves the link out of its check.
    link = "https://prom.example/q/ab-hip-kreft_hofte"
    assert link in templates.render("demo", "invitation", "sms", "nb", link=link, expires=EXPIRES).body
