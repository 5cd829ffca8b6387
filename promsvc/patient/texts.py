"""Every text a patient sees, in bokmål (nb), nynorsk (nn) and English (en).

Written for people who may be tired, ill or old, on a small screen: short sentences, plain
words, "du". A test checks that every key exists in every language and that the placeholders
agree. Item and option wording is not here: it comes from the instrument (our short labels)
or from the registry's licensed overlay.
"""

from __future__ import annotations

import datetime as dt
import string
from zoneinfo import ZoneInfo

LANGUAGES = ("nb", "nn", "en")
DEFAULT_LANGUAGE = "nb"

# The name of each language in that language, for the language switch.
LANGUAGE_NAMES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}

TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "error_prefix": "Feil",
        "error_title": "Noe gikk galt",
        "error_body": "Det som stod på denne siden, ble ikke lagret. Prøv igjen om litt.",
        "skip_link": "Gå til hovedinnholdet",
        "language": "Språk",
        "progress": "Del {n} av {total}",
        "questionnaire": "Spørreskjema",
        "start_intro": "Du er invitert til å svare på et spørreskjema fra {registry}.",
        "start_parts": "Skjemaet har {total} deler.",
        "start_parts_one": "Skjemaet har én del.",
        "start_save": "Du kan lagre underveis og fortsette senere med den samme lenken, også på en annen mobil eller PC.",
        "start_voluntary": "Det er frivillig å svare, og du kan hoppe over spørsmål du ikke vil svare på.",
        "start_expires": "Lenken kan brukes til {date}.",
        "resume_note": "Du har begynt på skjemaet tidligere. Svarene du har lagret, er tatt vare på.",
        "start_button": "Start",
        "continue_button": "Fortsett",
        "declaration_legend": "Hvem svarer på skjemaet?",
        "respondent_patient": "Jeg er pasienten og svarer selv",
        "respondent_proxy": "Jeg svarer på vegne av pasienten (for eksempel som forelder, verge eller pårørende)",
        "proxy_confirm": "Jeg bekrefter at jeg kan svare på vegne av pasienten, og at jeg vil svare slik jeg tror pasienten selv ville ha svart.",
        "proxy_reminder": "Du svarer på vegne av pasienten. Svar slik du tror pasienten selv ville ha svart.",
        "error_respondent": "Velg hvem som svarer på skjemaet",
        "error_proxy_confirm": "Kryss av for å bekrefte at du svarer på vegne av pasienten",
        "error_summary": "Noe må rettes",
        "error_choice": "Velg ett av svaralternativene for «{label}»",
        "error_number": "Skriv et helt tall fra {min} til {max} for «{label}», eller la feltet stå tomt",
        "number_hint": "Skriv et helt tall fra {min} til {max}.",
        "decimal_hint": "Skriv et tall fra {min} til {max}. Du kan bruke komma.",
        "error_decimal": "Skriv et tall fra {min} til {max} for «{label}», eller la feltet stå tomt",
        "error_text": "Svaret på «{label}» kan ha høyst {limit} tegn",
        "when_hint": "Svar bare hvis du svarte {answers} på «{item}».",
        "when_hint_answered": "Svar bare hvis du svarte på «{item}».",
        "when_hint_unanswered": "Svar bare hvis du ikke svarte på «{item}».",
        "when_hint_general": "Dette spørsmålet gjelder ikke alle. Hopp over det hvis det ikke gjelder deg.",
        "or": "eller",
        "next": "Neste",
        "back": "Tilbake",
        "save_later": "Lagre og fortsett senere",
        "to_review": "Se over svarene",
        "saved_title": "Svarene er lagret",
        "saved_body": "Du kan lukke siden nå. Når du vil fortsette, åpner du den samme lenken igjen, på denne eller en annen mobil eller PC.",
        "continue_now": "Fortsett nå",
        "review_title": "Se over før du sender",
        "review_answered": "{answered} av {total} spørsmål er besvart.",
        "review_skipped": "Du har hoppet over disse spørsmålene:",
        "review_all": "Du har svart på alle spørsmålene i denne delen.",
        "review_skipped_ok": "Du kan sende uten å svare på alt, eller gå tilbake og svare på det du har hoppet over.",
        "review_change": "Endre svarene i denne delen",
        "review_final": "Når du har sendt svarene, kan du ikke endre dem.",
        "submit": "Send svarene",
        "receipt_title": "Takk for svarene",
        "receipt_body": "Svarene dine ble mottatt {time}.",
        "receipt_close": "Du kan lukke denne siden.",
        "gone_title": "Lenken kan ikke brukes lenger",
        "gone_completed": "Skjemaet er allerede sendt inn.",
        "gone_expired": "Fristen for å svare har gått ut.",
        "gone_withdrawn": "Du trenger ikke lenger svare på dette skjemaet.",
        "gone_contact": "Har du spørsmål, ta kontakt med dem som sendte deg lenken.",
        "not_found_title": "Fant ikke siden",
        "not_found_body": "Sjekk at du har skrevet inn eller limt inn hele lenken.",
        "forbidden_title": "Siden må lastes på nytt",
        "forbidden_body": "Av sikkerhetshensyn ble svarene på denne siden ikke lagret. Gå tilbake til skjemaet og prøv igjen.",
        "forbidden_link": "Gå til skjemaet",
        "time_format": "{day}.\u00a0{month} {year} kl.\u00a0{hh}:{mm}",
        "date_format": "{day}.\u00a0{month} {year}",
        "months": "januar februar mars april mai juni juli august september oktober november desember",
    },
    "nn": {
        "error_prefix": "Feil",
        "error_title": "Noko gjekk gale",
        "error_body": "Det som stod på denne sida, vart ikkje lagra. Prøv igjen om litt.",
        "skip_link": "Gå til hovudinnhaldet",
        "language": "Språk",
        "progress": "Del {n} av {total}",
        "questionnaire": "Spørjeskjema",
        "start_intro": "Du er invitert til å svare på eit spørjeskjema frå {registry}.",
        "start_parts": "Skjemaet har {total} delar.",
        "start_parts_one": "Skjemaet har éin del.",
        "start_save": "Du kan lagre undervegs og halde fram seinare med den same lenkja, også på ein annan mobil eller PC.",
        "start_voluntary": "Det er frivillig å svare, og du kan hoppe over spørsmål du ikkje vil svare på.",
        "start_expires": "Lenkja kan brukast til {date}.",
        "resume_note": "Du har byrja på skjemaet tidlegare. Svara du har lagra, er tekne vare på.",
        "start_button": "Start",
        "continue_button": "Hald fram",
        "declaration_legend": "Kven svarar på skjemaet?",
        "respondent_patient": "Eg er pasienten og svarar sjølv",
        "respondent_proxy": "Eg svarar på vegner av pasienten (til dømes som forelder, verje eller pårørande)",
        "proxy_confirm": "Eg stadfestar at eg kan svare på vegner av pasienten, og at eg vil svare slik eg trur pasienten sjølv ville ha svart.",
        "proxy_reminder": "Du svarar på vegner av pasienten. Svar slik du trur pasienten sjølv ville ha svart.",
        "error_respondent": "Vel kven som svarar på skjemaet",
        "error_proxy_confirm": "Kryss av for å stadfeste at du svarar på vegner av pasienten",
        "error_summary": "Noko må rettast",
        "error_choice": "Vel eitt av svaralternativa for «{label}»",
        "error_number": "Skriv eit heilt tal frå {min} til {max} for «{label}», eller la feltet stå tomt",
        "number_hint": "Skriv eit heilt tal frå {min} til {max}.",
        "decimal_hint": "Skriv eit tal frå {min} til {max}. Du kan bruke komma.",
        "error_decimal": "Skriv eit tal frå {min} til {max} for «{label}», eller la feltet stå tomt",
        "error_text": "Svaret på «{label}» kan ha høgst {limit} teikn",
        "when_hint": "Svar berre om du svarte {answers} på «{item}».",
        "when_hint_answered": "Svar berre om du svarte på «{item}».",
        "when_hint_unanswered": "Svar berre om du ikkje svarte på «{item}».",
        "when_hint_general": "Dette spørsmålet gjeld ikkje alle. Hopp over det om det ikkje gjeld deg.",
        "or": "eller",
        "next": "Neste",
        "back": "Tilbake",
        "save_later": "Lagre og hald fram seinare",
        "to_review": "Sjå over svara",
        "saved_title": "Svara er lagra",
        "saved_body": "Du kan lukke sida no. Når du vil halde fram, opnar du den same lenkja igjen, på denne eller ein annan mobil eller PC.",
        "continue_now": "Hald fram no",
        "review_title": "Sjå over før du sender",
        "review_answered": "Du har svart på {answered} av {total} spørsmål.",
        "review_skipped": "Du har hoppa over desse spørsmåla:",
        "review_all": "Du har svart på alle spørsmåla i denne delen.",
        "review_skipped_ok": "Du kan sende utan å svare på alt, eller gå tilbake og svare på det du har hoppa over.",
        "review_change": "Endre svara i denne delen",
        "review_final": "Når du har sendt svara, kan du ikkje endre dei.",
        "submit": "Send svara",
        "receipt_title": "Takk for svara",
        "receipt_body": "Svara dine vart mottekne {time}.",
        "receipt_close": "Du kan lukke denne sida.",
        "gone_title": "Lenkja kan ikkje brukast lenger",
        "gone_completed": "Skjemaet er allereie sendt inn.",
        "gone_expired": "Fristen for å svare har gått ut.",
        "gone_withdrawn": "Du treng ikkje lenger svare på dette skjemaet.",
        "gone_contact": "Har du spørsmål, ta kontakt med dei som sende deg lenkja.",
        "not_found_title": "Fann ikkje sida",
        "not_found_body": "Sjekk at du har skrive inn eller lima inn heile lenkja.",
        "forbidden_title": "Sida må lastast på nytt",
        "forbidden_body": "Av omsyn til tryggleiken vart ikkje svara på denne sida lagra. Gå tilbake til skjemaet og prøv igjen.",
        "forbidden_link": "Gå til skjemaet",
        "time_format": "{day}.\u00a0{month} {year} kl.\u00a0{hh}:{mm}",
        "date_format": "{day}.\u00a0{month} {year}",
        "months": "januar februar mars april mai juni juli august september oktober november desember",
    },
    "en": {
        "error_prefix": "Error",
        "error_title": "Something went wrong",
        "error_body": "What was on this page was not saved. Please try again in a little while.",
        "skip_link": "Skip to main content",
        "language": "Language",
        "progress": "Part {n} of {total}",
        "questionnaire": "Questionnaire",
        "start_intro": "You are invited to answer a questionnaire from {registry}.",
        "start_parts": "It has {total} parts.",
        "start_parts_one": "It has one part.",
        "start_save": "You can save as you go and continue later with the same link, also on another phone or computer.",
        "start_voluntary": "Answering is voluntary, and you can skip any question you do not want to answer.",
        "start_expires": "The link can be used until {date}.",
        "resume_note": "You have started this questionnaire before. The answers you saved have been kept.",
        "start_button": "Start",
        "continue_button": "Continue",
        "declaration_legend": "Who is answering the questionnaire?",
        "respondent_patient": "I am the patient and answer myself",
        "respondent_proxy": "I am answering on behalf of the patient (for example as a parent, guardian or carer)",
        "proxy_confirm": "I confirm that I can answer on behalf of the patient, and that I will answer as I believe the patient would have answered.",
        "proxy_reminder": "You are answering on behalf of the patient. Answer as you believe the patient would have answered.",
        "error_respondent": "Choose who is answering the questionnaire",
        "error_proxy_confirm": "Tick the box to confirm that you are answering on behalf of the patient",
        "error_summary": "There is a problem",
        "error_choice": "Choose one of the answers for “{label}”",
        "error_number": "Enter a whole number from {min} to {max} for “{label}”, or leave it empty",
        "number_hint": "Enter a whole number from {min} to {max}.",
        "decimal_hint": "Enter a number from {min} to {max}. You may use a decimal comma.",
        "error_decimal": "Enter a number from {min} to {max} for “{label}”, or leave it empty",
        "error_text": "The answer to “{label}” can be at most {limit} characters long",
        "when_hint": "Answer only if you answered {answers} to “{item}”.",
        "when_hint_answered": "Answer only if you answered “{item}”.",
        "when_hint_unanswered": "Answer only if you did not answer “{item}”.",
        "when_hint_general": "This question does not apply to everyone. Skip it if it does not apply to you.",
        "or": "or",
        "next": "Next",
        "back": "Back",
        "save_later": "Save and continue later",
        "to_review": "Review your answers",
        "saved_title": "Your answers are saved",
        "saved_body": "You can close this page now. To continue, open the same link again, on this or another phone or computer.",
        "continue_now": "Continue now",
        "review_title": "Check before you send",
        "review_answered": "{answered} of {total} questions answered.",
        "review_skipped": "You skipped these questions:",
        "review_all": "You have answered all the questions in this part.",
        "review_skipped_ok": "You can send without answering everything, or go back and answer what you skipped.",
        "review_change": "Change the answers in this part",
        "review_final": "Once you have sent your answers, you cannot change them.",
        "submit": "Send answers",
        "receipt_title": "Thank you for your answers",
        "receipt_body": "Your answers were received on {time}.",
        "receipt_close": "You can close this page.",
        "gone_title": "This link can no longer be used",
        "gone_completed": "The questionnaire has already been sent.",
        "gone_expired": "The time for answering has run out.",
        "gone_withdrawn": "You no longer need to answer this questionnaire.",
        "gone_contact": "If you have questions, contact whoever sent you the link.",
        "not_found_title": "Page not found",
        "not_found_body": "Check that you typed or pasted the whole link.",
        "forbidden_title": "The page needs to be reloaded",
        "forbidden_body": "For your security, the answers on this page were not saved. Go back to the questionnaire and try again.",
        "forbidden_link": "Go to the questionnaire",
        "time_format": "{day}\u00a0{month} {year} at\u00a0{hh}:{mm}",
        "date_format": "{day}\u00a0{month} {year}",
        "months": "January February March April May June July August September October November December",
    },
}


def language(requested: str | None, fallback: str | None = None) -> str:
    """The first of `requested`, `fallback` that is a patient language, else bokmål."""
    for lang in (requested, fallback):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Texts:
    """The texts of one language: ``t("progress", n=2, total=3)``."""

    def __init__(self, lang: str):
        self.lang = language(lang)
        self._texts = TEXTS[self.lang]

    def __call__(self, key: str, **values) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text

    def time(self, when: dt.datetime, zone: str) -> str:
        """A time as people read it here, in `zone` (e.g. "3. mars 2025 kl. 14:05"), with
        no-break spaces where a line break would split "3." from "mars"."""
        local = when.astimezone(ZoneInfo(zone))
        return self._texts["time_format"].format(
            day=local.day, month=self._month(local.month), year=local.year,
            hh=f"{local.hour:02d}", mm=f"{local.minute:02d}",
        )

    def date(self, when: dt.datetime, zone: str) -> str:
        local = when.astimezone(ZoneInfo(zone))
        return self._texts["date_format"].format(day=local.day, month=self._month(local.month), year=local.year)

    def _month(self, month: int) -> str:
        return self._texts["months"].split()[month - 1]
