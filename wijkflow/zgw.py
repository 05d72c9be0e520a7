"""Zaakgericht werken: a definition as a ZGW Catalogi zaaktype, an aanpak as a Zaken API zaak.

The shapes are those of the ZGW APIs (Catalogi API 1.3, Zaken API 1.5, as Open Zaak serves them;
tests/data/zgw/ pins the components and tests validate every document against them):

    zaaktype        the definition: identificatie NAME-vVERSION, omschrijving its label
    statustypen     one per phase in the definition's order (volgnummer 1, 2, ...), final phases
                    last, so the final phase is the eindstatus (the highest volgnummer); each lists as
                    checklistitems the deliverables and approvals of the gates INTO that phase
    roltypen        projectleider (behandelaar), coördinator (zaakcoordinator), approver (beslisser)
    resultaattypen  Afgesloten (the final phase reached) and Gestopt, with the selectielijstklasse,
                    archiefnominatie and archiefactietermijn of the definition's `archief:`

    zaak            the aanpak, with statussen (its creation and every phase change, with the
                    moment and the reason as toelichting), rollen (everyone holding a role),
                    zaakobjecten (its CBS gemeente, wijk and buurt codes) and, once closed, resultaat

Bijsturen (monitor -> execute) has no counterpart in a zaaktype's ordered statustypen: the zaak
gets the earlier status again, a new STATUS of an earlier STATUSTYPE, which the Zaken API allows.

URLs: a zaaktype and a zaak refer to each other by URL. wijkflow makes them under a base URL
(the Catalogi/Zaken API they are meant for), each ending in a UUID derived from the base URL
and what the resource is (uuid5), so exporting again gives the same URLs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from .definitions import ArchiefRegime, Definition
from .errors import InvalidInput
from .i18n import t
from .roles import role_label

GENERIC_ROLE = {"projectleider": "behandelaar", "coordinator": "zaakcoordinator", "approver": "beslisser"}
RESULTS = {"afgesloten": "Afgesloten", "gestopt": "Gestopt"}


@dataclass(frozen=True)
class Urls:
    """Where the resources live: the Catalogi and Zaken APIs under one base URL."""

    base: str
    catalogus: str | None = None

    def _uuid(self, *parts: object) -> str:
        return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, self.base), "/".join(map(str, parts))))

    def catalogi(self, resource: str, *parts: object) -> str:
        return f"{self.base.rstrip('/')}/catalogi/api/v1/{resource}/{self._uuid(resource, *parts)}"

    def zaken(self, resource: str, *parts: object) -> str:
        return f"{self.base.rstrip('/')}/zaken/api/v1/{resource}/{self._uuid(resource, *parts)}"

    def catalogus_url(self) -> str:
        return self.catalogus or self.catalogi("catalogussen", "wijkflow")

    def zaaktype(self, d: Definition) -> str:
        return self.catalogi("zaaktypen", d.name, d.version)

    def statustype(self, d: Definition, phase: str) -> str:
        return self.catalogi("statustypen", d.name, d.version, phase)

    def roltype(self, d: Definition, role: str) -> str:
        return self.catalogi("roltypen", d.name, d.version, role)

    def resultaattype(self, d: Definition, result: str) -> str:
        return self.catalogi("resultaattypen", d.name, d.version, result)


def check_base_url(url: str, what: str = "--base-url") -> str:
    url = (url or "").strip()
    if not (url.startswith("https://") or url.startswith("http://")) or " " in url or len(url) > 150:
        raise InvalidInput(f"{what} '{url}' is not an http(s) URL of at most 150 characters.")
    return url.rstrip("/")


def days(n: int | None) -> str | None:
    return f"P{n}D" if n else None


def phase_order(d: Definition) -> list[str]:
    """The phases as statustypen: in the definition's order, final phases last (the eindstatus)."""
    return [p.key for p in d.phases if not p.final] + [p.key for p in d.phases if p.final]


def regimes(d: Definition, *, selectielijstklasse: str | None = None,
            resultaattypeomschrijving: str | None = None) -> dict[str, dict[str, Any]]:
    """Per result (afgesloten, gestopt) its archive regime: the definition's `archief:`, the options
    filling in what it leaves out. Refused when the Catalogi API's required URLs are missing."""
    if d.archief is None:
        raise InvalidInput(f"Workflow {d.ref} states no archief (archiefnominatie, bewaartermijn); add an "
                           "`archief:` block to the definition to export it as a zaaktype.")
    out = {}
    for key, regime in (("afgesloten", d.archief), ("gestopt", d.archief.gestopt or d.archief)):
        klasse = regime.selectielijstklasse or d.archief.selectielijstklasse or selectielijstklasse
        omschrijving = (regime.resultaattypeomschrijving or d.archief.resultaattypeomschrijving
                        or resultaattypeomschrijving)
        if not klasse or not omschrijving:
            missing = "selectielijstklasse" if not klasse else "resultaattypeomschrijving"
            raise InvalidInput(f"Workflow {d.ref} states no archief {missing} (a URL in the Selectielijst API); "
                               f"add it to the definition or give --{missing} URL.")
        out[key] = {"regime": regime, "selectielijstklasse": klasse, "resultaattypeomschrijving": omschrijving}
    return out


def zaaktype_documents(d: Definition, urls: Urls, *, today: date, selectielijstklasse: str | None = None,
                       resultaattypeomschrijving: str | None = None) -> dict[str, dict[str, Any]]:
    """file name -> document: the zaaktype and its statustypen, roltypen and resultaattypen."""
    results = regimes(d, selectielijstklasse=selectielijstklasse,
                      resultaattypeomschrijving=resultaattypeomschrijving)
    zaaktype = urls.zaaktype(d)
    order = phase_order(d)
    docs: dict[str, dict[str, Any]] = {}
    for number, key in enumerate(order, start=1):
        phase = d.phase(key)
        assert phase is not None
        docs[f"statustypen/{number:02d}-{key}.json"] = {
            "url": urls.statustype(d, key), "omschrijving": phase.label[:80], "omschrijvingGeneriek": key[:80],
            "statustekst": (phase.description or phase.label)[:1000], "zaaktype": zaaktype,
            "volgnummer": number, "isEindstatus": number == len(order), "informeren": False,
            "doorlooptijd": days(phase.max_days), "toelichting": None,
            "checklistitemStatustype": list(_checklist(d, key)),
        }
    for role in ("projectleider", "coordinator", "approver"):
        docs[f"roltypen/{role}.json"] = {
            "url": urls.roltype(d, role), "zaaktype": zaaktype, "omschrijving": role_label(role, "nl")[:100],
            "omschrijvingGeneriek": GENERIC_ROLE[role]}
    for key, r in results.items():
        regime: ArchiefRegime = r["regime"]
        docs[f"resultaattypen/{key}.json"] = {
            "url": urls.resultaattype(d, key), "zaaktype": zaaktype, "omschrijving": RESULTS[key],
            "resultaattypeomschrijving": r["resultaattypeomschrijving"],
            "selectielijstklasse": r["selectielijstklasse"],
            "toelichting": "De wijkaanpak is afgesloten." if key == "afgesloten"
            else "De wijkaanpak is gestopt voordat hij werd afgesloten.",
            "archiefnominatie": regime.archiefnominatie, "archiefactietermijn": regime.bewaartermijn,
            "brondatumArchiefprocedure": {"afleidingswijze": "afgehandeld", "datumkenmerk": "",
                                          "einddatumBekend": False, "objecttype": "", "registratie": "",
                                          "procestermijn": None}}
    total = sum(p.max_days or 0 for p in d.phases if not p.final)
    docs["zaaktype.json"] = {
        "url": zaaktype, "identificatie": f"{d.name}-v{d.version}"[:50], "omschrijving": d.label[:80],
        "omschrijvingGeneriek": "wijkaanpak", "vertrouwelijkheidaanduiding": "intern",
        "doel": (d.description or d.label).strip(),
        "aanleiding": "Een wijk waar problemen zich opstapelen vraagt om een samenhangende aanpak.",
        "toelichting": f"Uit wijkflow: {d.ref}. Fasen: " + " → ".join(d.phase_label(k) for k in order) + ".",
        "indicatieInternOfExtern": "intern", "handelingInitiator": "starten", "onderwerp": d.label[:80],
        "handelingBehandelaar": "uitvoeren", "doorlooptijd": days(total) or "P0D", "servicenorm": None,
        "opschortingEnAanhoudingMogelijk": True, "verlengingMogelijk": False, "verlengingstermijn": None,
        "trefwoorden": ["wijkaanpak"], "publicatieIndicatie": False, "publicatietekst": "",
        "verantwoordingsrelatie": [], "productenOfDiensten": [],
        "referentieproces": {"naam": (d.source_document or d.label)[:80]},
        "verantwoordelijke": "projectleider wijkaanpak", "beginGeldigheid": today.isoformat(),
        "eindeGeldigheid": None, "versiedatum": today.isoformat(), "catalogus": urls.catalogus_url(),
        "statustypen": [docs[f"statustypen/{n:02d}-{k}.json"]["url"] for n, k in enumerate(order, start=1)],
        "resultaattypen": [urls.resultaattype(d, k) for k in results],
        "roltypen": [urls.roltype(d, r) for r in GENERIC_ROLE],
        "eigenschappen": [], "informatieobjecttypen": [], "besluittypen": [], "deelzaaktypen": [],
        "gerelateerdeZaaktypen": [], "zaakobjecttypen": [],
    }
    return docs


def _checklist(d: Definition, phase: str) -> Iterable[dict[str, Any]]:
    """What must be checked before reaching `phase`: the deliverables and approvals on the gates into it."""
    seen: set[str] = set()
    for transition in d.transitions:
        if transition.dest != phase:
            continue
        for key in transition.gate:
            c = d.criteria[key]
            if key in seen or c.kind not in ("deliverable", "approval"):
                continue
            seen.add(key)
            item = {"itemnaam": key[:30], "vraagstelling": c.label[:255], "verplicht": not c.optional}
            if c.description:
                item["toelichting"] = c.description[:1000]
            yield item


def zaak_documents(d: Definition, urls: Urls, aanpak: dict[str, Any], *, rsin: str) -> dict[str, dict[str, Any]]:
    """file name -> document: the zaak of one aanpak (as services.zgw.aanpak_for_zaak reads it)."""
    zaak = urls.zaken("zaken", aanpak["slug"], aanpak["id"])
    order = phase_order(d)
    final = d.is_final(aanpak["phase"])
    docs: dict[str, dict[str, Any]] = {}
    previous: int | None = None
    for n, change in enumerate(aanpak["phase_changes"], start=1):
        number = order.index(change["phase"]) + 1 if change["phase"] in order else None
        again = previous is not None and number is not None and number <= previous
        text = change["reason"] or ""
        if again:
            text = f"Bijsturen: terug naar {d.phase_label(change['phase'])}" + (f". {text}" if text else ".")
        docs[f"statussen/{n:03d}.json"] = {
            "url": urls.zaken("statussen", aanpak["slug"], n), "zaak": zaak,
            "statustype": urls.statustype(d, change["phase"]), "datumStatusGezet": change["at"],
            "statustoelichting": text[:1000]}
        previous = number
    for n, holder in enumerate(aanpak["people"], start=1):
        docs[f"rollen/{n:02d}-{holder['role']}.json"] = {
            "url": urls.zaken("rollen", aanpak["slug"], holder["role"], holder["id"]), "zaak": zaak,
            "betrokkeneType": "medewerker", "roltype": urls.roltype(d, holder["role"]),
            "roltoelichting": role_label(holder["role"], "nl"),
            "betrokkeneIdentificatie": {"identificatie": f"wijkflow-{holder['id']}"[:24],
                                        "achternaam": (holder["name"] or t("nl", "(forgotten person)"))[:200]}}
    for n, (kind, ident) in enumerate(_objects(aanpak), start=1):
        docs[f"zaakobjecten/{n:02d}-{kind}.json"] = {
            "url": urls.zaken("zaakobjecten", aanpak["slug"], kind, n), "zaak": zaak, "objectType": kind,
            "relatieomschrijving": "gebied van de wijkaanpak", "objectIdentificatie": ident}
    archief = d.archief
    zaak_doc: dict[str, Any] = {
        "url": zaak, "identificatie": aanpak["slug"][:40], "bronorganisatie": rsin,
        "omschrijving": aanpak["name"][:80],
        "toelichting": f"Wijkaanpak {aanpak['name']} in {aanpak['wijk']}"
                       + (f", gemeente {aanpak['gemeente']}" if aanpak["gemeente"] else "") + f" ({d.ref}).",
        "zaaktype": urls.zaaktype(d), "registratiedatum": aanpak["created_on"],
        "verantwoordelijkeOrganisatie": rsin, "startdatum": aanpak["created_on"],
        "vertrouwelijkheidaanduiding": "intern", "archiefstatus": "nog_te_archiveren",
        "archiefnominatie": archief.archiefnominatie if final and archief else None,
        "archiefactiedatum": aanpak["archief"]["date"] if final and aanpak.get("archief") else None,
    }
    docs["zaak.json"] = zaak_doc
    if final:
        docs["resultaat.json"] = {"url": urls.zaken("resultaten", aanpak["slug"]), "zaak": zaak,
                                  "resultaattype": urls.resultaattype(d, "afgesloten"),
                                  "toelichting": f"Afgesloten in fase {d.phase_label(aanpak['phase'])}."}
    return docs


def _objects(aanpak: dict[str, Any]) -> Iterable[tuple[str, dict[str, str]]]:
    areas = aanpak["areas"]
    gm = areas.get("gemeente_code")
    if gm:
        yield "gemeente", {"gemeenteNaam": (areas.get("gemeente_naam") or aanpak["gemeente"] or gm)[:80],
                           "gemeenteCode": gm[2:]}
    wk = areas.get("wijk_code")
    if wk:
        yield "wijk", {"wijkCode": wk[6:8], "wijkNaam": aanpak["wijk"][:40], "gemGemeenteCode": wk[2:6]}
    for bu in areas.get("buurt_codes", []):
        yield "buurt", {"buurtCode": bu[8:10], "buurtNaam": bu, "gemGemeenteCode": bu[2:6], "wykWijkCode": bu[6:8]}
