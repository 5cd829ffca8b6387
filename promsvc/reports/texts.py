"""Every word of the charts, reports and result pages, in bokmål (nb), nynorsk (nn) and English,
and how numbers are written in each.

Numbers follow the registries' and SKDE's results site's habits (reference/reports.md): in nb and
nn a decimal comma, a narrow no-break space (U+202F) between groups of thousands and before "%"
("1 234,5", "72 %"); in English a decimal point, a comma between thousands and no space before
"%". Rounding is for display only: halves away from zero, as Excel and SPSS round.
"""

from __future__ import annotations

import decimal
import string

LANGUAGES = ("nb", "nn", "en")
NNBSP = "\u202f"  # narrow no-break space

TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "high": "Høy", "moderate": "Moderat", "low": "Lav",
        "target_level": "Måloppnåelse",
        "no_target": "Ikke oppgitt",
        "national": "Hele landet",
        "fewer_than": "færre enn {n}",
        "hidden": "skjult",
        "hidden_note": "skjult fordi tallet kan avsløre en liten enhet",
        "no_data": "ingen data",
        "n_of_N": "{n} av {N}",
        "low_coverage": "lav dekningsgrad",
        "crude": "justert; ujustert {value}",
        "coverage": "Dekningsgrad",
        "unit": "Enhet",
        "value": "Verdi",
        "interval": "95 % konfidensintervall",
        "interval_short": "95 % KI",
        "count": "Antall",
        "period": "Periode",
        "target": "Ønsket mål",
        "funnel_inside": "innenfor", "funnel_above": "over", "funnel_below": "under",
        "funnel95": "95 %-grensene", "funnel998": "99,8 %-grensene",
        "funnel": "Traktplott",
        "limit95": "95 % kontrollgrense", "limit998": "99,8 % kontrollgrense",
        "denominator_axis": "Antall forløp (nevner)",
        "episodes": "forløp",
        "answered": "svart",
        "mean": "Gjennomsnitt", "median": "Median",
        "p25_p75": "25.–75. persentil", "p10_p90": "10.–90. persentil",
        "change": "Endring fra før behandling",
        "time_point": "Tidspunkt",
        "score": "Skår",
        "unranked": "ikke rangert",
        "note": "Merknad",
        # chart titles and subtitles
        "title_units_best": "{best} har høyest verdi av {count} enheter – landet: {national}",
        "title_units_best_low": "{best} har lavest verdi av {count} enheter – landet: {national}",
        "title_units_none": "For få forløp til å sammenligne enheter",
        "title_units_target": "{reached} av {count} enheter når målet ({target})",
        "title_funnel": "{outside} av {count} enheter ligger utenfor 99,8 %-grensene",
        "title_funnel_none": "Ingen av {count} enheter ligger utenfor 99,8 %-grensene",
        "title_trend": "{name}: {first} i {first_period}, {last} i {last_period}",
        "title_response": "Svarprosent per tidspunkt: {lowest} er lavest ({value})",
        "title_distribution": "{score}: median {first} {first_tp}, {last} {last_tp}",
        "title_change": "{score}: median endring {value} {tp}",
        "subtitle": "{selection} · {period}",
        "level_hospital": "Sykehus", "level_department": "Avdelinger", "level_hf": "Helseforetak",
        "level_rhf": "Regionale helseforetak", "level_national": "Hele landet",
        "all_units": "alle enheter",
        "last_periods": "siste {n} år",
        # documents and pages
        "results": "Resultater",
        "annual_report": "Årsrapport – pasientrapporterte resultater",
        "unit_report": "Enhetsrapport",
        "registry": "Register",
        "data_until": "Data til og med",
        "computed_at": "Beregnet",
        "published_at": "Publisert",
        "source": "Datakilde",
        "provenance": "Skåring (proveniens)",
        "definitions": "Definisjoner med versjoner",
        "definition": "Definisjon",
        "version": "Versjon",
        "approved": "Godkjent",
        "national_number": "Nasjonalt nummer",
        "dimension": "Kvalitetsdimensjon",
        "type": "Type",
        "area": "Måleområde",
        "rationale": "Begrunnelse",
        "population": "Populasjon",
        "exclusions": "Eksklusjoner",
        "numerator": "Teller",
        "denominator": "Nevner",
        "value_formula": "Verdi per forløp",
        "unit_of_measure": "Måleenhet",
        "min_denominator": "Minste nevner for publisering",
        "levels": "Publiseringsnivåer",
        "frequency": "Frekvens",
        "comparability": "Sammenlignbarhet",
        "data_source": "Datakilde",
        "method": "Metode",
        "method_notes": "Metode",
        "method_text": (
            "Andeler vises med 95 % konfidensintervall (Wilson, eller Clopper–Pearson der definisjonen sier det); "
            "gjennomsnitt med t-intervall og medianer med et intervall fra rangordenen. Måloppnåelse følger "
            "nasjonal metode: høy når verdien når grønt nivå, lav når den ikke når gult nivå, ellers moderat. "
            "Traktplottet viser 95 % og 99,8 % kontrollgrenser rundt landsverdien (Spiegelhalter 2005). "
            "Resultater med færre forløp enn indikatorens minste nevner vises ikke, og heller ikke resultater "
            "som kan regnes ut fra andre publiserte tall (komplementær skjuling). Enheter med dekningsgrad "
            "under 60 % er merket."
        ),
        "coverage_response": "Dekningsgrad og svarprosent",
        "contents": "Innhold",
        "summary": "Sammendrag",
        "summary_text": "{count} indikatorer for {period}. {high} resultater med høy, {moderate} med moderat og {low} med lav måloppnåelse blant enhetene.",
        "against": "sammenlignet med overordnede enheter og hele landet",
        "search": "Søk",
        "search_label": "Søk i indikatorer",
        "search_none": "Ingen indikatorer passer til søket.",
        "search_results": "{n} indikatorer passer til «{q}».",
        "clear_search": "Vis alle",
        "table": "Tabell",
        "chart_table": "Tallene i figuren",
        "trend": "Utvikling",
        "distributions": "Fordeling av skårer",
        "open_data": "Åpne data",
        "open_data_text": "Alle publiserte tall kan lastes ned som CSV eller JSON, med dataordbok.",
        "units_heading": "Enheter",
        "unit_page_intro": "Resultater for {unit}, sammenlignet med {parents} og hele landet.",
        "parents_none": "ingen overordnet enhet",
        "no_publication": "Ingen resultater er publisert for dette registeret ennå.",
        "not_found": "Fant ikke siden",
        "not_found_text": "Det finnes ikke noe register eller noen enhet med dette navnet her.",
        "not_published_level": "Indikatoren publiseres ikke på dette nivået.",
        "language": "Språk",
        "skip_link": "Gå til hovedinnholdet",
        "page": "Side {n}",
        "report_for": "Rapport for {unit}",
        "dimension_effective": "Virkningsfulle tjenester", "dimension_safe": "Trygge og sikre tjenester",
        "dimension_user_involving": "Involverer brukere og gir dem innflytelse",
        "dimension_coordinated": "Samordnede tjenester preget av kontinuitet",
        "dimension_resource_efficient": "Utnytter ressursene på en god måte",
        "dimension_accessible": "Tilgjengelige og rettferdig fordelte tjenester",
        "type_structure": "Strukturindikator", "type_process": "Prosessindikator", "type_outcome": "Resultatindikator",
        "direction_higher": "høyere er bedre", "direction_lower": "lavere er bedre",
        "percent": "prosent",
    },
    "nn": {
        "high": "Høg", "moderate": "Moderat", "low": "Låg",
        "target_level": "Måloppnåing",
        "no_target": "Ikkje oppgitt",
        "national": "Heile landet",
        "fewer_than": "færre enn {n}",
        "hidden": "skjult",
        "hidden_note": "skjult fordi talet kan avsløre ei lita eining",
        "no_data": "ingen data",
        "n_of_N": "{n} av {N}",
        "low_coverage": "låg dekningsgrad",
        "crude": "justert; ujustert {value}",
        "coverage": "Dekningsgrad",
        "unit": "Eining",
        "value": "Verdi",
        "interval": "95 % konfidensintervall",
        "interval_short": "95 % KI",
        "count": "Tal",
        "period": "Periode",
        "target": "Ønskt mål",
        "funnel_inside": "innanfor", "funnel_above": "over", "funnel_below": "under",
        "funnel95": "95 %-grensene", "funnel998": "99,8 %-grensene",
        "funnel": "Traktplott",
        "limit95": "95 % kontrollgrense", "limit998": "99,8 % kontrollgrense",
        "denominator_axis": "Tal på forløp (nemnar)",
        "episodes": "forløp",
        "answered": "svart",
        "mean": "Gjennomsnitt", "median": "Median",
        "p25_p75": "25.–75. persentil", "p10_p90": "10.–90. persentil",
        "change": "Endring frå før behandling",
        "time_point": "Tidspunkt",
        "score": "Skår",
        "unranked": "ikkje rangert",
        "note": "Merknad",
        "title_units_best": "{best} har høgast verdi av {count} einingar – landet: {national}",
        "title_units_best_low": "{best} har lågast verdi av {count} einingar – landet: {national}",
        "title_units_none": "For få forløp til å samanlikne einingar",
        "title_units_target": "{reached} av {count} einingar når målet ({target})",
        "title_funnel": "{outside} av {count} einingar ligg utanfor 99,8 %-grensene",
        "title_funnel_none": "Ingen av {count} einingar ligg utanfor 99,8 %-grensene",
        "title_trend": "{name}: {first} i {first_period}, {last} i {last_period}",
        "title_response": "Svarprosent per tidspunkt: {lowest} er lågast ({value})",
        "title_distribution": "{score}: median {first} {first_tp}, {last} {last_tp}",
        "title_change": "{score}: median endring {value} {tp}",
        "subtitle": "{selection} · {period}",
        "level_hospital": "Sjukehus", "level_department": "Avdelingar", "level_hf": "Helseføretak",
        "level_rhf": "Regionale helseføretak", "level_national": "Heile landet",
        "all_units": "alle einingar",
        "last_periods": "siste {n} år",
        "results": "Resultat",
        "annual_report": "Årsrapport – pasientrapporterte resultat",
        "unit_report": "Einingsrapport",
        "registry": "Register",
        "data_until": "Data til og med",
        "computed_at": "Rekna ut",
        "published_at": "Publisert",
        "source": "Datakjelde",
        "provenance": "Skåring (proveniens)",
        "definitions": "Definisjonar med versjonar",
        "definition": "Definisjon",
        "version": "Versjon",
        "approved": "Godkjend",
        "national_number": "Nasjonalt nummer",
        "dimension": "Kvalitetsdimensjon",
        "type": "Type",
        "area": "Måleområde",
        "rationale": "Grunngjeving",
        "population": "Populasjon",
        "exclusions": "Eksklusjonar",
        "numerator": "Teljar",
        "denominator": "Nemnar",
        "value_formula": "Verdi per forløp",
        "unit_of_measure": "Måleeining",
        "min_denominator": "Minste nemnar for publisering",
        "levels": "Publiseringsnivå",
        "frequency": "Frekvens",
        "comparability": "Samanliknbarheit",
        "data_source": "Datakjelde",
        "method": "Metode",
        "method_notes": "Metode",
        "method_text": (
            "Delar blir viste med 95 % konfidensintervall (Wilson, eller Clopper–Pearson der definisjonen seier det); "
            "gjennomsnitt med t-intervall og medianar med eit intervall frå rangordninga. Måloppnåing følgjer "
            "nasjonal metode: høg når verdien når grønt nivå, låg når han ikkje når gult nivå, elles moderat. "
            "Traktplottet viser 95 % og 99,8 % kontrollgrenser rundt landsverdien (Spiegelhalter 2005). "
            "Resultat med færre forløp enn minste nemnar for indikatoren blir ikkje viste, og heller ikkje resultat "
            "som kan reknast ut frå andre publiserte tal (komplementær skjuling). Einingar med dekningsgrad "
            "under 60 % er merkte."
        ),
        "coverage_response": "Dekningsgrad og svarprosent",
        "contents": "Innhald",
        "summary": "Samandrag",
        "summary_text": "{count} indikatorar for {period}. {high} resultat med høg, {moderate} med moderat og {low} med låg måloppnåing blant einingane.",
        "against": "samanlikna med overordna einingar og heile landet",
        "search": "Søk",
        "search_label": "Søk i indikatorar",
        "search_none": "Ingen indikatorar passar til søket.",
        "search_results": "{n} indikatorar passar til «{q}».",
        "clear_search": "Vis alle",
        "table": "Tabell",
        "chart_table": "Tala i figuren",
        "trend": "Utvikling",
        "distributions": "Fordeling av skårar",
        "open_data": "Opne data",
        "open_data_text": "Alle publiserte tal kan lastast ned som CSV eller JSON, med dataordbok.",
        "units_heading": "Einingar",
        "unit_page_intro": "Resultat for {unit}, samanlikna med {parents} og heile landet.",
        "parents_none": "inga overordna eining",
        "no_publication": "Ingen resultat er publiserte for dette registeret enno.",
        "not_found": "Fann ikkje sida",
        "not_found_text": "Det finst ikkje noko register eller nokon eining med dette namnet her.",
        "not_published_level": "Indikatoren blir ikkje publisert på dette nivået.",
        "language": "Språk",
        "skip_link": "Gå til hovudinnhaldet",
        "page": "Side {n}",
        "report_for": "Rapport for {unit}",
        "dimension_effective": "Verknadsfulle tenester", "dimension_safe": "Trygge og sikre tenester",
        "dimension_user_involving": "Involverer brukarar og gir dei innverknad",
        "dimension_coordinated": "Samordna tenester prega av kontinuitet",
        "dimension_resource_efficient": "Utnyttar ressursane på ein god måte",
        "dimension_accessible": "Tilgjengelege og rettferdig fordelte tenester",
        "type_structure": "Strukturindikator", "type_process": "Prosessindikator", "type_outcome": "Resultatindikator",
        "direction_higher": "høgare er betre", "direction_lower": "lågare er betre",
        "percent": "prosent",
    },
    "en": {
        "high": "High", "moderate": "Moderate", "low": "Low",
        "target_level": "Target achievement",
        "no_target": "Not given",
        "national": "Whole country",
        "fewer_than": "fewer than {n}",
        "hidden": "hidden",
        "hidden_note": "hidden because it could reveal a small unit",
        "no_data": "no data",
        "n_of_N": "{n} of {N}",
        "low_coverage": "low coverage",
        "crude": "standardised; crude {value}",
        "coverage": "Coverage",
        "unit": "Unit",
        "value": "Value",
        "interval": "95% confidence interval",
        "interval_short": "95% CI",
        "count": "Count",
        "period": "Period",
        "target": "Desired target",
        "funnel_inside": "inside", "funnel_above": "above", "funnel_below": "below",
        "funnel95": "95% limits", "funnel998": "99.8% limits",
        "funnel": "Funnel plot",
        "limit95": "95% control limit", "limit998": "99.8% control limit",
        "denominator_axis": "Number of episodes (denominator)",
        "episodes": "episodes",
        "answered": "answered",
        "mean": "Mean", "median": "Median",
        "p25_p75": "25th–75th percentile", "p10_p90": "10th–90th percentile",
        "change": "Change from before treatment",
        "time_point": "Time point",
        "score": "Score",
        "unranked": "not ranked",
        "note": "Note",
        "title_units_best": "{best} has the highest value of {count} units – country: {national}",
        "title_units_best_low": "{best} has the lowest value of {count} units – country: {national}",
        "title_units_none": "Too few episodes to compare units",
        "title_units_target": "{reached} of {count} units reach the target ({target})",
        "title_funnel": "{outside} of {count} units lie outside the 99.8% limits",
        "title_funnel_none": "None of {count} units lies outside the 99.8% limits",
        "title_trend": "{name}: {first} in {first_period}, {last} in {last_period}",
        "title_response": "Response rate per time point: {lowest} is lowest ({value})",
        "title_distribution": "{score}: median {first} {first_tp}, {last} {last_tp}",
        "title_change": "{score}: median change {value} {tp}",
        "subtitle": "{selection} · {period}",
        "level_hospital": "Hospitals", "level_department": "Departments", "level_hf": "Health trusts",
        "level_rhf": "Regional health authorities", "level_national": "Whole country",
        "all_units": "all units",
        "last_periods": "last {n} years",
        "results": "Results",
        "annual_report": "Annual report – patient-reported results",
        "unit_report": "Unit report",
        "registry": "Registry",
        "data_until": "Data until",
        "computed_at": "Computed",
        "published_at": "Published",
        "source": "Data source",
        "provenance": "Scoring (provenance)",
        "definitions": "Definitions with versions",
        "definition": "Definition",
        "version": "Version",
        "approved": "Approved",
        "national_number": "National number",
        "dimension": "Quality dimension",
        "type": "Type",
        "area": "Measurement area",
        "rationale": "Rationale",
        "population": "Population",
        "exclusions": "Exclusions",
        "numerator": "Numerator",
        "denominator": "Denominator",
        "value_formula": "Value per episode",
        "unit_of_measure": "Unit of measure",
        "min_denominator": "Minimum denominator for publishing",
        "levels": "Publication levels",
        "frequency": "Frequency",
        "comparability": "Comparability",
        "data_source": "Data source",
        "method": "Method",
        "method_notes": "Method",
        "method_text": (
            "Proportions are shown with a 95% confidence interval (Wilson, or Clopper–Pearson where the definition "
            "says so); means with a t interval and medians with an order-statistic interval. Target achievement "
            "follows the national method: high when the value reaches the green level, low when it falls short "
            "of the yellow level, moderate between. The funnel plot shows 95% and 99.8% control limits around "
            "the national value (Spiegelhalter 2005). Results with fewer episodes than the indicator's minimum "
            "denominator are not shown, nor results that could be worked out from other published numbers "
            "(complementary suppression). Units whose coverage is under 60% are flagged."
        ),
        "coverage_response": "Coverage and response rates",
        "contents": "Contents",
        "summary": "Summary",
        "summary_text": "{count} indicators for {period}. {high} results with high, {moderate} with moderate and {low} with low target achievement among the units.",
        "against": "compared with its parent units and the whole country",
        "search": "Search",
        "search_label": "Search the indicators",
        "search_none": "No indicator matches the search.",
        "search_results": "{n} indicators match “{q}”.",
        "clear_search": "Show all",
        "table": "Table",
        "chart_table": "The numbers in the chart",
        "trend": "Trend",
        "distributions": "Distribution of scores",
        "open_data": "Open data",
        "open_data_text": "Every published number can be downloaded as CSV or JSON, with a data dictionary.",
        "units_heading": "Units",
        "unit_page_intro": "Results of {unit}, compared with {parents} and the whole country.",
        "parents_none": "no parent unit",
        "no_publication": "No results have been published for this registry yet.",
        "not_found": "Page not found",
        "not_found_text": "There is no registry or unit by this name here.",
        "not_published_level": "The indicator is not published at this level.",
        "language": "Language",
        "skip_link": "Skip to main content",
        "page": "Page {n}",
        "report_for": "Report for {unit}",
        "dimension_effective": "Effective", "dimension_safe": "Safe",
        "dimension_user_involving": "Involves users and gives them influence",
        "dimension_coordinated": "Coordinated and continuous",
        "dimension_resource_efficient": "Uses resources well",
        "dimension_accessible": "Accessible and fairly distributed",
        "type_structure": "Structure indicator", "type_process": "Process indicator", "type_outcome": "Outcome indicator",
        "direction_higher": "higher is better", "direction_lower": "lower is better",
        "percent": "percent",
    },
}

LANGUAGE_NAMES = {"nb": "Bokmål", "nn": "Nynorsk", "en": "English"}
LEVEL_SYMBOLS = {"high": "●●●", "moderate": "●●○", "low": "●○○"}  # level never by colour alone


class Words:
    """The texts and number formats of one language: `w("high")`, `w.percent(0.723)`."""

    def __init__(self, lang: str):
        if lang not in TEXTS:
            raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self._texts = TEXTS[lang]

    def __call__(self, key: str, **values) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text

    def text(self, text) -> str:
        """The right language of an `instruments.schema.Text` (or a plain string)."""
        return text if isinstance(text, str) else getattr(text, self.lang)

    # ---- numbers

    def number(self, value: float, decimals: int = 0) -> str:
        """`value` rounded half away from zero to `decimals`, in this language's format."""
        quantum = decimal.Decimal(1).scaleb(-decimals)
        rounded = decimal.Decimal(repr(float(value))).quantize(quantum, rounding=decimal.ROUND_HALF_UP)
        if rounded == 0:
            rounded = abs(rounded)  # never "-0"
        text = f"{rounded:,.{decimals}f}"  # 1,234.5
        if self.lang == "en":
            return text.replace("-", "\u2212")
        return text.replace(",", NNBSP).replace(".", ",").replace("-", "\u2212")

    def count(self, value: float) -> str:
        return self.number(value, 0)

    def percent(self, share: float, decimals: int = 0) -> str:
        """A share in [0, 1] as a percentage: "72 %" (nb, nn) or "72%" (en)."""
        sign = "%" if self.lang == "en" else f"{NNBSP}%"
        return self.number(share * 100, decimals) + sign

    def n_of_N(self, numerator: float, denominator: int) -> str:
        return self("n_of_N", n=self.count(numerator), N=self.count(denominator))


def check_texts() -> list[str]:
    """Problems with TEXTS: a key missing in a language, or placeholders that differ (tested)."""
    problems = []
    fields = {lang: {k: {f for _, f, _, _ in string.Formatter().parse(v) if f} for k, v in texts.items()}
              for lang, texts in TEXTS.items()}
    for key in fields["en"]:
        for lang in LANGUAGES:
            if key not in fields[lang]:
                problems.append(f"{lang}: {key} missing")
            elif fields[lang][key] != fields["en"][key]:
                problems.append(f"{lang}: {key} has placeholders {sorted(fields[lang][key])}")
    problems += [f"{lang}: {key} not in en" for lang in LANGUAGES for key in fields[lang] if key not in fields["en"]]
    return problems
