"""Pages rendered on the server: one Jinja2 environment (autoescaped, StrictUndefined), the page chrome's
words in Dutch and English, and `render(request, template, **context)`.

The words that come from the definitions (phase and criterion labels) and from the services (gate
reasons, event sentences, in the visitor's locale) arrive in the context; only the page chrome is
here, in TEXTS, picked by the visitor's locale (Dutch unless `en`). Templates live in
web/templates; the report templates (wijkflow/templates) are on the search path too, so the pages
draw the indicator charts and the timeline with the report's own macros (`_charts.html.j2`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .. import templating
from ..i18n import normal_locale, t
from ..roles import person_name, role_label
from . import identity

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
REPORT_TEMPLATES = HERE.parent / "templates"

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "app": "wijkflow", "skip": "Naar de inhoud", "nav_tasks": "Mijn taken", "nav_portfolio": "Portefeuille",
        "nav_audit": "Audit", "signed_in_as": "Aangemeld als {name}", "sign_out": "Afmelden",
        "tasks_title": "Mijn taken", "tasks_none": "Er wacht nu niets op u.",
        "tasks_intro": "Wat nu op u wacht, in de wijkaanpakken waarin u een rol hebt.",
        "tasks_approvals": "Goedkeuren", "tasks_signoffs": "Ondertekenen namens een partij",
        "tasks_deliverables": "Op te leveren", "tasks_deadlines": "Deadlines", "tasks_stalled": "Stagnerende fasen",
        "tasks_advance": "Klaar voor de volgende fase", "tasks_mine": "Mijn wijkaanpakken",
        "tasks_no_aanpakken": "U hebt nog geen rol in een wijkaanpak.",
        "deadline_overdue": "verlopen op {date}", "deadline_soon": "uiterlijk {date}",
        "stalled_line": "{days} dagen in {phase} (normaal hoogstens {max} dagen)",
        "approve": "Goedkeuren", "sign": "Tekenen", "complete": "Opleveren", "advance": "Naar de volgende fase",
        "measure": "Meting vastleggen", "open": "Openen", "roles": "Rollen", "phase": "Fase", "wijk": "Wijk",
        "gemeente": "Gemeente", "days_in_phase": "Dagen in fase", "since": "In deze fase sinds",
        "status": "Status", "stalled": "stagneert", "name": "Naam", "role": "Rol",
        "timeline": "Tijdlijn van de fasen", "gate": "Poort", "gate_to": "Poort naar {phase}",
        "gate_open": "open: alle criteria zijn vervuld", "gate_closed": "nog niet open",
        "criterion": "Criterium", "met": "voldaan", "not_met": "niet voldaan", "optional": "optioneel",
        "why": "Waarom", "by": "Door", "date": "Datum", "evidence": "Bewijs", "comment": "Toelichting",
        "reason": "Reden", "gates_passed": "Gepasseerde poorten", "indicators": "Indicatoren",
        "no_indicators": "Nog geen indicatoren.", "baseline": "nulmeting", "target": "streefwaarde",
        "measurements": "metingen", "history": "Historie", "no_history": "Nog geen gebeurtenissen.",
        "when": "Wanneer", "who": "Wie", "what": "Wat", "why_evidence": "Waarom / bewijs",
        "people": "Mensen", "vacant": "vacant", "no_gates": "Dit is de laatste fase: er is geen poort meer.",
        "history_more": "De {n} nieuwste van {total} gebeurtenissen; de hele historie staat in de audit.",
        "you_can": "Wat u nu kunt doen", "nothing_to_do": "U kunt hier nu niets doen.",
        "confirm_title": "Bevestigen",
        "confirm_complete": "U levert ‘{criterion}’ op voor {aanpak}.",
        "confirm_approve": "U keurt ‘{criterion}’ goed voor {aanpak}.",
        "confirm_approves": "Daarmee keurt u ‘{deliverable}’ goed, opgeleverd met bewijs: {evidence}",
        "confirm_sign": "U tekent ‘{criterion}’ voor {aanpak} namens de partij die u hieronder kiest.",
        "confirm_measure": "U legt een meting vast op een indicator van {aanpak}.",
        "confirm_advance": "U zet {aanpak} van {source} naar {dest}.",
        "confirm_advance_refused": "De poort naar {dest} is nog niet open; als u het toch probeert, "
                                   "weigert wijkflow en wordt er niets vastgelegd.",
        "confirm_written": "Dit wordt met uw naam in de historie vastgelegd en kan niet ongedaan worden gemaakt "
                           "(wel gecorrigeerd, met een nieuwe gebeurtenis).",
        "do_complete": "Ja, opleveren", "do_approve": "Ja, goedkeuren", "do_sign": "Ja, tekenen",
        "do_measure": "Ja, meting vastleggen", "do_advance": "Ja, naar de volgende fase", "cancel": "Annuleren",
        "party": "Partij", "indicator": "Indicator", "value": "Waarde", "measured_on": "Datum van de meting",
        "source": "Bron", "to_phase": "Naar fase", "optional_field": "(optioneel)",
        "evidence_hint": "Een link of een korte beschrijving van het document.",
        "done_completed": "Opgeleverd. Het staat in de historie.",
        "done_approved": "Goedgekeurd. Het staat in de historie.",
        "done_signed": "Getekend. Het staat in de historie.",
        "done_measured": "De meting is vastgelegd.", "done_advanced": "De aanpak is naar de volgende fase gegaan.",
        "error_title": "Dat ging niet", "error_NotAllowed": "Dit mag u niet doen.",
        "error_GateNotMet": "De poort is nog niet open: deze criteria zijn niet vervuld.",
        "error_InvalidInput": "De invoer klopt niet.",
        "error_Conflict": "Iemand anders was u voor, of het is al gebeurd.",
        "error_NotFound": "Niet gevonden.", "error_other": "Er ging iets mis.",
        "nothing_written": "Er is niets vastgelegd.", "details": "Wat wijkflow zegt",
        "blocked_role": "Alleen iemand met de rol {role} op deze aanpak kan dit doen.",
        "blocked_own": "U hebt ‘{label}’ zelf opgeleverd; iemand anders met de rol {role} moet het goedkeuren "
                       "(vier-ogenprincipe).",
        "blocked_not_completed": "‘{label}’ is nog niet opgeleverd: er is nog niets om goed te keuren.",
        "blocked_signed": "U hebt hier al namens een partij getekend; elke partij tekent door een andere persoon.",
        "blocked_closed": "Deze aanpak is afgesloten of stopgezet en verandert niet meer.",
        "blocked_status": "Deze aanpak is opgeschort.",
        "blocked_auditor": "U bent auditor: auditors lezen alles en veranderen niets.",
        "blocked_done": "Dit criterium is al vervuld.",
        "forbidden": "U hebt hier geen toegang toe.",
        "portfolio_title": "Portefeuille", "filter": "Filteren", "all": "alle", "only_stalled": "alleen stagnerende",
        "aanpakken_count": "{n} wijkaanpakken", "no_aanpakken": "Geen wijkaanpakken gevonden.",
        "audit_title": "Audit", "audit_query": "Gebeurtenissen zoeken", "audit_type": "Soort gebeurtenis",
        "audit_actor": "Door (e-mail)", "audit_since": "Vanaf", "audit_until": "Tot en met", "search": "Zoeken",
        "audit_export": "Download als CSV", "audit_bundle": "Download de controlebundel (zip)",
        "audit_bundle_hint": "De bundel is wat `wijkflow audit export --bundle` schrijft: de gekozen gebeurtenissen "
                             "met hun bewijzen, een ondertekend controlepunt, de sleutel en een losse controleur "
                             "(python3 verify.py).", "audit_verify": "Controle van de historie",
        "audit_verify_ok": "De historie klopt: {n} gebeurtenissen gecontroleerd, niets veranderd.",
        "audit_head": "Ketenkop (bewaar deze buiten de database)", "audit_root": "Merkle-wortel",
        "audit_verify_run": "Controleer nu", "audit_none": "Geen gebeurtenissen gevonden.",
        "audit_shown": "De eerste {n} gevonden gebeurtenissen; de CSV bevat ze allemaal.",
        "aanpak": "Wijkaanpak", "type": "Soort", "footer": "wijkflow · gegevens van uw gemeente",
        "not_found": "Deze pagina bestaat niet.", "days_n": "{n} dagen", "now": "nu",
        "status_active": "actief", "status_suspended": "opgeschort", "status_stopped": "stopgezet",
        "all_types": "alle soorten", "plan": "Wijkontwikkelingsplan", "strengths": "Sterke punten",
        "bottlenecks": "Knelpunten", "agenda": "Uitvoeringsagenda", "interpretations": "Duiding van de cijfers",
        # The chrome of _base.html.j2, by the catalogue's English msgid (AUTH's pages render it too).
        "Skip to content": "Naar de inhoud", "My tasks": "Mijn taken", "Portfolio": "Portefeuille",
        "Audit": "Audit", "Signed in as {name}": "Aangemeld als {name}", "Sign out": "Afmelden",
        "Sign in": "Aanmelden", "wijkflow · your municipality's data": "wijkflow · gegevens van uw gemeente",
    },
    "en": {
        "app": "wijkflow", "skip": "Skip to content", "nav_tasks": "My tasks", "nav_portfolio": "Portfolio",
        "nav_audit": "Audit", "signed_in_as": "Signed in as {name}", "sign_out": "Sign out",
        "tasks_title": "My tasks", "tasks_none": "Nothing is waiting for you now.",
        "tasks_intro": "What is waiting for you now, in the wijkaanpakken where you hold a role.",
        "tasks_approvals": "To approve", "tasks_signoffs": "To sign for a party",
        "tasks_deliverables": "To deliver", "tasks_deadlines": "Deadlines", "tasks_stalled": "Stalled phases",
        "tasks_advance": "Ready for the next phase", "tasks_mine": "My wijkaanpakken",
        "tasks_no_aanpakken": "You hold no role in a wijkaanpak yet.",
        "deadline_overdue": "overdue since {date}", "deadline_soon": "due {date}",
        "stalled_line": "{days} days in {phase} (normally at most {max} days)",
        "approve": "Approve", "sign": "Sign", "complete": "Deliver", "advance": "Move to the next phase",
        "measure": "Record a measurement", "open": "Open", "roles": "Roles", "phase": "Phase", "wijk": "Wijk",
        "gemeente": "Municipality", "days_in_phase": "Days in phase", "since": "In this phase since",
        "status": "Status", "stalled": "stalled", "name": "Name", "role": "Role",
        "timeline": "Phase timeline", "gate": "Gate", "gate_to": "Gate to {phase}",
        "gate_open": "open: every criterion is met", "gate_closed": "not open yet",
        "criterion": "Criterion", "met": "met", "not_met": "not met", "optional": "optional",
        "why": "Why", "by": "By", "date": "Date", "evidence": "Evidence", "comment": "Comment",
        "reason": "Reason", "gates_passed": "Gates passed", "indicators": "Indicators",
        "no_indicators": "No indicators yet.", "baseline": "baseline", "target": "target",
        "measurements": "measurements", "history": "History", "no_history": "No events yet.",
        "when": "When", "who": "Who", "what": "What", "why_evidence": "Why / evidence",
        "people": "People", "vacant": "vacant", "no_gates": "This is the last phase: there is no gate left.",
        "history_more": "The {n} newest of {total} events; the whole history is in the audit.",
        "you_can": "What you can do now", "nothing_to_do": "There is nothing for you to do here now.",
        "confirm_title": "Confirm",
        "confirm_complete": "You deliver ‘{criterion}’ for {aanpak}.",
        "confirm_approve": "You approve ‘{criterion}’ for {aanpak}.",
        "confirm_approves": "With it you approve ‘{deliverable}’, delivered with evidence: {evidence}",
        "confirm_sign": "You sign ‘{criterion}’ for {aanpak} on behalf of the party you choose below.",
        "confirm_measure": "You record a measurement on an indicator of {aanpak}.",
        "confirm_advance": "You move {aanpak} from {source} to {dest}.",
        "confirm_advance_refused": "The gate to {dest} is not open yet; if you try anyway, wijkflow refuses "
                                   "and nothing is recorded.",
        "confirm_written": "This is recorded in the history under your name and cannot be undone "
                           "(only corrected, by a new event).",
        "do_complete": "Yes, deliver", "do_approve": "Yes, approve", "do_sign": "Yes, sign",
        "do_measure": "Yes, record it", "do_advance": "Yes, move on", "cancel": "Cancel",
        "party": "Party", "indicator": "Indicator", "value": "Value", "measured_on": "Date of the measurement",
        "source": "Source", "to_phase": "To phase", "optional_field": "(optional)",
        "evidence_hint": "A link or a short description of the document.",
        "done_completed": "Delivered. It is in the history.", "done_approved": "Approved. It is in the history.",
        "done_signed": "Signed. It is in the history.",
        "done_measured": "The measurement is recorded.", "done_advanced": "The aanpak moved to the next phase.",
        "error_title": "That did not work", "error_NotAllowed": "You may not do this.",
        "error_GateNotMet": "The gate is not open yet: these criteria are not met.",
        "error_InvalidInput": "The input is not right.",
        "error_Conflict": "Someone else was first, or it is done already.",
        "error_NotFound": "Not found.", "error_other": "Something went wrong.",
        "nothing_written": "Nothing was recorded.", "details": "What wijkflow says",
        "blocked_role": "Only someone with the {role} role on this aanpak can do this.",
        "blocked_own": "You delivered ‘{label}’ yourself; someone else with the {role} role must approve it "
                       "(four-eyes).",
        "blocked_not_completed": "‘{label}’ is not delivered yet: there is nothing to approve.",
        "blocked_signed": "You already signed here for a party; each party signs through a different person.",
        "blocked_closed": "This aanpak is closed or stopped and no longer changes.",
        "blocked_status": "This aanpak is suspended.",
        "blocked_auditor": "You are an auditor: auditors read everything and change nothing.",
        "blocked_done": "This criterion is met already.",
        "forbidden": "You have no access to this.",
        "portfolio_title": "Portfolio", "filter": "Filter", "all": "all", "only_stalled": "only stalled",
        "aanpakken_count": "{n} wijkaanpakken", "no_aanpakken": "No wijkaanpakken found.",
        "audit_title": "Audit", "audit_query": "Search events", "audit_type": "Event type",
        "audit_actor": "By (email)", "audit_since": "From", "audit_until": "Up to and including", "search": "Search",
        "audit_export": "Download as CSV", "audit_bundle": "Download the audit bundle (zip)",
        "audit_bundle_hint": "The bundle is what `wijkflow audit export --bundle` writes: the chosen events with "
                             "their proofs, a signed checkpoint, the key and a standalone verifier "
                             "(python3 verify.py).", "audit_verify": "Checking the history",
        "audit_verify_ok": "The history verifies: {n} events checked, nothing altered.",
        "audit_head": "Chain head (keep it outside the database)", "audit_root": "Merkle root",
        "audit_verify_run": "Check now", "audit_none": "No events found.",
        "audit_shown": "The first {n} events found; the CSV holds them all.",
        "aanpak": "Wijkaanpak", "type": "Type", "footer": "wijkflow · your municipality's data",
        "not_found": "This page does not exist.", "days_n": "{n} days", "now": "now",
        "status_active": "active", "status_suspended": "suspended", "status_stopped": "stopped",
        "all_types": "all types", "plan": "Neighbourhood development plan", "strengths": "Strengths",
        "bottlenecks": "Bottlenecks", "agenda": "Agenda", "interpretations": "Reading the figures",
    },
}


class Texts:
    """t("key", **params): the page chrome in one locale (a missing key fails loudly in tests)."""

    def __init__(self, locale: str) -> None:
        self.locale = normal_locale(locale)
        self.words = TEXTS[self.locale]

    def __call__(self, key: str, /, **params: Any) -> str:
        text = self.words.get(key)
        if text is None:  # the catalogue's (English msgid) texts, as web/app.py's page() gives them
            return t(self.locale, key, **params)
        return text.format(**params) if params else text


def _with_locale(fn: Any) -> Any:
    """A filter that writes something the local way, reading the page's locale from the context."""
    jinja2 = templating.jinja()

    @jinja2.pass_context
    def filter_(context: Any, value: Any, *args: Any) -> Any:
        return fn(value, context.get("lang", "nl"), *args)

    return filter_


@cache
def environment() -> Any:
    jinja2 = templating.jinja()
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(TEMPLATES)),
                                    jinja2.FileSystemLoader(str(REPORT_TEMPLATES))]),
        undefined=jinja2.StrictUndefined, autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["day"] = _with_locale(lambda iso, loc: templating.iso_text(iso[:10], loc) if iso else "")
    env.filters["moment"] = _with_locale(lambda iso, loc: templating.iso_text(iso, loc) if iso else "")
    # The report's macros call nl_date / nl_day / num: here they follow the visitor's locale.
    env.filters["nl_date"] = env.filters["moment"]
    env.filters["nl_day"] = env.filters["day"]
    env.filters["num"] = _with_locale(lambda v, loc: "" if v is None else templating.number(v, loc))
    env.filters["role"] = _with_locale(lambda role, loc: role_label(role, loc))
    env.filters["person"] = _with_locale(lambda name, loc: person_name(name, loc))
    return env


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> str:
    """The HTML of a page for this request's visitor (None when nobody is signed in)."""
    who = identity.visitor(request)
    locale = normal_locale(who.locale if who is not None else None)
    # The same names web/app.py's page() gives AUTH's templates, so both kinds share _base.html.j2.
    return str(environment().get_template(template).render(
        request=request, visitor=who, csrf_input=lambda: identity.csrf_input(request), t=Texts(locale), lang=locale,
        **context))


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(page(request, template, **context), status_code=status)
